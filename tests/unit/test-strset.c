/* tests/unit/test-strset.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "util/strset.h"

static void adding_twice_reports_the_duplicate(void **state) {
        _cleanup_(tb_strset_freep) tb_strset *s = NULL;
        (void)state;

        assert_int_equal(tb_strset_new(&s), 0);
        assert_int_equal(tb_strset_add(s, "etc/passwd"), 1);
        assert_int_equal(tb_strset_add(s, "etc/passwd"), 0);
        assert_true(tb_strset_contains(s, "etc/passwd"));
        assert_false(tb_strset_contains(s, "etc/passw"));
        assert_int_equal(tb_strset_size(s), 1);
}

static void growing_keeps_every_member(void **state) {
        _cleanup_(tb_strset_freep) tb_strset *s = NULL;
        char name[32];
        (void)state;

        assert_int_equal(tb_strset_new(&s), 0);
        for (int i = 0; i < 5000; i++) {
                snprintf(name, sizeof(name), "dir/%d", i);
                assert_int_equal(tb_strset_add(s, name), 1);
        }
        for (int i = 0; i < 5000; i++) {
                snprintf(name, sizeof(name), "dir/%d", i);
                assert_true(tb_strset_contains(s, name));
        }
        assert_false(tb_strset_contains(s, "dir/5000"));
        assert_int_equal(tb_strset_size(s), 5000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(adding_twice_reports_the_duplicate),
                cmocka_unit_test(growing_keeps_every_member),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
