/* tmpdir.h — the unit tests' one temporary-directory fixture: a fresh private directory under
 * $TMPDIR (or /tmp) per test, removed with everything in it afterwards. Include after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "util/fileio.h"

/* Creates the directory into BUF (at least 64 bytes + strlen($TMPDIR)); fails the test if it cannot. */
static inline const char *tb_test_tmpdir_make(char *buf, size_t size, const char *name) {
        const char *tmp = getenv("TMPDIR");

        snprintf(buf, size, "%s/tb-test-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
        assert_non_null(mkdtemp(buf));
        return buf;
}

static inline void tb_test_tmpdir_remove(const char *dir) {
        if (dir && *dir)
                tb_rm_rf(dir);
}

/* DIR/REL as a new directory (its parent must exist). */
static inline void tb_test_mkdir(const char *dir, const char *rel) {
        char p[4096];

        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        assert_int_equal(mkdir(p, 0755), 0);
}

/* DIR/REL as a new file of LEN bytes from DATA, mode 0644. */
static inline void tb_test_write(const char *dir, const char *rel, const void *data, size_t len) {
        char p[4096];

        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        assert_int_equal(tb_write_file_new(p, data, len, 0644), 0);
}

/* A test file whose tests share one directory: TB_TEST_GROUP_DIR(dir, "name") defines the
 * buffer DIR and the cmocka group setup and teardown that make and remove it:
 *   return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown); */
#define TB_TEST_GROUP_DIR(var, name)                                          \
        static char var[128];                                                 \
        static int tb_test_group_setup(void **state) {                        \
                (void)state;                                                  \
                tb_test_tmpdir_make(var, sizeof(var), name);                  \
                return 0;                                                     \
        }                                                                     \
        static int tb_test_group_teardown(void **state) {                     \
                (void)state;                                                  \
                tb_test_tmpdir_remove(var);                                   \
                return tb_path_exists(var) ? -1 : 0;                          \
        }

/* The cmocka teardown of a per-test fixture that is malloc'ed and begins with its directory
 * (`struct { char dir[N]; … }`): removes the directory and frees the fixture. A fixture that
 * holds more frees that first and ends its own teardown with this. */
static inline int tb_test_fixture_teardown(void **state) {
        char *dir = *state; /* the first member */

        tb_test_tmpdir_remove(dir);
        free(*state);
        return 0;
}
