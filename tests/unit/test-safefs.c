/* tests/unit/test-safefs.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/safefs.h"

static void normalize_cleans_harmless_forms(void **state) {
        static const char *const cases[][2] = {
                { "a/b/c", "a/b/c" }, { "./a//b/", "a/b" }, { "././a/./b", "a/b" },
                { "./", "" },         { ".", "" },          { "a/.wh..wh..opq", "a/.wh..wh..opq" },
                { "..a/b..", "..a/b.." },
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = NULL;

                assert_int_equal(tb_path_normalize(cases[i][0], &out), 0);
                assert_string_equal(out, cases[i][1]);
                free(out);
        }
}

static void normalize_refuses_escapes(void **state) {
        static const char *const bad[] = { "/etc/passwd", "..", "../x", "a/../../x", "a/..", "", "//x" };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *out = NULL;

                assert_int_equal(tb_path_normalize(bad[i], &out), -EINVAL);
                assert_null(out);
        }
}

static char *mkscratch(void) {
        char *p = strdup("/tmp/test-safefs.XXXXXX");

        assert_non_null(p);
        assert_non_null(mkdtemp(p));
        return p;
}

static void rm(const char *path) {
        assert_int_equal(tb_rm_rf_at(AT_FDCWD, path), 0);
}

static void mkdir_beneath_creates_but_never_follows_symlinks(void **state) {
        char *root = mkscratch(), *outside = mkscratch(), path[512];
        int rfd, fd;
        struct stat st;
        (void)state;

        rfd = open(root, O_RDONLY | O_DIRECTORY);
        assert_true(rfd >= 0);
        assert_int_equal(tb_mkdir_beneath(rfd, "a/b/c", &fd), 0);
        close(fd);
        snprintf(path, sizeof(path), "%s/a/b/c", root);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));

        assert_int_equal(symlinkat(outside, rfd, "evil"), 0);
        assert_int_equal(tb_mkdir_beneath(rfd, "evil/x", &fd), -ELOOP);
        assert_int_equal(symlinkat("a", rfd, "rel"), 0);
        assert_int_equal(tb_mkdir_beneath(rfd, "rel/b", &fd), -ELOOP); /* even inside the root */
        assert_int_equal(mknodat(rfd, "file", S_IFREG | 0644, 0), 0);
        assert_int_equal(tb_mkdir_beneath(rfd, "file/x", &fd), -ENOTDIR);
        snprintf(path, sizeof(path), "%s/x", outside);
        assert_int_equal(access(path, F_OK), -1); /* nothing made outside */
        close(rfd);
        rm(root);
        rm(outside);
        free(root);
        free(outside);
}

static void rm_rf_removes_a_symlink_not_its_target(void **state) {
        char *root = mkscratch(), *outside = mkscratch(), path[512];
        int rfd;
        (void)state;

        snprintf(path, sizeof(path), "%s/keep", outside);
        assert_int_equal(mknod(path, S_IFREG | 0644, 0), 0);
        rfd = open(root, O_RDONLY | O_DIRECTORY);
        assert_int_equal(mkdirat(rfd, "d", 0755), 0);
        assert_int_equal(symlinkat(outside, rfd, "d/link"), 0);
        assert_int_equal(fchmodat(rfd, "d", 0555, 0), 0); /* read-only directories are emptied too */
        assert_int_equal(tb_rm_rf_at(rfd, "d"), 0);
        assert_int_equal(faccessat(rfd, "d", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(access(path, F_OK), 0);
        assert_int_equal(tb_rm_rf_at(rfd, "missing"), 0);
        close(rfd);
        rm(root);
        rm(outside);
        free(root);
        free(outside);
}

static void split_gives_directory_and_name(void **state) {
        char *dir = NULL;
        const char *base = NULL;
        (void)state;

        assert_int_equal(tb_path_split("a/b/c", &dir, &base), 0);
        assert_string_equal(dir, "a/b");
        assert_string_equal(base, "c");
        free(dir);
        assert_int_equal(tb_path_split("top", &dir, &base), 0);
        assert_string_equal(dir, "");
        assert_string_equal(base, "top");
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(normalize_cleans_harmless_forms),
                cmocka_unit_test(normalize_refuses_escapes),
                cmocka_unit_test(mkdir_beneath_creates_but_never_follows_symlinks),
                cmocka_unit_test(rm_rf_removes_a_symlink_not_its_target),
                cmocka_unit_test(split_gives_directory_and_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
