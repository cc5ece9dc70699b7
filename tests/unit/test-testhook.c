/* tests/unit/test-testhook.c — the library (what `trustboot` links) carries no test hooks: with
 * every TRUSTBOOT_TEST_* variable set, nothing is overridden and a step is not a fault. The hooks
 * themselves are exercised through trustboot-test by the interop and power-loss suites. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "util/testhook.h"

static void the_release_library_reads_no_test_variable(void **state) {
        uint64_t v = 7;
        (void)state;

        setenv("TRUSTBOOT_TEST_FAULT", "1", 1);
        setenv("TRUSTBOOT_TEST_ESP_FREE", "1", 1);
        setenv("TRUSTBOOT_TEST_ESP_SIZE", "1", 1);
        assert_false(tb_testhook_enabled());
        tb_testhook_step("write-uki /EFI/trustboot/active.efi"); /* would be SIGKILL with the hooks */
        tb_testhook_step("write-uki /EFI/trustboot/active.efi");
        assert_false(tb_testhook_free_space(&v));
        assert_false(tb_testhook_fs_size(&v));
        assert_int_equal(v, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(the_release_library_reads_no_test_variable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
