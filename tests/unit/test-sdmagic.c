/* tests/unit/test-sdmagic.c — systemd's .sdmagic LoaderInfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pe/sdmagic.h"

static void info_is_product_and_version(void **state) {
        static const char s[] = "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####";
        char *info = NULL;
        (void)state;

        assert_int_equal(tb_sdmagic_info(s, sizeof(s), &info), 0);
        assert_string_equal(info, "systemd-stub 252.39-1~deb12u2");
        free(info);
        /* Without terminator and NUL (a section's raw bytes). */
        assert_int_equal(tb_sdmagic_info("LoaderInfo: systemd-boot 256", 28, &info), 0);
        assert_string_equal(info, "systemd-boot 256");
        free(info);
        assert_int_equal(tb_sdmagic_info("no loader info here", 19, &info), -EBADMSG);
}

static void major_needs_the_named_product_and_a_number(void **state) {
        static const char s[] = "#### LoaderInfo: systemd-boot 257.9-1 ####";
        (void)state;

        assert_int_equal(tb_sdmagic_major(s, sizeof(s), "systemd-boot"), 257);
        assert_int_equal(tb_sdmagic_major(s, sizeof(s), "systemd-stub"), -EBADMSG);
        assert_int_equal(tb_sdmagic_major(s, sizeof(s), "systemd"), -EBADMSG);
        assert_int_equal(tb_sdmagic_major("LoaderInfo: systemd-boot v9 ####", 31, "systemd-boot"), -EBADMSG);
        assert_int_equal(tb_sdmagic_major("LoaderInfo: systemd-boot ", 25, "systemd-boot"), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(info_is_product_and_version),
                cmocka_unit_test(major_needs_the_named_product_and_a_number),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
