/* tests/unit/test-esp.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "medium/esp.h"
#include "medium/medium.h"

static void loader_conf_is_the_kairos_four_lines(void **state) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        static const char want[] = "timeout 5\nconsole-mode max\neditor no\nsecure-boot-enroll if-safe\n";
        (void)state;

        assert_int_equal(tb_esp_loader_conf(TB_ENROLL_IF_SAFE, &b), 0);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
}

static void entry_conf_has_optional_keys_only_when_given(void **state) {
        _cleanup_(tb_buf_freep) tb_buf a = TB_BUF_INIT, b = TB_BUF_INIT;
        tb_esp_boot_entry e = { .title = "T", .efi = "/EFI/trustboot/x.efi", .sort_key = "x" };
        static const char want_a[] = "title T\nsort-key x\nefi /EFI/trustboot/x.efi\n";
        static const char want_b[] = "title T\nsort-key x\nefi /EFI/trustboot/x.efi\nversion 2\ncmdline quiet\n";
        (void)state;

        assert_int_equal(tb_esp_entry_conf(&e, &a), 0);
        assert_memory_equal(a.data, want_a, strlen(want_a));
        e.version = "2";
        e.cmdline = "quiet";
        assert_int_equal(tb_esp_entry_conf(&e, &b), 0);
        assert_int_equal(b.len, strlen(want_b));
        assert_memory_equal(b.data, want_b, b.len);
        e.title = "two\nlines"; /* would inject a key */
        assert_int_equal(tb_esp_entry_conf(&e, &b), -EINVAL);
}

static void manifest_sorts_and_adds_parents_first(void **state) {
        _cleanup_(tb_esp_freep) tb_esp *esp = NULL;
        static const char *const want[] = { "EFI", "EFI/BOOT", "EFI/BOOT/BOOTX64.EFI", "loader", "loader/loader.conf" };
        (void)state;

        assert_int_equal(tb_esp_new(&esp), 0);
        assert_int_equal(tb_esp_add_data(esp, "loader/loader.conf", "x", 1), 0);
        assert_int_equal(tb_esp_add_data(esp, "EFI/BOOT/BOOTX64.EFI", "y", 1), 0);
        assert_int_equal(tb_esp_count(esp), ARRAY_SIZE(want));
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                assert_string_equal(tb_esp_get(esp, i)->path, want[i]);
        assert_true(tb_esp_get(esp, 0)->is_dir);
}

static void manifest_refuses_escapes_and_clashes(void **state) {
        _cleanup_(tb_esp_freep) tb_esp *esp = NULL;
        (void)state;

        assert_int_equal(tb_esp_new(&esp), 0);
        assert_int_equal(tb_esp_add_data(esp, "../x", "x", 1), -EINVAL);
        assert_int_equal(tb_esp_add_data(esp, "/abs", "x", 1), -EINVAL);
        assert_int_equal(tb_esp_add_data(esp, "a//b", "x", 1), -EINVAL);
        assert_int_equal(tb_esp_add_data(esp, "a/./b", "x", 1), -EINVAL);
        assert_int_equal(tb_esp_add_data(esp, "a/b", "x", 1), 0);
        assert_int_equal(tb_esp_add_data(esp, "a/b", "x", 1), -EEXIST);
        assert_int_equal(tb_esp_add_data(esp, "a/b/c", "x", 1), -ENOTDIR);
        assert_int_equal(tb_esp_add_dir(esp, "a"), 0); /* an existing directory is fine */
}

static void enroll_modes_round_trip(void **state) {
        tb_enroll e;
        (void)state;

        for (const char *const *m = (const char *const[]){ "off", "manual", "if-safe", "force", NULL }; *m; m++) {
                assert_int_equal(tb_enroll_from_string(*m, &e), 0);
                assert_string_equal(tb_enroll_to_string(e), *m);
        }
        assert_int_equal(tb_enroll_from_string("auto", &e), -EINVAL);
}

static void entry_names_follow_kairos(void **state) {
        static const struct {
                const char *base, *args, *want;
        } cases[] = {
                { "norole", "", "norole" },
                { "norole", "install-mode rd.debug", "norole_install-mode_rd.debug" },
                { "norole", "install-mode  a=b c/d", "norole_install-mode_a_b_c_d" },
                { "norole", "install-mode X=Y ", "norole_install-mode_x_y" },
                { "single_entry", "Foo", "single_entry_foo" },
        };
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_(freep) char *n = NULL;

                assert_int_equal(tb_medium_entry_name(cases[i].base, cases[i].args, &n), 0);
                assert_string_equal(n, cases[i].want);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(loader_conf_is_the_kairos_four_lines),
                cmocka_unit_test(entry_conf_has_optional_keys_only_when_given),
                cmocka_unit_test(manifest_sorts_and_adds_parents_first),
                cmocka_unit_test(manifest_refuses_escapes_and_clashes),
                cmocka_unit_test(enroll_modes_round_trip),
                cmocka_unit_test(entry_names_follow_kairos),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
