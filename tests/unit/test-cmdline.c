/* tests/unit/test-cmdline.c — flags and key=value on the kernel command line, quoted as the kernel does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "node/cmdline.h"
#include "util/fileio.h"

#include "tmpdir.h"

static char dir[256], path[300];

static int setup(void **state) {
        static const char text[] =
                "BOOT_IMAGE=/vmlinuz root=LABEL=x trustboot.insecure \"trustboot.config=/oem/my conf.yaml\" "
                "console=tty1 console=ttyS0 quiet\n";
        (void)state;
        tb_test_tmpdir_make(dir, sizeof(dir), "cmdline");
        snprintf(path, sizeof(path), "%s/cmdline", dir);
        assert_int_equal(tb_write_file_atomic(path, text, strlen(text), 0644, true), 0);
        tb_cmdline_set_path(path);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        tb_cmdline_set_path(NULL);
        tb_test_tmpdir_remove(dir);
        return 0;
}

static void flags_are_found_as_words_only(void **state) {
        (void)state;
        assert_true(tb_cmdline_has("trustboot.insecure"));
        assert_true(tb_cmdline_has("quiet"));
        assert_true(tb_cmdline_has("root"));
        assert_false(tb_cmdline_has("trustboot"));
        assert_false(tb_cmdline_has("insecure"));
}

/* KEY's value is WANT. */
static void assert_value(const char *key, const char *want) {
        char *v = NULL;

        assert_int_equal(tb_cmdline_get(key, &v), 1);
        assert_string_equal(v, want);
        free(v);
}

static void values_keep_quoted_spaces_and_the_last_wins(void **state) {
        char *v = NULL;
        (void)state;

        assert_value("trustboot.config", "/oem/my conf.yaml");
        assert_value("console", "ttyS0");
        assert_value("root", "LABEL=x");
        assert_value("quiet", "");
        assert_int_equal(tb_cmdline_get("nosuchkey", &v), 0);
        assert_null(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(flags_are_found_as_words_only, setup, teardown),
                cmocka_unit_test_setup_teardown(values_keep_quoted_spaces_and_the_last_wins, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
