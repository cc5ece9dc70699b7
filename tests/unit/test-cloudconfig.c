/* tests/unit/test-cloudconfig.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/cloudconfig.h"
#include "node/cmdline.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strset.h"
#include "tmpdir.h"

/* The seed's full example (shared/research/kairos.md §4.3). */
static const char seed[] = "#cloud-config\n"
                           "install:\n"
                           "  device: auto\n"
                           "  auto: true\n"
                           "  poweroff: true\n"
                           "  partitions:\n"
                           "    persistent:\n"
                           "      size: 500\n"
                           "  extra-partitions:\n"
                           "    - name: second_partition\n"
                           "      size: 100\n"
                           "      fs: ext2\n"
                           "      label: PARTITION_TWO\n"
                           "  encrypted_partitions:\n"
                           "    - COS_OEM\n"
                           "    - COS_PERSISTENT\n"
                           "    - PARTITION_TWO\n"
                           "users:\n"
                           "  - name: kairos\n"
                           "bind-pcrs: [\"7\"]\n";

static int merge(tb_cloudconfig *c, const char *text) {
        return tb_cloudconfig_merge(c, "test.yaml", text, strlen(text));
}

static char logbuf[4096];
static int saved_stderr = -1;
static FILE *capture_file;

/* tb_log writes to stderr: point fd 2 at a temp file until end_capture() reads it back. */
static void capture_log(void) {
        fflush(stderr);
        if (saved_stderr < 0)
                saved_stderr = dup(2);
        if (capture_file)
                fclose(capture_file);
        capture_file = tmpfile();
        assert_non_null(capture_file);
        dup2(fileno(capture_file), 2);
}

static void end_capture(void) {
        size_t n;
        fflush(stderr);
        memset(logbuf, 0, sizeof(logbuf));
        rewind(capture_file);
        n = fread(logbuf, 1, sizeof(logbuf) - 1, capture_file);
        logbuf[n] = 0;
        dup2(saved_stderr, 2);
}

static void defaults_are_kairos_uki_defaults(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_string_equal(c->device, "auto");
        assert_false(c->auto_install);
        assert_int_equal(c->oem_mib, 64);
        assert_int_equal(c->persistent_mib, 0);
        assert_int_equal(c->n_encrypted, 0);
        assert_true(c->encrypt_system);
        assert_false(c->force);
        assert_true(tb_cloudconfig_encrypts(c, "COS_OEM"));
        assert_true(tb_cloudconfig_encrypts(c, "COS_PERSISTENT"));
        assert_false(tb_cloudconfig_encrypts(c, "COS_GRUB"));
        assert_int_equal(c->bind_pcrs, 0);
        assert_int_equal(c->bind_public_pcrs, 1u << 11);
        assert_int_equal(tb_cloudconfig_validate(c), 0);
}

static void seed_example_gives_sizes_extra_partition_and_encrypted_list(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(merge(c, seed), 0);
        assert_true(c->auto_install);
        assert_true(c->poweroff);
        assert_false(c->reboot);
        assert_int_equal(c->persistent_mib, 500);
        assert_int_equal(c->oem_mib, 64);
        assert_int_equal(c->n_extra, 1);
        assert_string_equal(c->extra[0].name, "second_partition");
        assert_string_equal(c->extra[0].label, "PARTITION_TWO");
        assert_string_equal(c->extra[0].fs, "ext2");
        assert_int_equal(c->extra[0].size_mib, 100);
        assert_int_equal(c->n_encrypted, 3);
        assert_string_equal(c->encrypted[2], "PARTITION_TWO");
        assert_int_equal(c->bind_pcrs, 1u << 7);
        assert_int_equal(tb_cloudconfig_validate(c), 0);
}

/* tests/e2e/fixtures/seed-install-config.yaml is the seed's "full example", byte for byte: its
 * encrypted_partitions lists only PARTITION_TWO, and OEM and persistent are encrypted all the same. */
static void seed_fixture_encrypts_oem_persistent_and_the_listed_partition(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(freep) char *path = NULL;
        const char *src = getenv("TB_SRCDIR");
        (void)state;

        if (!src)
                skip();
        assert_true(asprintf(&path, "%s/tests/e2e/fixtures/seed-install-config.yaml", src) > 0);
        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_cloudconfig_merge_file(c, path), 0);
        assert_int_equal(c->n_encrypted, 1);
        assert_string_equal(c->encrypted[0], "PARTITION_TWO");
        assert_true(tb_cloudconfig_encrypts(c, "COS_OEM"));
        assert_true(tb_cloudconfig_encrypts(c, "COS_PERSISTENT"));
        assert_true(tb_cloudconfig_encrypts(c, "PARTITION_TWO"));
        assert_false(tb_cloudconfig_encrypts(c, "COS_GRUB"));
        assert_false(c->poweroff);
        assert_int_equal(c->persistent_mib, 500);
        assert_int_equal(tb_cloudconfig_validate(c), 0);
}

