/* tests/unit/test-fatimg.c — the FAT32 writer, read back by dosfstools and mtools (the readers
 * firmware-compatible tools trust): every file with its bytes and its name's case, a clean fsck,
 * the label and serial in the boot sector, the same bytes for the same input, names refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "medium/fatimg.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "tmpdir.h"

#define EPOCH 1700000000

static char big[300000]; /* several clusters, not a multiple of the cluster size */

static int produce(int fd, uint64_t off, void *userdata) {
        return tb_pwrite_all(fd, userdata, strlen(userdata), (off_t)off);
}

/* A sample tree: a short upper-case name, long mixed-case names, a nested directory, an empty
 * directory, a file from disk, bytes, a producer. */
static tb_fat *sample(const char *dir) {
        tb_fat *fat = NULL;
        char src[512];

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char)('a' + i % 23);
        snprintf(src, sizeof(src), "%s/big.src", dir);
        if (!tb_path_exists(src))
                assert_int_equal(tb_write_file_new(src, big, sizeof(big), 0644), 0);
        assert_int_equal(tb_fat_new(&fat), 0);
        assert_int_equal(tb_fat_add_data(fat, "/EFI/BOOT/BOOTX64.EFI", "boot loader", 11), 0);
        assert_int_equal(tb_fat_add_file(fat, "EFI/trustboot/norole_Debug Mode.efi", src), 0);
        assert_int_equal(tb_fat_add_producer(fat, "loader/loader.conf", 10, produce, (void *)"timeout 3\n"), 0);
        assert_int_equal(tb_fat_add_dir(fat, "loader/keys/auto"), 0);
        assert_int_equal(tb_fat_add_data(fat, "empty.txt", "", 0), 0);
        return fat;
}

static int64_t write_image(tb_fat *fat, const char *path, const tb_fat_options *o) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int64_t size;

        assert_true(fd >= 0);
        size = tb_fat_write(fat, fd, o);
        close(fd);
        return size;
}

static void mtype(const char *img, const char *path, tb_buf *out) {
        char spec[512];
        const char *const argv[] = { "mtype", "-i", img, spec, NULL };

        snprintf(spec, sizeof(spec), "::%s", path);
        out->len = 0;
        assert_int_equal(tb_exec(argv, out, NULL), 0);
}

static void files_read_back_with_mtools_and_fsck_is_clean(void **state) {
        char dir[256], img[512];
        const tb_fat_options o = { .label = "esp", .volume_id = 0x1234abcd, .epoch = EPOCH };
        tb_fat *fat;
        tb_buf out = TB_BUF_INIT;
        int64_t size;
        struct stat st;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "fatimg");
        snprintf(img, sizeof(img), "%s/esp.img", dir);
        fat = sample(dir);
        size = write_image(fat, img, &o);
        assert_true(size > 0);
        assert_int_equal(stat(img, &st), 0);
        assert_int_equal(st.st_size, size);
        assert_int_equal(tb_fat_plan(fat, &o), size);

        const char *const fsck[] = { "fsck.vfat", "-n", img, NULL };
        assert_int_equal(tb_exec(fsck, &out, NULL), 0);

        mtype(img, "/EFI/BOOT/BOOTX64.EFI", &out);
        assert_int_equal(out.len, 11);
        assert_memory_equal(out.data, "boot loader", 11);
        mtype(img, "/EFI/trustboot/norole_Debug Mode.efi", &out);
        assert_int_equal(out.len, sizeof(big));
        assert_memory_equal(out.data, big, sizeof(big));
        mtype(img, "/loader/loader.conf", &out);
        assert_int_equal(out.len, 10);
        assert_memory_equal(out.data, "timeout 3\n", 10);

        /* The long name keeps its case; the directory nobody put a file in exists. */
        const char *const ls[] = { "mdir", "-b", "-i", img, "::/EFI/trustboot", NULL };
        out.len = 0;
        assert_int_equal(tb_exec(ls, &out, NULL), 0);
        assert_non_null(memmem(out.data, out.len, "norole_Debug Mode.efi", 21));
        const char *const ls2[] = { "mdir", "-i", img, "::/loader/keys/auto", NULL };
        assert_int_equal(tb_exec(ls2, NULL, NULL), 0);

        tb_fat_free(fat);
        tb_buf_free(&out);
        tb_test_tmpdir_remove(dir);
}

static void boot_sector_holds_the_label_and_serial_given(void **state) {
        char dir[256], img[512];
        const tb_fat_options o = { .label = "esp", .volume_id = 0x1234abcd, .epoch = EPOCH };
        tb_fat *fat;
        tb_buf b = TB_BUF_INIT;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "fatimg");
        snprintf(img, sizeof(img), "%s/esp.img", dir);
        fat = sample(dir);
        assert_true(write_image(fat, img, &o) > 0);
        assert_int_equal(tb_read_file(img, 1 << 26, &b), 0);
        assert_int_equal(b.data[510], 0x55);
        assert_int_equal(b.data[511], 0xaa);
        assert_int_equal(tb_get_u32le(b.data + 67), 0x1234abcd);
        assert_memory_equal(b.data + 71, "ESP        ", 11);
        assert_memory_equal(b.data + 82, "FAT32   ", 8);
        tb_fat_free(fat);
        tb_buf_free(&b);
        tb_test_tmpdir_remove(dir);
}

