/* tests/unit/test-vmfw.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/vmfw.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(root, "vmfw")

static void touch(const char *rel) {
        char path[512], *slash;
        FILE *f;

        snprintf(path, sizeof(path), "%s%s", root, rel);
        for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                mkdir(path, 0755);
                *slash = '/';
        }
        f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
}

static void expect_pair(const char *code, const char *vars) {
        tb_vmfw fw = { 0 };
        char want[512];

        assert_int_equal(tb_vmfw_find(root, &fw), 0);
        snprintf(want, sizeof(want), "%s%s", root, code);
        assert_string_equal(fw.code, want);
        snprintf(want, sizeof(want), "%s%s", root, vars);
        assert_string_equal(fw.vars, want);
        tb_vmfw_done(&fw);
}

static void nothing_installed_is_enoent(void **state) {
        tb_vmfw fw = { 0 };
        (void)state;

        assert_int_equal(tb_vmfw_find(root, &fw), -ENOENT);
        assert_null(fw.code);
}

static void code_without_its_store_is_skipped(void **state) {
        tb_vmfw fw = { 0 };
        (void)state;

        touch("/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd");
        assert_int_equal(tb_vmfw_find(root, &fw), -ENOENT);
}

static void arch_fedora_and_debian_layouts_are_found_debian_4m_first(void **state) {
        (void)state;

        touch("/usr/share/edk2/x64/OVMF_VARS.4m.fd");
        expect_pair("/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd");
        touch("/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd");
        touch("/usr/share/edk2/ovmf/OVMF_VARS.fd");
        expect_pair("/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd");
        touch("/usr/share/OVMF/OVMF_CODE.secboot.fd");
        touch("/usr/share/OVMF/OVMF_VARS.fd");
        expect_pair("/usr/share/OVMF/OVMF_CODE.secboot.fd", "/usr/share/OVMF/OVMF_VARS.fd");
        touch("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
        touch("/usr/share/OVMF/OVMF_VARS_4M.fd");
        expect_pair("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd");
}

static void given_code_gets_the_store_beside_it(void **state) {
        char code[512], *vars = NULL;
        (void)state;

        snprintf(code, sizeof(code), "%s/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", root);
        assert_int_equal(tb_vmfw_vars_for_code(code, &vars), 0);
        assert_non_null(strstr(vars, "/usr/share/edk2/x64/OVMF_VARS.4m.fd"));
        free(vars);
        snprintf(code, sizeof(code), "%s/elsewhere/unknown.fd", root);
        assert_int_equal(tb_vmfw_vars_for_code(code, &vars), -ENOENT);
}

static void kvm_probe_answers_without_hanging(void **state) {
        (void)state;
        /* Without /dev/kvm it must say no; with one it must answer within the 2 s probe limit. */
        if (access("/dev/kvm", F_OK) < 0)
                assert_false(tb_vmfw_kvm_usable());
        else
                (void)tb_vmfw_kvm_usable();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(nothing_installed_is_enoent),
                cmocka_unit_test(code_without_its_store_is_skipped),
                cmocka_unit_test(arch_fedora_and_debian_layouts_are_found_debian_4m_first),
                cmocka_unit_test(given_code_gets_the_store_beside_it),
                cmocka_unit_test(kvm_probe_answers_without_hanging),
        };
        return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown);
}
