/* tests/unit/test-install.c — the installer's pure parts: the ESP sized from the medium (the
 * formula of install.h, in MiB), the configured size checked against its minimum, the Secure
 * Boot variable, and the first refusals of tb_install_check (no disk is touched here; the
 * interop and e2e suites install onto loop devices and VMs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/install.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "tmpdir.h"

#define MIB (UINT64_C(1) << 20)

/* A sparse file of SIZE bytes: the sizing reads st_size only. */
static void file_of(const char *base, const char *rel, uint64_t size) {
        char p[600];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", base, rel);
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)size), 0);
        close(fd);
}

/* U = 2 × 10 MiB of norole UKIs, O = 1 MiB of everything else. */
static void medium(const char *dir) {
        tb_test_mkdir(dir, "EFI");
        tb_test_mkdir(dir, "EFI/BOOT");
        tb_test_mkdir(dir, "EFI/trustboot");
        tb_test_mkdir(dir, "loader");
        tb_test_mkdir(dir, "loader/entries");
        file_of(dir, "EFI/trustboot/norole.efi", 10 * MIB - 4096);
        file_of(dir, "EFI/trustboot/norole_install-mode.efi", 10 * MIB - 4096);
        file_of(dir, "loader/entries/norole.conf", 4096);
        file_of(dir, "loader/entries/norole_install-mode.conf", 4096);
        file_of(dir, "EFI/BOOT/BOOTX64.EFI", MIB - 100);
        file_of(dir, "loader/loader.conf", 100);
}

static void esp_size_follows_the_formula(void **state) {
        char dir[256];
        tb_install_esp_size s;
        uint64_t u = 20 * MIB, o = MIB;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "install");
        medium(dir);
        assert_int_equal(tb_install_esp_size_from_medium(dir, &s), 0);
        assert_int_equal(s.uki_bytes, u);
        assert_int_equal(s.other_bytes, o);
        /* minimum = (5 U + 2 O) × 1.1 + 16 MiB: 112.2 → 113 + 16; default with growth 2: 222.2 → 223 + 16 */
        assert_int_equal(s.min_mib, 129);
        assert_int_equal(s.default_mib, 239);
        tb_test_tmpdir_remove(dir);
}

static void a_small_medium_gets_64_mib_and_no_medium_is_refused(void **state) {
        char dir[256];
        tb_install_esp_size s;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "install");
        tb_test_mkdir(dir, "EFI");
        file_of(dir, "EFI/other.efi", 1000);
        assert_int_equal(tb_install_esp_size_from_medium(dir, &s), -ENOENT); /* no norole*: not a medium */
        file_of(dir, "EFI/norole.efi", 1000);
        assert_int_equal(tb_install_esp_size_from_medium(dir, &s), 0);
        assert_int_equal(s.min_mib, 17);
        assert_int_equal(s.default_mib, 64);
        tb_test_tmpdir_remove(dir);
        assert_true(tb_install_esp_size_from_medium(dir, &s) < 0);
}

static void configured_size_below_the_minimum_is_refused(void **state) {
        char dir[256];
        uint64_t mib = 0;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "install");
        medium(dir);
        assert_int_equal(tb_install_efi_mib(dir, 0, &mib), 0);
        assert_int_equal(mib, 239);
        assert_int_equal(tb_install_efi_mib(dir, 128, &mib), -ENOSPC);
        assert_int_equal(mib, 239); /* untouched */
        assert_int_equal(tb_install_efi_mib(dir, 129, &mib), 0); /* the minimum, with a warning */
        assert_int_equal(mib, 129);
        assert_int_equal(tb_install_efi_mib(dir, 4096, &mib), 0);
        assert_int_equal(mib, 4096);
        tb_test_tmpdir_remove(dir);
}

static void secure_boot_from_the_variable(void **state) {
        char dir[256];
        uint8_t on = 1, off = 0;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "install");
        assert_int_equal(tb_install_secure_boot(dir), -ENOENT);
        assert_int_equal(tb_efivar_write(dir, "SecureBoot", &TB_GUID_EFI_GLOBAL_VARIABLE, 6, &on, 1), 0);
        assert_int_equal(tb_install_secure_boot(dir), 1);
        assert_int_equal(tb_efivar_write(dir, "SecureBoot", &TB_GUID_EFI_GLOBAL_VARIABLE, 6, &off, 1), 0);
        assert_int_equal(tb_install_secure_boot(dir), 0);
        tb_test_tmpdir_remove(dir);
}

static void check_refuses_what_is_not_a_block_device(void **state) {
        char dir[256], disk[400];
        tb_cloudconfig cfg = { 0 };
        tb_install_params p = { .config = &cfg, .source_dir = "/nonexistent" };
        tb_disk_layout l = { 0 };
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "install");
        snprintf(disk, sizeof(disk), "%s/disk.img", dir);
        p.device = disk;
        assert_int_equal(tb_install_check(&p, &l), -ENOENT);
        file_of(dir, "disk.img", 4096 * MIB);
        assert_int_equal(tb_install_check(&p, &l), -ENOTBLK);
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(esp_size_follows_the_formula),
                cmocka_unit_test(a_small_medium_gets_64_mib_and_no_medium_is_refused),
                cmocka_unit_test(configured_size_below_the_minimum_is_refused),
                cmocka_unit_test(secure_boot_from_the_variable),
                cmocka_unit_test(check_refuses_what_is_not_a_block_device),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
