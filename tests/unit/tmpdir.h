/* tmpdir.h — the unit tests' one temporary-directory fixture: a fresh private directory under
 * $TMPDIR (or /tmp) per test, removed with everything in it afterwards. Include after cmocka.h. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

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
