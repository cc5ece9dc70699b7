/* tests/unit/test-installer.c — `trustboot install`'s run: which configuration is in effect, the
 * target disk, the layout lines, and the Secure Boot gate that refuses before anything is read
 * from or written to the disk. The install itself is node/install (test-install, e2e). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/installer.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/strset.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "installer")

static char *put(const char *name, const char *text) {
        tb_test_write(dir, name, text, strlen(text));
        return tb_path_join(dir, name);
}

/* --config files are merged in the order given, later ones winning, and listed for OEM. */
static void given_configs_merge_in_order(void **state) {
        _cleanup_(freep) char *a = put("a.yaml", "install:\n  device: /dev/vdb\n  reboot: true\n"),
                              *b = put("b.yaml", "#cloud-config\ninstall:\n  device: /dev/vdc\n");
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(tb_strv_freep) char **files = NULL;
        const char *configs[] = { a, b };
        size_t n = 0;
        (void)state;

        assert_int_equal(tb_installer_config(configs, 2, &files, &n, &c), 0);
        assert_int_equal(n, 2);
        assert_string_equal(files[0], a);
        assert_string_equal(files[1], b);
        assert_string_equal(c->device, "/dev/vdc");
        assert_true(c->reboot);
}

static void a_missing_config_is_refused(void **state) {
        _cleanup_(freep) char *missing = tb_path_join(dir, "missing.yaml");
        tb_cloudconfig *c = NULL;
        char **files = NULL;
        const char *configs[] = { missing };
        size_t n = 7;
        (void)state;

        assert_true(tb_installer_config(configs, 1, &files, &n, &c) < 0);
        assert_null(c);
        assert_null(files);
        assert_int_equal(n, 7);
}

static void a_named_device_is_taken_as_given(void **state) {
        _cleanup_(freep) char *d = NULL;
        (void)state;

        assert_int_equal(tb_installer_device("/dev/nvme1n1", false, &d), 0);
        assert_string_equal(d, "/dev/nvme1n1");
}

static void the_layout_lines_say_partno_name_label_fs_and_size(void **state) {
        tb_disk_layout l = { .n = 3 };
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        (void)state;

        l.parts[0] = (tb_disk_part){ .name = "efi", .label = "COS_GRUB", .fs = "vfat", .size_mib = 343, .partno = 1 };
        l.parts[1] = (tb_disk_part){ .name = "raw", .label = "RAW", .size_mib = 8, .partno = 2 };
        l.parts[2] = (tb_disk_part){ .name = "persistent", .label = "COS_PERSISTENT", .fs = "ext4", .partno = 3 };
        assert_non_null(out);
        tb_installer_print_layout(&l, out);
        assert_int_equal(fclose(out), 0);
        assert_string_equal(text, "1 efi COS_GRUB vfat 343MiB\n"
                                  "2 raw RAW - 8MiB\n"
                                  "3 persistent COS_PERSISTENT ext4 0 (rest)\n");
        free(text);
}

/* Secure Boot off or unknown: refused before the target disk is looked at (it does not exist). */
static void secure_boot_off_is_refused_unless_insecure(void **state) {
        _cleanup_(freep) char *cfg = put("gate.yaml", "install:\n  device: /nonexistent/disk\n"),
                              *efivars = tb_path_join(dir, "efivars");
        const char *configs[] = { cfg };
        char *text = NULL;
        size_t len = 0;
        uint8_t off = 0;
        tb_installer_options o = { .configs = configs, .n_configs = 1, .efivarfs = efivars, .no_lifecycle = true };
        (void)state;

        tb_test_mkdir(dir, "efivars");
        assert_non_null(o.out = open_memstream(&text, &len));
        assert_int_equal(tb_installer_run(&o), -EPERM); /* no SecureBoot variable */
        assert_int_equal(tb_efivar_write(efivars, "SecureBoot", &TB_GUID_EFI_GLOBAL_VARIABLE, 6, &off, 1), 0);
        assert_int_equal(tb_installer_run(&o), -EPERM);
        /* --insecure passes the gate; the missing disk is what is refused then. */
        o.insecure = true;
        o.dry_run = true;
        assert_int_not_equal(tb_installer_run(&o), -EPERM);
        assert_true(tb_installer_run(&o) < 0);
        assert_int_equal(fclose(o.out), 0);
        assert_string_equal(text, ""); /* no layout: nothing was chosen */
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(given_configs_merge_in_order),
                cmocka_unit_test(a_missing_config_is_refused),
                cmocka_unit_test(a_named_device_is_taken_as_given),
                cmocka_unit_test(the_layout_lines_say_partno_name_label_fs_and_size),
                cmocka_unit_test(secure_boot_off_is_refused_unless_insecure),
        };
        return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown);
}
