/* tests/unit/test-handover.c — the hand-over's checks that need no new root: the image's init
 * must be an executable file; the xattr manifest is applied (security.* only, malformed lines
 * skipped) and removed; the memory and root-size readings. switch_root is the e2e suite's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "node/handover.h"
#include "rootfs/initrd.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "tmpdir.h"

static void init_must_be_an_executable_file(void **state) {
        char dir[256], p[400];
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "handover");
        snprintf(p, sizeof(p), "%s/missing", dir);
        assert_int_equal(tb_handover_check_init(p), -ENOENT);
        assert_int_equal(tb_handover_check_init(dir), -EACCES); /* a directory */
        snprintf(p, sizeof(p), "%s/init", dir);
        assert_int_equal(tb_write_file_new(p, "#!/bin/sh\n", 10, 0644), 0);
        assert_int_equal(tb_handover_check_init(p), -EACCES);
        assert_int_equal(chmod(p, 0755), 0);
        assert_int_equal(tb_handover_check_init(p), 0);
        tb_test_tmpdir_remove(dir);
}

/* One manifest line: the path (relative to /) and the value in hex, as build-uki writes them. */
static void line(tb_buf *m, const char *path, const char *name, const char *value) {
        char hp[1024], hv[256];

        tb_hex_encode((const uint8_t *)path, strlen(path), hp);
        tb_hex_encode((const uint8_t *)value, strlen(value), hv);
        assert_int_equal(tb_buf_append(m, hp, strlen(hp)), 0);
        assert_int_equal(tb_buf_append(m, " ", 1), 0);
        assert_int_equal(tb_buf_append(m, name, strlen(name)), 0);
        assert_int_equal(tb_buf_append(m, " ", 1), 0);
        assert_int_equal(tb_buf_append(m, hv, strlen(hv)), 0);
        assert_int_equal(tb_buf_append(m, "\n", 1), 0);
}

static void manifest_is_applied_and_removed(void **state) {
        char dir[256], file[400], manifest[400], got[64];
        tb_buf m = TB_BUF_INIT;
        ssize_t n;
        (void)state;

        if (geteuid() != 0)
                skip(); /* security.* attributes need CAP_SYS_ADMIN, as init has */
        tb_test_tmpdir_make(dir, sizeof(dir), "handover");
        snprintf(file, sizeof(file), "%s/ping", dir);
        assert_int_equal(tb_write_file_new(file, "", 0, 0755), 0);
        snprintf(manifest, sizeof(manifest), "%s/manifest", dir);

        assert_int_equal(tb_buf_append(&m, TB_INITRD_XATTR_MANIFEST_HEADER "\n", strlen(TB_INITRD_XATTR_MANIFEST_HEADER) + 1), 0);
        line(&m, file + 1, "security.tbtest", "cap-bytes");
        line(&m, file + 1, "user.tbtest", "not security");            /* only security.* */
        line(&m, "tmp/no/such/file", "security.tbtest", "x");          /* named, not fatal */
        assert_int_equal(tb_buf_append(&m, "zz not-hex\n", 11), 0);   /* malformed */
        assert_int_equal(tb_write_file_new(manifest, m.data, m.len, 0600), 0);

        assert_int_equal(tb_handover_apply_xattrs(manifest), 1);
        n = getxattr(file, "security.tbtest", got, sizeof(got));
        assert_int_equal(n, 9);
        assert_memory_equal(got, "cap-bytes", 9);
        assert_true(getxattr(file, "user.tbtest", got, sizeof(got)) < 0);
        assert_false(tb_path_exists(manifest));

        /* No manifest: nothing to do. Another version's: ignored, and removed all the same. */
        assert_int_equal(tb_handover_apply_xattrs(manifest), 0);
        assert_int_equal(tb_write_file_new(manifest, "trustboot-xattrs 99\n", 20, 0600), 0);
        assert_int_equal(tb_handover_apply_xattrs(manifest), 0);
        assert_false(tb_path_exists(manifest));
        tb_buf_free(&m);
        tb_test_tmpdir_remove(dir);
}

static void memory_in_use_is_read(void **state) {
        (void)state;
        /* A running system uses memory; the test binary alone uses more than a MiB. */
        assert_true(tb_handover_mem_used() > (1u << 20));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(init_must_be_an_executable_file),
                cmocka_unit_test(manifest_is_applied_and_removed),
                cmocka_unit_test(memory_in_use_is_read),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
