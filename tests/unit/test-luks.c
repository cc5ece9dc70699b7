/* tests/unit/test-luks.c — what tb_luks_format refuses before it touches the device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tpm/luks.h"

/* A cloud-config's fs for an encrypted partition picks mkfs.<fs>: a path there would run a
 * program of the attacker's choosing. Refused before anything is written. */
static void mkfs_name_with_a_path_is_refused_and_the_device_untouched(void **state) {
        static const char *const bad[] = { "../../tmp/evil", "ext4/../../x", "..", "EXT4", "ext4 -E x" };
        char path[] = "/tmp/test-luks-XXXXXX";
        uint8_t before[4096], after[4096];
        int fd = mkstemp(path);
        (void)state;

        assert_true(fd >= 0);
        for (size_t i = 0; i < sizeof(before); i++)
                before[i] = (uint8_t)(i * 7);
        assert_int_equal(ftruncate(fd, 32 << 20), 0);
        assert_int_equal(pwrite(fd, before, sizeof(before), 0), (ssize_t)sizeof(before));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                tb_luks_enroll e = { .label = "PARTITION_TWO", .mkfs = bad[i] };
                assert_int_equal(tb_luks_format(path, &e), -EINVAL);
        }
        assert_int_equal(pread(fd, after, sizeof(after), 0), (ssize_t)sizeof(after));
        assert_memory_equal(before, after, sizeof(before));
        close(fd);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(mkfs_name_with_a_path_is_refused_and_the_device_untouched),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