static void same_input_same_bytes_and_free_space_grows_the_image(void **state) {
        char dir[256], a[512], b[512];
        tb_fat_options o = { .volume_id = 7, .epoch = EPOCH };
        tb_buf da = TB_BUF_INIT, db = TB_BUF_INIT;
        tb_fat *f1, *f2;
        int64_t s1, s2;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "fatimg");
        snprintf(a, sizeof(a), "%s/a.img", dir);
        snprintf(b, sizeof(b), "%s/b.img", dir);
        f1 = sample(dir);
        f2 = sample(dir);
        s1 = write_image(f1, a, &o);
        s2 = write_image(f2, b, &o);
        assert_int_equal(s1, s2);
        assert_int_equal(tb_read_file(a, 1 << 26, &da), 0);
        assert_int_equal(tb_read_file(b, 1 << 26, &db), 0);
        assert_memory_equal(da.data, db.data, da.len);

        /* FAT32 has a minimum size, so ask for more free space than the whole image had. */
        o.free_bytes = (uint64_t)s1 + (1u << 20);
        assert_true(tb_fat_plan(f1, &o) >= (int64_t)o.free_bytes + (int64_t)sizeof(big));
        tb_fat_free(f1);
        tb_fat_free(f2);
        tb_buf_free(&da);
        tb_buf_free(&db);
        tb_test_tmpdir_remove(dir);
}

static void names_fat_cannot_hold_are_refused(void **state) {
        char longname[260];
        tb_fat *fat = NULL;
        (void)state;

        assert_int_equal(tb_fat_name_valid("norole.efi"), 0);
        assert_int_equal(tb_fat_name_valid("with space and-dash_1.conf"), 0);
        assert_int_equal(tb_fat_name_valid(""), -EINVAL);
        assert_int_equal(tb_fat_name_valid(".."), -EINVAL);
        assert_int_equal(tb_fat_name_valid("a:b"), -EINVAL);
        assert_int_equal(tb_fat_name_valid("a*"), -EINVAL);
        assert_int_equal(tb_fat_name_valid("trailing."), -EINVAL);
        assert_int_equal(tb_fat_name_valid("tab\there"), -EINVAL);
        assert_int_equal(tb_fat_name_valid("caf\xc3\xa9"), -EINVAL);
        memset(longname, 'x', 255);
        longname[255] = 0;
        assert_int_equal(tb_fat_name_valid(longname), 0);
        longname[255] = 'x';
        longname[256] = 0;
        assert_int_equal(tb_fat_name_valid(longname), -EINVAL);

        assert_int_equal(tb_fat_new(&fat), 0);
        assert_int_equal(tb_fat_add_data(fat, "EFI/a?.efi", "x", 1), -EINVAL);
        assert_int_equal(tb_fat_add_data(fat, "EFI/a.efi", "x", 1), 0);
        /* FAT is case-insensitive: the same name in another case is the same file. */
        assert_int_equal(tb_fat_add_data(fat, "efi/A.EFI", "y", 1), -EEXIST);
        assert_int_equal(tb_fat_add_data(fat, "EFI/a.efi/x", "y", 1), -ENOTDIR);
        assert_int_equal(tb_fat_add_data(fat, "/", "y", 1), -EINVAL);
        tb_fat_free(fat);
}

/* ---- the pinned layout: a file placed before the sizes are final ---- */

#define MIB ((uint64_t)1 << 20)
#define UKI "EFI/trustboot/norole.efi"

static const uint8_t loader[] = "timeout 5\n";
static uint8_t sdboot[100000];

