/* tests/unit/test-buf.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/buf.h"

static void appends_grow_and_keep_little_endian_order(void **state) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        (void)state;

        for (int i = 0; i < 1000; i++)
                assert_int_equal(tb_buf_append_u32le(&b, 0x04030201u), 0);
        assert_int_equal(b.len, 4000);
        assert_memory_equal(b.data + 3996, "\x01\x02\x03\x04", 4);
        assert_int_equal(tb_buf_append_u16le(&b, 0xbeef), 0);
        assert_int_equal(tb_get_u16le(b.data + 4000), 0xbeef);
        tb_put_u64le(b.data, 0x1122334455667788ull);
        assert_true(tb_get_u64le(b.data) == 0x1122334455667788ull);
}

static void reserve_refuses_overflowing_sizes(void **state) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_buf_append_zero(&b, 16), 0);
        assert_int_equal(tb_buf_reserve(&b, SIZE_MAX - 8), -ENOMEM);
        assert_int_equal(b.len, 16);
}

static void wipe_releases_and_resets(void **state) {
        tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_buf_append(&b, "secret", 6), 0);
        tb_buf_wipe(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
}

static void append_str_leaves_out_the_nul(void **state) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_buf_append_str(&b, "ab"), 0);
        assert_int_equal(tb_buf_append_str(&b, ""), 0);
        assert_int_equal(tb_buf_append_str(&b, "c"), 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.data, "abc", 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(appends_grow_and_keep_little_endian_order),
                cmocka_unit_test(reserve_refuses_overflowing_sizes),
                cmocka_unit_test(wipe_releases_and_resets),
                cmocka_unit_test(append_str_leaves_out_the_nul),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
