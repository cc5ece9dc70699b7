/* tests/unit/test-iso.c — the installable ISO: the ESP image readable as /efiboot.img, named by El
 * Torito as an EFI no-emulation image and by an isohybrid GPT Basic Data entry at the same bytes;
 * the overlay at the root; a written-in-place ESP gives the same ISO as a file one; reproducible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "medium/iso.h"
#include "medium/isoread.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "tmpdir.h"

#define EPOCH 1700000000
#define ESP_SIZE (96u * 1024)

static uint8_t esp[ESP_SIZE];

/* The GPT's Basic Data type GUID as stored (mixed endian). */
static const uint8_t basic_data[16] = { 0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44,
                                        0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7 };

typedef struct fx {
        char dir[256], esp_path[512], overlay[512];
} fx;

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        char p[600];

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "iso");
        for (size_t i = 0; i < ESP_SIZE; i++)
                esp[i] = (uint8_t)(i * 7 + i / 512);
        snprintf(f->esp_path, sizeof(f->esp_path), "%s/efiboot.img", f->dir);
        assert_int_equal(tb_write_file_new(f->esp_path, esp, sizeof(esp), 0644), 0);
        snprintf(f->overlay, sizeof(f->overlay), "%s/overlay", f->dir);
        assert_int_equal(mkdir(f->overlay, 0755), 0);
        snprintf(p, sizeof(p), "%s/README.txt", f->overlay);
        assert_int_equal(tb_write_file_new(p, "install me\n", 11, 0644), 0);
        *state = f;
        return 0;
}

static void write_iso(const fx *f, const char *name, char *path, size_t size) {
        tb_iso_options o = { .volume_id = "UKI_ISO_INSTALL", .esp_image = f->esp_path,
                             .overlay_dir = f->overlay, .epoch = EPOCH };

        snprintf(path, size, "%s/%s", f->dir, name);
        assert_int_equal(tb_iso_write(&o, path), 0);
}

static int esp_in_place(int fd, uint64_t off, void *userdata) {
        (void)userdata;
        return tb_pwrite_all(fd, esp, sizeof(esp), (off_t)off);
}

static void esp_and_overlay_read_back(void **state) {
        fx *f = *state;
        char iso[600], out[600];
        tb_buf b = TB_BUF_INIT;

        write_iso(f, "a.iso", iso, sizeof(iso));
        snprintf(out, sizeof(out), "%s/esp.out", f->dir);
        assert_int_equal(tb_isoread_extract(iso, "/efiboot.img", out), 0);
        assert_int_equal(tb_read_file(out, 1 << 20, &b), 0);
        assert_int_equal(b.len, ESP_SIZE);
        assert_memory_equal(b.data, esp, ESP_SIZE);
        snprintf(out, sizeof(out), "%s/readme.out", f->dir);
        assert_int_equal(tb_isoread_extract(iso, "/README.txt", out), 0);
        b.len = 0;
        assert_int_equal(tb_read_file(out, 1 << 20, &b), 0);
        assert_memory_equal(b.data, "install me\n", 11);
        tb_buf_free(&b);
}

static void el_torito_and_gpt_point_at_the_esp(void **state) {
        fx *f = *state;
        char iso[600];
        tb_buf b = TB_BUF_INIT, rep = TB_BUF_INIT;
        uint64_t entries_lba;
        uint32_t n_entries, entry_size;
        bool found = false;

        write_iso(f, "a.iso", iso, sizeof(iso));
        const char *const argv[] = { "xorriso", "-indev", iso, "-report_el_torito", "plain", NULL };
        assert_int_equal(tb_exec(argv, &rep, &rep), 0);
        assert_non_null(memmem(rep.data, rep.len, "UEFI", 4));
        assert_non_null(memmem(rep.data, rep.len, "none", 4)); /* no emulation */

        assert_int_equal(tb_read_file(iso, 1 << 24, &b), 0);
        assert_memory_equal(b.data + 512, "EFI PART", 8);
        entries_lba = tb_get_u64le(b.data + 512 + 72);
        n_entries = tb_get_u32le(b.data + 512 + 80);
        entry_size = tb_get_u32le(b.data + 512 + 84);
        for (uint32_t i = 0; i < n_entries; i++) {
                const uint8_t *e = b.data + entries_lba * 512 + (uint64_t)i * entry_size;
                uint64_t first = tb_get_u64le(e + 32), last = tb_get_u64le(e + 40);

                if (memcmp(e, basic_data, 16) != 0)
                        continue;
                assert_true((last + 1) * 512 <= b.len);
                assert_true((last - first + 1) * 512 >= ESP_SIZE);
                assert_memory_equal(b.data + first * 512, esp, ESP_SIZE);
                found = true;
        }
        assert_true(found);
        tb_buf_free(&b);
        tb_buf_free(&rep);
}

static void esp_written_in_place_gives_the_same_iso_and_reruns_too(void **state) {
        fx *f = *state;
        char a[600], b[600], c[600];
        tb_buf da = TB_BUF_INIT, db = TB_BUF_INIT, dc = TB_BUF_INIT;
        tb_iso_options o = { .volume_id = "UKI_ISO_INSTALL", .esp_size = ESP_SIZE, .esp_write = esp_in_place,
                             .overlay_dir = f->overlay, .epoch = EPOCH };

        write_iso(f, "a.iso", a, sizeof(a));
        write_iso(f, "b.iso", b, sizeof(b));
        snprintf(c, sizeof(c), "%s/c.iso", f->dir);
        assert_int_equal(tb_iso_write(&o, c), 0);
        assert_int_equal(tb_read_file(a, 1 << 24, &da), 0);
        assert_int_equal(tb_read_file(b, 1 << 24, &db), 0);
        assert_int_equal(tb_read_file(c, 1 << 24, &dc), 0);
        assert_int_equal(da.len, db.len);
        assert_memory_equal(da.data, db.data, da.len);
        assert_int_equal(da.len, dc.len);
        assert_memory_equal(da.data, dc.data, da.len);
        tb_buf_free(&da);
        tb_buf_free(&db);
        tb_buf_free(&dc);
}

static void an_esp_of_4_gib_is_refused_and_nothing_written(void **state) {
        fx *f = *state;
        char out[600];
        tb_iso_options o = { .volume_id = "X", .esp_size = 4ull << 30, .esp_write = esp_in_place, .epoch = EPOCH };

        snprintf(out, sizeof(out), "%s/big.iso", f->dir);
        assert_int_equal(tb_iso_write(&o, out), -EFBIG);
        assert_false(tb_path_exists(out));

        o.esp_write = NULL;
        o.esp_image = "/nonexistent/efiboot.img";
        assert_int_equal(tb_iso_write(&o, out), -ENOENT);
        assert_false(tb_path_exists(out));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(esp_and_overlay_read_back, setup, tb_test_fixture_teardown),
                cmocka_unit_test_setup_teardown(el_torito_and_gpt_point_at_the_esp, setup, tb_test_fixture_teardown),
                cmocka_unit_test_setup_teardown(esp_written_in_place_gives_the_same_iso_and_reruns_too, setup, tb_test_fixture_teardown),
                cmocka_unit_test_setup_teardown(an_esp_of_4_gib_is_refused_and_nothing_written, setup, tb_test_fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
