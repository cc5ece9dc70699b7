/* tests/unit/test-exclude.c */
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

#include "rootfs/exclude.h"
#include "util/fileio.h"

static bool drops(const tb_exclude *x, const char *path, bool is_dir) {
        return tb_exclude_match(x, path, is_dir, NULL) == TB_EXCLUDE_DROP;
}

static tb_exclude *with(const char *const *patterns) {
        tb_exclude *x = NULL;

        assert_int_equal(tb_exclude_new(&x), 0);
        for (; *patterns; patterns++)
                assert_int_equal(tb_exclude_add(x, *patterns, NULL), 0);
        return x;
}

static void a_name_without_slash_matches_at_any_depth(void **state) {
        _cleanup_(tb_exclude_freep) tb_exclude *x = with((const char *[]){ "*.pyc", "__pycache__/", NULL });
        (void)state;

        assert_true(drops(x, "a.pyc", false));
        assert_true(drops(x, "usr/lib/python3/x.pyc", false));
        assert_false(drops(x, "usr/lib/python3/x.py", false));
        assert_true(drops(x, "usr/lib/python3/__pycache__", true));
        assert_false(drops(x, "usr/lib/python3/__pycache__", false)); /* trailing '/': directories only */
}

static void a_slash_anchors_at_the_root(void **state) {
        _cleanup_(tb_exclude_freep) tb_exclude *x = with((const char *[]){ "/usr/share/doc", "var/log/*.log", NULL });
        (void)state;

        assert_true(drops(x, "usr/share/doc", true));
        assert_false(drops(x, "opt/usr/share/doc", true));
        assert_true(drops(x, "var/log/dpkg.log", false));
        assert_false(drops(x, "var/log/apt/term.log", false)); /* '*' stays inside one component */
        assert_false(drops(x, "x/var/log/dpkg.log", false));
}

static void double_star_spans_components(void **state) {
        _cleanup_(tb_exclude_freep) tb_exclude *x = with((const char *[]){ "usr/lib/**/*.a", "opt/**", NULL });
        (void)state;

        assert_true(drops(x, "usr/lib/libc.a", false));
        assert_true(drops(x, "usr/lib/x86_64-linux-gnu/libc.a", false));
        assert_true(drops(x, "usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a", false));
        assert_false(drops(x, "usr/lib/libc.so.6", false));
        assert_false(drops(x, "opt", true)); /* a trailing "**": what is inside, not opt itself */
        assert_true(drops(x, "opt/a", false));
        assert_true(drops(x, "opt/a/b", false));
}

static void the_last_matching_pattern_decides(void **state) {
        _cleanup_(tb_exclude_freep) tb_exclude *x =
                with((const char *[]){ "/usr/share/locale/*/", "!/usr/share/locale/de/", NULL });
        (void)state;

        assert_true(drops(x, "usr/share/locale/fr", true));
        assert_false(drops(x, "usr/share/locale/de", true));
        assert_false(drops(x, "usr/share/locale/locale.alias", false));
}

static void malformed_patterns_are_refused_with_a_reason(void **state) {
        static const char *const bad[] = { "",      "!",     "/",        "//",          "a//b", "a/../b",
                                           "./a",   "a**",   "**b/c",    "[abc",        "a\\",  "#comment" };
        _cleanup_(tb_exclude_freep) tb_exclude *x = NULL;
        (void)state;

        assert_int_equal(tb_exclude_new(&x), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *why = NULL;

                if (tb_exclude_add(x, bad[i], &why) != -EINVAL || !why)
                        fail_msg("pattern '%s' was accepted", bad[i]);
        }
        assert_int_equal(tb_exclude_count(x), 0);
        assert_int_equal(tb_exclude_add(x, "[]a]", NULL), 0); /* ']' first in a bracket is literal */
        assert_int_equal(tb_exclude_add(x, "\\#x", NULL), 0);
        assert_true(drops(x, "#x", false));
}

static void slim_keeps_the_configured_locales_and_names_groups(void **state) {
        char dir[] = "/tmp/test-exclude.XXXXXX", path[256], src[300];
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(tb_exclude_freep) tb_exclude *x = NULL;
        const char *group = NULL;
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/etc", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc/default", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/etc/default/locale", dir);
        assert_int_equal(tb_write_file_new(path, "LANG=\"pt_BR.UTF-8\"\n", 19, 0644), 0);
        snprintf(src, sizeof(src), "dir:%s", dir);
        assert_int_equal(tb_rootfs_open(src, NULL, &fs), 0);
        assert_int_equal(tb_exclude_new(&x), 0);
        assert_int_equal(tb_exclude_add_slim(x, fs), 0);

        assert_int_equal(tb_exclude_match(x, "usr/share/locale/fr", true, &group), TB_EXCLUDE_DROP);
        assert_string_equal(group, "locales");
        assert_false(drops(x, "usr/share/locale/pt_BR", true));
        assert_false(drops(x, "usr/share/locale/pt", true));
        assert_int_equal(tb_exclude_match(x, "usr/share/man", true, &group), TB_EXCLUDE_DROP);
        assert_string_equal(group, "man/info pages");
        assert_true(drops(x, "usr/share/doc", true));
        assert_true(drops(x, "usr/include", true));
        assert_true(drops(x, "usr/lib/x86_64-linux-gnu/libc_nonshared.a", false));
        assert_true(drops(x, "var/cache/apt", true));
        assert_false(drops(x, "usr/lib/x86_64-linux-gnu/libc.so.6", false));
        assert_false(drops(x, "usr/share/zoneinfo", true));
        assert_false(drops(x, "etc", true));

        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        assert_int_equal(system(path), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(a_name_without_slash_matches_at_any_depth),
                cmocka_unit_test(a_slash_anchors_at_the_root),
                cmocka_unit_test(double_star_spans_components),
                cmocka_unit_test(the_last_matching_pattern_decides),
                cmocka_unit_test(malformed_patterns_are_refused_with_a_reason),
                cmocka_unit_test(slim_keeps_the_configured_locales_and_names_groups),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