static void system_partitions_plain_only_with_the_explicit_key(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL, *d = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(merge(c, "install:\n  encrypted_partitions: []\n"), 0);
        assert_true(tb_cloudconfig_encrypts(c, "COS_OEM"));
        assert_true(tb_cloudconfig_encrypts(c, "COS_PERSISTENT"));
        assert_int_equal(merge(c, "install:\n  encrypt-system-partitions: false\n"), 0);
        assert_false(tb_cloudconfig_encrypts(c, "COS_OEM"));
        assert_false(tb_cloudconfig_encrypts(c, "COS_PERSISTENT"));
        /* the key leaves the pair out; a label listed explicitly is still encrypted */
        assert_int_equal(tb_cloudconfig_new(&d), 0);
        assert_int_equal(merge(d, "install:\n  encrypt-system-partitions: no\n  encrypted_partitions: [COS_OEM]\n"), 0);
        assert_true(tb_cloudconfig_encrypts(d, "COS_OEM"));
        assert_false(tb_cloudconfig_encrypts(d, "COS_PERSISTENT"));
        assert_int_equal(merge(d, "install:\n  encrypt-system-partitions: maybe\n"), -EINVAL);
}

static void validate_refuses_fs_names_that_are_not_mkfs_types(void **state) {
        static const char *const bad[] = { "../../bin/sh", "ext4/../x", "EXT4", "ext 4", "fat;rm", "" };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(tb_cloudconfig_fs_name_ok(bad[i]));
        assert_true(tb_cloudconfig_fs_name_ok("ext4"));
        assert_true(tb_cloudconfig_fs_name_ok("vfat"));

        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(merge(c, "install:\n  extra-partitions:\n    - {name: x, size: 8, fs: ../../tmp/evil}\n"), 0);
        capture_log();
        assert_int_equal(tb_cloudconfig_validate(c), -EINVAL);
        end_capture();
        assert_non_null(strstr(logbuf, "../../tmp/evil"));
}

static void later_document_overrides_only_the_keys_it_sets(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(merge(c, seed), 0);
        assert_int_equal(merge(c, "install:\n  device: /dev/vdb\n  partitions: {oem: {size: 128}}\n"), 0);
        assert_string_equal(c->device, "/dev/vdb");
        assert_int_equal(c->oem_mib, 128);
        assert_int_equal(c->persistent_mib, 500);
        assert_int_equal(c->n_extra, 1);
}

static void yaml_error_reports_line_and_column(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        capture_log();
        assert_int_equal(merge(c, "install:\n  device: auto\n   auto: [true\n"), -EINVAL);
        end_capture();
        assert_non_null(strstr(logbuf, "test.yaml:3:"));
        capture_log();
        assert_int_equal(merge(c, "install:\n  auto: maybe\n"), -EINVAL);
        end_capture();
        assert_non_null(strstr(logbuf, "test.yaml:2:9: install.auto: expected true or false"));
        capture_log();
        assert_int_equal(merge(c, "install:\n  partitions:\n    oem:\n      size: -5\n"), -EINVAL);
        end_capture();
        assert_non_null(strstr(logbuf, "test.yaml:4:13: size: expected a number"));
        capture_log();
        assert_int_equal(merge(c, "bind-pcrs: [24]\n"), -EINVAL);
        end_capture();
        assert_non_null(strstr(logbuf, "test.yaml:1:13: bind-pcrs"));
}

static void unknown_keys_are_warned_about_and_ignored(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        capture_log();
        assert_int_equal(merge(c, "install:\n  devcie: /dev/sda\nfrobnicate: 1\nusers: []\n"), 0);
        end_capture();
        assert_non_null(strstr(logbuf, "test.yaml:2:3: install.devcie: unknown key"));
        assert_non_null(strstr(logbuf, "test.yaml:3:1: frobnicate: unknown key"));
        assert_null(strstr(logbuf, "users"));
        assert_string_equal(c->device, "auto");
}

static void bare_cloud_config_header_is_an_empty_config(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(merge(c, "#cloud-config\n"), 0);
        assert_int_equal(merge(c, ""), 0);
        assert_string_equal(c->device, "auto");
}

