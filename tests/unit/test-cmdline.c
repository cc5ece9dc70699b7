/* tests/unit/test-cmdline.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/cmdline.h"
#include "util/fileio.h"
#include "util/macro.h"

static char path[64];

static void set_cmdline(const char *text) {
        assert_int_equal(tb_write_file_atomic(path, text, strlen(text), 0644, true), 0);
        tb_cmdline_set_path(path);
}

static int setup(void **state) {
        (void)state;
        strcpy(path, "/tmp/tb-test-cmdline.XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        unlink(path);
        tb_cmdline_set_path(NULL);
        return 0;
}

static void test_words_and_quotes(void **state) {
        _cleanup_(freep) char *v = NULL;
        (void)state;

        set_cmdline("console=ttyS0 quiet a\"b c\"d init=\"/bin/my init\" init=/sbin/init\n");
        assert_true(tb_cmdline_has("quiet"));
        assert_true(tb_cmdline_has("console"));
        assert_false(tb_cmdline_has("consol"));
        assert_true(tb_cmdline_has("ab cd"));
        assert_int_equal(tb_cmdline_get("init", &v), 1);
        assert_string_equal(v, "/sbin/init"); /* the last one wins, as the kernel's */
        free(v);
        v = NULL;
        assert_int_equal(tb_cmdline_get("root", &v), 0);
        assert_null(v);
}

/* Issue 17 (13): trustboot.insecure=0 is not the flag. */
static void test_flag(void **state) {
        (void)state;

        set_cmdline("trustboot.insecure=0 install-mode");
        assert_false(tb_cmdline_flag("trustboot.insecure"));
        assert_true(tb_cmdline_flag("install-mode"));
        set_cmdline("trustboot.insecure");
        assert_true(tb_cmdline_flag("trustboot.insecure"));
        set_cmdline("trustboot.insecure=yes");
        assert_true(tb_cmdline_flag("trustboot.insecure"));
        set_cmdline("trustboot.insecure=OFF");
        assert_false(tb_cmdline_flag("trustboot.insecure"));
        set_cmdline("trustboot.insecure=maybe");
        assert_false(tb_cmdline_flag("trustboot.insecure"));
        set_cmdline("trustboot.insecure=1 trustboot.insecure=0");
        assert_false(tb_cmdline_flag("trustboot.insecure")); /* the last one wins */
        set_cmdline("trustboot.insecurex");
        assert_false(tb_cmdline_flag("trustboot.insecure"));
        assert_int_equal(tb_cmdline_parse_bool("True"), 1);
        assert_int_equal(tb_cmdline_parse_bool("n"), 0);
        assert_int_equal(tb_cmdline_parse_bool("2"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_words_and_quotes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_flag, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
