/* tests/unit/test-initrd-boot.c — what PID 1 can check without being PID 1: which paths are mount
 * points (the API file systems are mounted only where they are not). Mounting and powering off
 * are the e2e suite's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mount.h>

#include "node/initrd-boot.h"
#include "tmpdir.h"

static void mount_points_are_told_apart(void **state) {
        char dir[256], sub[300];
        (void)state;

        assert_true(tb_initrd_is_mountpoint("/"));
        assert_true(tb_initrd_is_mountpoint("/proc"));
        tb_test_tmpdir_make(dir, sizeof(dir), "initrd-boot");
        assert_false(tb_initrd_is_mountpoint(dir));
        snprintf(sub, sizeof(sub), "%s/none", dir);
        assert_false(tb_initrd_is_mountpoint(sub));
        /* A tmpfs on it makes it one (root only: the suite runs as root, as init does). */
        if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") == 0) {
                assert_true(tb_initrd_is_mountpoint(dir));
                assert_int_equal(umount(dir), 0);
                assert_false(tb_initrd_is_mountpoint(dir));
        }
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(mount_points_are_told_apart),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