static void validate_refuses_unknown_encrypted_label_and_two_rest_partitions(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL, *d = NULL;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(merge(c, "install:\n  encrypted_partitions: [COS_OEM, NOPE]\n"), 0);
        assert_int_equal(tb_cloudconfig_validate(c), -EINVAL);
        assert_int_equal(tb_cloudconfig_new(&d), 0);
        assert_int_equal(merge(d, "install:\n  extra-partitions:\n    - {name: x, size: 0}\n"), 0);
        assert_string_equal(d->extra[0].label, "x");
        assert_int_equal(tb_cloudconfig_validate(d), -EINVAL);
}

static void put_file(const char *dir, const char *rel, const char *text) {
        char p[512];

        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        assert_int_equal(tb_write_file_atomic(p, text, strlen(text), 0644, true), 0);
}

/* Discovery, in its order: trustboot.config= wins, then every oem/NAME.yaml by name, then the file
 * in /etc, then nothing (the defaults). The files found are merged in that order. */
static void discovery_takes_cmdline_then_oem_then_etc(void **state) {
        char root[256], cmdline[512], want[512];
        char **files = NULL;
        size_t n = 99;
        tb_cloudconfig *c = NULL;
        (void)state;

        tb_test_tmpdir_make(root, sizeof(root), "cloudconfig");
        snprintf(cmdline, sizeof(cmdline), "%s/cmdline", root);
        put_file(root, "cmdline", "quiet console=ttyS0\n");
        tb_cmdline_set_path(cmdline);

        assert_int_equal(tb_cloudconfig_discover(root, &files, &n), 0);
        assert_int_equal(n, 0);
        assert_non_null(files);
        assert_null(files[0]);
        tb_strv_free(files);

        tb_test_mkdir(root, "etc");
        tb_test_mkdir(root, "etc/trustboot");
        put_file(root, "etc/trustboot/config.yaml", "install:\n  device: /dev/etc\n");
        assert_int_equal(tb_cloudconfig_discover(root, &files, &n), 0);
        assert_int_equal(n, 1);
        snprintf(want, sizeof(want), "%s/etc/trustboot/config.yaml", root);
        assert_string_equal(files[0], want);
        tb_strv_free(files);

        tb_test_mkdir(root, "oem");
        put_file(root, "oem/99_custom.yaml", "install:\n  device: /dev/late\n");
        put_file(root, "oem/10_base.yaml", "install:\n  device: /dev/early\n  auto: true\n");
        put_file(root, "oem/notes.txt", "not yaml");
        assert_int_equal(tb_cloudconfig_discover(root, &files, &n), 0);
        assert_int_equal(n, 2);
        snprintf(want, sizeof(want), "%s/oem/10_base.yaml", root);
        assert_string_equal(files[0], want);
        assert_int_equal(tb_cloudconfig_load_files((const char *const *)files, n, &c), 0);
        assert_string_equal(c->device, "/dev/late"); /* later files win */
        assert_true(c->auto_install);
        tb_cloudconfig_free(c);
        tb_strv_free(files);

        put_file(root, "cmdline", "quiet trustboot.config=/run/given.yaml console=ttyS0\n");
        assert_int_equal(tb_cloudconfig_discover(root, &files, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(files[0], "/run/given.yaml");
        /* A file that cannot be read is an error, not the defaults. */
        assert_true(tb_cloudconfig_load_files((const char *const *)files, n, &c) < 0);
        tb_strv_free(files);

        tb_cmdline_set_path(NULL);
        tb_test_tmpdir_remove(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(defaults_are_kairos_uki_defaults),
                cmocka_unit_test(seed_example_gives_sizes_extra_partition_and_encrypted_list),
                cmocka_unit_test(seed_fixture_encrypts_oem_persistent_and_the_listed_partition),
                cmocka_unit_test(system_partitions_plain_only_with_the_explicit_key),
                cmocka_unit_test(validate_refuses_fs_names_that_are_not_mkfs_types),
                cmocka_unit_test(later_document_overrides_only_the_keys_it_sets),
                cmocka_unit_test(yaml_error_reports_line_and_column),
                cmocka_unit_test(unknown_keys_are_warned_about_and_ignored),
                cmocka_unit_test(bare_cloud_config_header_is_an_empty_config),
                cmocka_unit_test(validate_refuses_unknown_encrypted_label_and_two_rest_partitions),
                cmocka_unit_test(discovery_takes_cmdline_then_oem_then_etc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