static int write_pattern(int fd, uint64_t off, void *userdata) {
        uint64_t size = *(uint64_t *)userdata;
        uint8_t buf[4096];

        memset(buf, 0xA5, sizeof(buf));
        for (uint64_t done = 0; done < size; done += sizeof(buf)) {
                int r = tb_pwrite_all(fd, buf, (size_t)(size - done < sizeof(buf) ? size - done : sizeof(buf)),
                                      (off_t)(off + done));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An ESP like build-uki's: systemd-boot, two UKIs of SIZE bytes, a loader file. */
static tb_fat *esp(uint64_t *size) {
        tb_fat *fat = NULL;

        assert_int_equal(tb_fat_new(&fat), 0);
        assert_int_equal(tb_fat_add_data(fat, "EFI/BOOT/BOOTX64.EFI", sdboot, sizeof(sdboot)), 0);
        assert_int_equal(tb_fat_add_producer(fat, UKI, *size, write_pattern, size), 0);
        assert_int_equal(tb_fat_add_producer(fat, "EFI/trustboot/norole_x.efi", *size, write_pattern, size), 0);
        assert_int_equal(tb_fat_add_data(fat, "loader/loader.conf", loader, sizeof(loader) - 1), 0);
        return fat;
}

static void pinned_file_lands_where_the_bound_said(void **state) {
        /* Bounds on either side of the switch from 512-byte to 4 KiB clusters (256 MiB), real
         * sizes from tiny to the bound itself. */
        static const uint64_t bounds[] = { 20 * MIB, 200 * MIB, 700 * MIB, 3000 * MIB / 2 };
        static const uint64_t reals[] = { 1000, 5 * MIB, 120 * MIB, 126 * MIB, 140 * MIB, 600 * MIB, 750 * MIB };
        tb_fat_options o = { .label = "EFIBOOT", .epoch = 1700000000 };
        (void)state;

        for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
                uint64_t bound = bounds[i];
                _cleanup_(tb_fat_freep) tb_fat *b = esp(&bound);
                int64_t pin = tb_fat_pin_bound(b, &o, UKI);

                assert_true(pin > 0);
                assert_int_equal(pin % 512, 0);
                for (size_t j = 0; j < sizeof(reals) / sizeof(reals[0]); j++) {
                        uint64_t real = reals[j];
                        _cleanup_(tb_fat_freep) tb_fat *f = esp(&real);
                        tb_fat_options p = o;
                        int64_t size;

                        p.pin_path = UKI;
                        p.pin_offset = (uint64_t)pin;
                        size = tb_fat_plan(f, &p);
                        if (real > bound) { /* grew beyond the bound: refused, never misplaced */
                                assert_true(size == -ERANGE || tb_fat_file_offset(f, UKI) == pin);
                                continue;
                        }
                        assert_true(size > 0);
                        assert_int_equal(tb_fat_file_offset(f, UKI), pin);
                }
        }
}

static void pinned_image_is_a_valid_layout(void **state) {
        uint64_t bound = 300 * MIB, real = 3000;
        _cleanup_(tb_fat_freep) tb_fat *b = esp(&bound), *f = esp(&real), *plain = esp(&real);
        tb_fat_options o = { .label = "EFIBOOT", .epoch = 1700000000 }, p = o;
        char path[] = "/tmp/test-fatimg.XXXXXX";
        uint8_t bs[512], data[3000], want[3000];
        int64_t pin, size, natural;
        int fd;
        (void)state;

        pin = tb_fat_pin_bound(b, &o, UKI);
        assert_true(tb_fat_plan(plain, &o) > 0);
        natural = tb_fat_file_offset(plain, UKI);
        assert_true(pin > natural); /* the bound's FAT is larger */

        fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        p.pin_path = UKI;
        p.pin_offset = (uint64_t)pin;
        size = tb_fat_write(f, fd, &p);
        assert_true(size > 0);
        /* The reserved area took the difference; the FAT follows it, the file is at the pin. */
        assert_int_equal(tb_pread_full(fd, bs, sizeof(bs), 0), 0);
        assert_int_equal(bs[14] | bs[15] << 8, 32 + (pin - natural) / 512);
        assert_int_equal(tb_pread_full(fd, data, sizeof(data), pin), 0);
        memset(want, 0xA5, sizeof(want));
        assert_memory_equal(data, want, sizeof(want));
        /* FAT[0] (media F8) right after the reserved sectors. */
        assert_int_equal(tb_pread_full(fd, bs, 4, (off_t)(32 * 512 + (pin - natural))), 0);
        assert_int_equal(bs[0], 0xF8);
        close(fd);
}

static void unpinned_layout_is_unchanged_by_pinning_support(void **state) {
        uint64_t real = 3000;
        _cleanup_(tb_fat_freep) tb_fat *f = esp(&real);
        tb_fat_options o = { .label = "EFIBOOT", .epoch = 1700000000 };
        (void)state;

        /* 32 reserved sectors, two FATs of 65541+2 entries (513 sectors), then the root (2), EFI,
         * loader, BOOT, trustboot (one cluster each), BOOTX64.EFI (196 clusters), the UKI. */
        assert_true(tb_fat_plan(f, &o) > 0);
        assert_int_equal(tb_fat_file_offset(f, UKI), (32 + 2 * 513 + 5 + 196) * 512);
        assert_int_equal(tb_fat_file_offset(f, "EFI/nothing.efi"), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(files_read_back_with_mtools_and_fsck_is_clean),
                cmocka_unit_test(boot_sector_holds_the_label_and_serial_given),
                cmocka_unit_test(same_input_same_bytes_and_free_space_grows_the_image),
                cmocka_unit_test(names_fat_cannot_hold_are_refused),
                cmocka_unit_test(pinned_file_lands_where_the_bound_said),
                cmocka_unit_test(pinned_image_is_a_valid_layout),
                cmocka_unit_test(unpinned_layout_is_unchanged_by_pinning_support),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
