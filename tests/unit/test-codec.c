/* tests/unit/test-codec.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/codec.h"

static void base64_round_trips_every_padding_length(void **state) {
        const uint8_t data[] = { 0xfb, 0xff, 0x00, 0x10, 0x7f };
        (void)state;

        for (size_t n = 0; n <= sizeof(data); n++) {
                _cleanup_(tb_buf_freep) tb_buf enc = TB_BUF_INIT, dec = TB_BUF_INIT;

                assert_int_equal(tb_base64_encode(data, n, &enc), 0);
                assert_int_equal(enc.len, 4 * ((n + 2) / 3));
                assert_int_equal(strlen((const char *)enc.data), enc.len);
                assert_int_equal(tb_base64_decode((const char *)enc.data, enc.len, &dec), 0);
                assert_int_equal(dec.len, n);
                if (n)
                        assert_memory_equal(dec.data, data, n);
        }
}

static void base64_of_32_bytes_is_the_44_char_keyslot_passphrase(void **state) {
        _cleanup_(tb_buf_freep) tb_buf enc = TB_BUF_INIT;
        uint8_t secret[32];
        (void)state;

        for (int i = 0; i < 32; i++)
                secret[i] = (uint8_t)i;
        assert_int_equal(tb_base64_encode(secret, sizeof(secret), &enc), 0);
        assert_string_equal((const char *)enc.data, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
}

static void base64_decode_rejects_whitespace_bad_padding_and_bad_chars(void **state) {
        static const char *bad[] = { "AAE", "AA E", "AA\nE", "A===", "AA=A", "AA-_", "=AAA" };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                _cleanup_(tb_buf_freep) tb_buf dec = TB_BUF_INIT;

                if (tb_base64_decode(bad[i], strlen(bad[i]), &dec) != -EINVAL)
                        fail_msg("accepted '%s'", bad[i]);
        }
}

/* An empty string into a buffer that has no storage yet: UBSan (the sanitize build) caught
 * "NULL + 0" here when .pcrsig or a LUKS token held an empty base64 field. */
static void base64_decode_of_nothing_into_an_empty_buffer_is_empty(void **state) {
        tb_buf out = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_base64_decode("", 0, &out), 0);
        assert_int_equal(out.len, 0);
        tb_buf_free(&out);
}

static void hex_decode_is_exact_length_and_case_insensitive(void **state) {
        uint8_t b[2];
        char s[5];
        (void)state;

        assert_int_equal(tb_hex_decode("aB0f", b, 2), 0);
        assert_int_equal(b[0], 0xab);
        assert_int_equal(b[1], 0x0f);
        tb_hex_encode(b, 2, s);
        assert_string_equal(s, "ab0f");
        assert_int_equal(tb_hex_decode("ab0", b, 2), -EINVAL);
        assert_int_equal(tb_hex_decode("ab0fa", b, 2), -EINVAL);
        assert_int_equal(tb_hex_decode("ab0g", b, 2), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(base64_round_trips_every_padding_length),
                cmocka_unit_test(base64_of_32_bytes_is_the_44_char_keyslot_passphrase),
                cmocka_unit_test(base64_decode_rejects_whitespace_bad_padding_and_bad_chars),
                cmocka_unit_test(base64_decode_of_nothing_into_an_empty_buffer_is_empty),
                cmocka_unit_test(hex_decode_is_exact_length_and_case_insensitive),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
