/* tests/unit/test-exec.c — running a program: argv only, stdout and stderr captured, status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/exec.h"

static void output_and_status_come_back(void **state) {
        const char *const argv[] = { "sh", "-c", "printf 'a b'; echo oops >&2; exit 3", NULL };
        tb_buf out = TB_BUF_INIT, err = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_exec(argv, &out, &err), 3);
        assert_int_equal(out.len, 3);
        assert_memory_equal(out.data, "a b", 3);
        assert_non_null(strstr((const char *)err.data, "oops"));
        tb_buf_free(&out);
        tb_buf_free(&err);
}

static void arguments_are_not_split_by_a_shell(void **state) {
        const char *const argv[] = { "printf", "%s|", "one two", "$HOME", NULL };
        tb_buf out = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_exec(argv, &out, NULL), 0);
        assert_int_equal(out.len, strlen("one two|$HOME|"));
        assert_memory_equal(out.data, "one two|$HOME|", out.len);
        tb_buf_free(&out);
}

static void checked_turns_a_failure_into_eio(void **state) {
        const char *const ok[] = { "true", NULL }, *const bad[] = { "false", NULL };
        (void)state;

        assert_int_equal(tb_exec_checked(ok, NULL), 0);
        assert_int_equal(tb_exec_checked(bad, NULL), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(output_and_status_come_back),
                cmocka_unit_test(arguments_are_not_split_by_a_shell),
                cmocka_unit_test(checked_turns_a_failure_into_eio),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
