/* tests/unit/test-vm.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vm/vm.h"

static void sizes_take_binary_suffixes(void **state) {
        uint64_t v;
        (void)state;

        assert_int_equal(tb_vm_parse_size("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(tb_vm_parse_size("8G", &v), 0);
        assert_int_equal(v, 8ull << 30);
        assert_int_equal(tb_vm_parse_size("512M", &v), 0);
        assert_int_equal(v, 512ull << 20);
        assert_int_equal(tb_vm_parse_size("2TB", &v), 0);
        assert_int_equal(v, 2ull << 40);
        assert_int_equal(tb_vm_parse_size("1k", &v), 0);
        assert_int_equal(v, 1024);
}

static void bad_sizes_are_rejected(void **state) {
        uint64_t v;
        (void)state;

        assert_int_equal(tb_vm_parse_size("", &v), -EINVAL);
        assert_int_equal(tb_vm_parse_size("-1G", &v), -EINVAL);
        assert_int_equal(tb_vm_parse_size("G", &v), -EINVAL);
        assert_int_equal(tb_vm_parse_size("12Q", &v), -EINVAL);
        assert_int_equal(tb_vm_parse_size("1GiB", &v), -EINVAL);
        assert_int_equal(tb_vm_parse_size("0", &v), -ERANGE);
        assert_int_equal(tb_vm_parse_size("99999999999999T", &v), -ERANGE);
}

static void disk_argument_splits_at_a_size_suffix_only(void **state) {
        uint64_t size;
        char *path;
        (void)state;

        assert_int_equal(tb_vm_parse_disk("disk.img:8G", &path, &size), 0);
        assert_string_equal(path, "disk.img");
        assert_int_equal(size, 8ull << 30);
        free(path);
        assert_int_equal(tb_vm_parse_disk("disk.img", &path, &size), 0);
        assert_string_equal(path, "disk.img");
        assert_int_equal(size, 0);
        free(path);
        /* A colon that is part of the name stays in it. */
        assert_int_equal(tb_vm_parse_disk("/srv/a:b/disk.img", &path, &size), 0);
        assert_string_equal(path, "/srv/a:b/disk.img");
        assert_int_equal(size, 0);
        free(path);
        assert_int_equal(tb_vm_parse_disk(":8G", &path, &size), -EINVAL);
}

static void every_end_has_a_name(void **state) {
        (void)state;
        for (int e = TB_VM_END_EXPECT_MATCHED; e <= TB_VM_END_CONSOLE_QUIT; e++)
                assert_string_not_equal(tb_vm_end_to_string((tb_vm_end)e), "?");
        assert_string_equal(tb_vm_end_to_string(TB_VM_END_REFUSED), "refused by firmware");
}

/* Which ends are a success: with --expect only its match (or the console closed by the user);
 * without it a power-off or reset too. */
static void the_verdict_depends_on_expect(void **state) {
        tb_vm_config plain = TB_VM_CONFIG_INIT, expecting = TB_VM_CONFIG_INIT;
        static const struct {
                tb_vm_end end;
                bool ok_plain, ok_expecting;
        } cases[] = {
                { TB_VM_END_EXPECT_MATCHED, true, true }, { TB_VM_END_POWEROFF, true, false },
                { TB_VM_END_RESET, true, false },         { TB_VM_END_TIMEOUT, false, false },
                { TB_VM_END_REFUSED, false, false },      { TB_VM_END_QEMU_FAILED, false, false },
                { TB_VM_END_SIGNAL, false, false },       { TB_VM_END_CONSOLE_QUIT, true, true },
        };
        (void)state;

        expecting.expect = "login:";
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                tb_vm_result res = { .end = cases[i].end };

                assert_int_equal(tb_vm_succeeded(&plain, &res), cases[i].ok_plain);
                assert_int_equal(tb_vm_succeeded(&expecting, &res), cases[i].ok_expecting);
        }
}

static void the_report_line_names_the_end_the_time_and_why(void **state) {
        tb_vm_config c = TB_VM_CONFIG_INIT;
        tb_vm_result res = { .end = TB_VM_END_REFUSED, .seconds = 3.04 };
        char *line = NULL;
        (void)state;

        snprintf(res.detail, sizeof(res.detail), "Access Denied");
        assert_int_equal(tb_vm_describe(&c, &res, &line), 0);
        assert_string_equal(line, "refused by firmware after 3.0 s: Access Denied");
        free(line);

        res = (tb_vm_result){ .end = TB_VM_END_POWEROFF, .seconds = 12.25 };
        assert_int_equal(tb_vm_describe(&c, &res, &line), 0);
        assert_string_equal(line, "guest powered off after 12.2 s");
        free(line);

        c.expect = "^login:";
        assert_int_equal(tb_vm_describe(&c, &res, &line), 0);
        assert_string_equal(line, "guest powered off after 12.2 s without matching '^login:'");
        free(line);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sizes_take_binary_suffixes),
                cmocka_unit_test(bad_sizes_are_rejected),
                cmocka_unit_test(disk_argument_splits_at_a_size_suffix_only),
                cmocka_unit_test(every_end_has_a_name),
                cmocka_unit_test(the_verdict_depends_on_expect),
                cmocka_unit_test(the_report_line_names_the_end_the_time_and_why),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
