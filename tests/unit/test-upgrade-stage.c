/* tests/unit/test-upgrade-stage.c — staging a new medium: only EFI/trustboot/norole* and
 * loader/entries/norole* are listed, each UKI copied and opened with its entry, systemd-boot and
 * loader.conf taken along; an ISO's ESP image is read through; a medium larger than the limit, a
 * UKI without its entry, or a flood of names is refused; the staging directory goes with _done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "node/upgrade-stage.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "tmpdir.h"

typedef struct fx {
        char dir[256], medium[400], work[400], source[420];
        tb_buf stub;
} fx;

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        const char *m;

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "upgrade-stage");
        snprintf(f->medium, sizeof(f->medium), "%s/medium", f->dir);
        snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
        snprintf(f->source, sizeof(f->source), "dir:%s", f->medium);
        tb_test_mkdir(f->dir, "medium");
        tb_test_mkdir(f->dir, "work");
        m = f->medium;
        tb_test_mkdir(m, "EFI");
        tb_test_mkdir(m, "EFI/BOOT");
        tb_test_mkdir(m, "EFI/trustboot");
        tb_test_mkdir(m, "EFI/other");
        tb_test_mkdir(m, "loader");
        tb_test_mkdir(m, "loader/entries");
        assert_int_equal(tb_read_file(TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub", 1 << 22, &f->stub), 0);
        tb_test_write(m, "EFI/trustboot/norole.efi", f->stub.data, f->stub.len);
        tb_test_write(m, "EFI/trustboot/norole_debug.efi", f->stub.data, f->stub.len);
        tb_test_write(m, "EFI/other/norole.efi", "elsewhere", 9);                 /* not in EFI/trustboot */
        tb_test_write(m, "loader/entries/norole.conf", "title t\nefi /EFI/trustboot/norole.efi\n", 38);
        tb_test_write(m, "loader/entries/norole_debug.conf", "title d\n", 8);
        tb_test_write(m, "loader/entries/active.conf", "title a\n", 8);               /* not norole */
        tb_test_write(m, "EFI/BOOT/BOOTX64.EFI", "systemd-boot", 12);
        tb_test_write(m, "loader/loader.conf", "timeout 5\n", 10);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_test_tmpdir_remove(f->dir);
        tb_buf_free(&f->stub);
        free(f);
        return 0;
}

static bool has(char **v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static void a_medium_is_listed_staged_and_removed(void **state) {
        fx *f = *state;
        tb_upgrade_staged s = { 0 };
        char *const suffixes[] = { (char *)"", (char *)"_debug", NULL };
        const tb_upgrade_staged_uki *u;
        char *dir;
        tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_upgrade_stage_open(f->source, f->work, NULL, &s), 0);
        assert_non_null(s.dir);
        assert_int_equal(strncmp(s.dir, f->work, strlen(f->work)), 0);
        assert_int_equal(s.n_efi_names, 2);
        assert_true(has(s.efi_names, s.n_efi_names, "norole.efi"));
        assert_true(has(s.efi_names, s.n_efi_names, "norole_debug.efi"));
        assert_int_equal(s.n_conf_names, 2);
        assert_true(has(s.conf_names, s.n_conf_names, "norole_debug.conf"));
        assert_false(has(s.conf_names, s.n_conf_names, "active.conf"));

        assert_int_equal(tb_upgrade_stage_ukis(&s, suffixes), 0);
        assert_int_equal(s.n_ukis, 2);
        u = tb_upgrade_staged_find(&s, "_debug");
        assert_non_null(u);
        assert_non_null(u->pe);
        assert_int_equal(u->conf.len, 8);
        assert_memory_equal(u->conf.data, "title d\n", 8);
        assert_int_equal(tb_read_file(u->path, 1 << 22, &b), 0);
        assert_int_equal(b.len, f->stub.len);
        assert_memory_equal(b.data, f->stub.data, b.len);
        assert_null(tb_upgrade_staged_find(&s, "_other"));
        assert_non_null(s.sdboot);
        b.len = 0;
        assert_int_equal(tb_read_file(s.sdboot, 1 << 20, &b), 0);
        assert_memory_equal(b.data, "systemd-boot", 12);
        assert_int_equal(s.loader_conf.len, 10);
        assert_int_equal(s.staged, 2 * f->stub.len + 12);

        dir = strdup(s.dir);
        tb_upgrade_staged_done(&s);
        assert_false(tb_path_exists(dir));
        free(dir);
        tb_buf_free(&b);
}

static void an_iso_medium_is_read_through_its_esp_image(void **state) {
        fx *f = *state;
        tb_upgrade_staged s = { 0 };
        char *const suffixes[] = { (char *)"", NULL };
        char isodir[500], img[600], iso[500], src[700];

        /* The ESP as mkfs.vfat + mcopy make it, in an ISO as xorriso makes it. */
        snprintf(isodir, sizeof(isodir), "%s/isotree", f->dir);
        assert_int_equal(mkdir(isodir, 0755), 0);
        snprintf(img, sizeof(img), "%s/efiboot.img", isodir);
        snprintf(iso, sizeof(iso), "%s/medium.iso", f->dir);
        const char *const mkfs[] = { "mkfs.vfat", "-C", img, "4096", NULL };
        assert_int_equal(tb_exec_checked(mkfs, NULL), 0);
        snprintf(src, sizeof(src), "%s/EFI", f->medium);
        const char *const cp1[] = { "mcopy", "-s", "-i", img, src, "::/", NULL };
        assert_int_equal(tb_exec_checked(cp1, NULL), 0);
        snprintf(src, sizeof(src), "%s/loader", f->medium);
        const char *const cp2[] = { "mcopy", "-s", "-i", img, src, "::/", NULL };
        assert_int_equal(tb_exec_checked(cp2, NULL), 0);
        const char *const mkiso[] = { "xorriso", "-as", "mkisofs", "-quiet", "-o", iso, isodir, NULL };
        assert_int_equal(tb_exec_checked(mkiso, NULL), 0);

        assert_int_equal(tb_upgrade_stage_open(iso, f->work, NULL, &s), 0);
        assert_int_equal(s.n_efi_names, 2);
        assert_int_equal(tb_upgrade_stage_ukis(&s, suffixes), 0);
        assert_non_null(tb_upgrade_staged_find(&s, "")->pe);
        assert_non_null(s.sdboot);
        tb_upgrade_staged_done(&s);
}

static void beyond_the_limit_nothing_stays(void **state) {
        fx *f = *state;
        tb_upgrade_staged s = { .limit = 1000 };
        char *const suffixes[] = { (char *)"", NULL };
        char p[700];

        assert_int_equal(tb_upgrade_stage_open(f->source, f->work, NULL, &s), 0);
        assert_int_equal(s.limit, 1000);
        assert_int_equal(tb_upgrade_stage_ukis(&s, suffixes), -EFBIG);
        snprintf(p, sizeof(p), "%s/norole.efi", s.dir);
        assert_false(tb_path_exists(p)); /* the partial copy is removed */
        tb_upgrade_staged_done(&s);
}

static void a_uki_without_its_entry_is_not_a_medium(void **state) {
        fx *f = *state;
        tb_upgrade_staged s = { 0 };
        char *const suffixes[] = { (char *)"_debug", NULL };
        char p[700];

        snprintf(p, sizeof(p), "%s/loader/entries/norole_debug.conf", f->medium);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(tb_upgrade_stage_open(f->source, f->work, NULL, &s), 0);
        assert_int_equal(tb_upgrade_stage_ukis(&s, suffixes), -ENOENT);
        tb_upgrade_staged_done(&s);
}

static void a_flood_of_names_is_refused(void **state) {
        fx *f = *state;
        tb_upgrade_staged s = { 0 };
        char name[64];

        for (int i = 0; i < TB_UPGRADE_STAGE_MAX_NAMES; i++) {
                snprintf(name, sizeof(name), "loader/entries/norole_%d.conf", i);
                tb_test_write(f->medium, name, "x", 1);
        }
        assert_int_equal(tb_upgrade_stage_open(f->source, f->work, NULL, &s), -E2BIG);
        tb_upgrade_staged_done(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(a_medium_is_listed_staged_and_removed, setup, teardown),
                cmocka_unit_test_setup_teardown(an_iso_medium_is_read_through_its_esp_image, setup, teardown),
                cmocka_unit_test_setup_teardown(beyond_the_limit_nothing_stays, setup, teardown),
                cmocka_unit_test_setup_teardown(a_uki_without_its_entry_is_not_a_medium, setup, teardown),
                cmocka_unit_test_setup_teardown(a_flood_of_names_is_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
