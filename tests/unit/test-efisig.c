/* tests/unit/test-efisig.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sb/efisig.h"

static void guid_string_round_trips_in_mixed_endian_layout(void **state) {
        static const uint8_t want[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                          0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
        char s[TB_GUID_STRING_MAX];
        tb_guid g;
        (void)state;

        assert_int_equal(tb_guid_from_string("8be4df61-93ca-11d2-aa0d-00e098032b8c", &g), 0);
        assert_memory_equal(g.b, want, 16);
        assert_memory_equal(TB_GUID_EFI_GLOBAL_VARIABLE.b, want, 16);
        tb_guid_to_string(&g, s);
        assert_string_equal(s, "8be4df61-93ca-11d2-aa0d-00e098032b8c");
        assert_int_equal(tb_guid_from_string("8be4df61-93ca-11d2-aa0d-00e098032b8", &g), -EINVAL);
        assert_int_equal(tb_guid_from_string("8be4df61-93ca-11d2-aa0d-00e098032b8cc", &g), -EINVAL);
}

static void random_guid_is_version_4(void **state) {
        char s[TB_GUID_STRING_MAX];
        tb_guid g;
        (void)state;

        assert_int_equal(tb_guid_random(&g), 0);
        tb_guid_to_string(&g, s);
        assert_int_equal(s[14], '4');
        assert_true(strchr("89ab", s[19]) != NULL);
}

struct seen {
        int n;
        size_t lens[4];
};

static int collect(const tb_esl_entry *e, void *userdata) {
        struct seen *seen = userdata;

        assert_memory_equal(e->type.b, TB_GUID_CERT_X509.b, 16);
        seen->lens[seen->n++] = e->len;
        return 0;
}

static void esl_lists_concatenate_and_parse_back(void **state) {
        _cleanup_(tb_buf_freep) tb_buf esl = TB_BUF_INIT;
        struct seen seen = { 0 };
        (void)state;

        assert_int_equal(tb_esl_append_x509(&esl, &TB_GUID_OWNER_MICROSOFT, (const uint8_t *)"\x30\x01\x00", 3), 0);
        assert_int_equal(tb_esl_append_x509(&esl, &TB_GUID_OWNER_CUSTOM, (const uint8_t *)"\x30\x00", 2), 0);
        assert_int_equal(esl.len, (28 + 16 + 3) + (28 + 16 + 2));
        assert_int_equal(tb_get_u32le(esl.data + 16), 28 + 16 + 3); /* SignatureListSize */
        assert_int_equal(tb_get_u32le(esl.data + 24), 16 + 3);      /* SignatureSize */
        assert_int_equal(tb_esl_foreach(esl.data, esl.len, collect, &seen), 0);
        assert_int_equal(seen.n, 2);
        assert_int_equal(seen.lens[0], 3);
        assert_int_equal(seen.lens[1], 2);
}

static void esl_parser_rejects_lies(void **state) {
        _cleanup_(tb_buf_freep) tb_buf esl = TB_BUF_INIT;
        struct seen seen = { 0 };
        (void)state;

        assert_int_equal(tb_esl_append_x509(&esl, &TB_GUID_OWNER_MICROSOFT, (const uint8_t *)"\x30\x01\x00", 3), 0);
        assert_int_equal(tb_esl_foreach(esl.data, esl.len - 1, collect, &seen), -EBADMSG); /* truncated */
        tb_put_u32le(esl.data + 24, 4);                                                  /* SignatureSize < GUID */
        assert_int_equal(tb_esl_foreach(esl.data, esl.len, collect, &seen), -EBADMSG);
        tb_put_u32le(esl.data + 24, 19);
        tb_put_u32le(esl.data + 16, 0xffffffffu); /* list larger than the data */
        assert_int_equal(tb_esl_foreach(esl.data, esl.len, collect, &seen), -EBADMSG);
        assert_int_equal(seen.n, 0);
}

static void auth_signed_buffer_is_name_guid_attrs_time_payload(void **state) {
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        const uint8_t t[16] = { 0xea, 0x07, 11, 27 };
        (void)state;

        assert_int_equal(tb_auth_signed_buffer("db", &TB_GUID_IMAGE_SECURITY_DATABASE, TB_EFI_AUTH_VAR_ATTRS, t,
                                               (const uint8_t *)"ESL", 3, &out),
                         0);
        assert_int_equal(out.len, 4 + 16 + 4 + 16 + 3);
        assert_memory_equal(out.data, "d\0b\0", 4);
        assert_memory_equal(out.data + 4, TB_GUID_IMAGE_SECURITY_DATABASE.b, 16);
        assert_int_equal(tb_get_u32le(out.data + 20), 0x27);
        assert_memory_equal(out.data + 24, t, 16);
        assert_memory_equal(out.data + 40, "ESL", 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(guid_string_round_trips_in_mixed_endian_layout),
                cmocka_unit_test(random_guid_is_version_4),
                cmocka_unit_test(esl_lists_concatenate_and_parse_back),
                cmocka_unit_test(esl_parser_rejects_lies),
                cmocka_unit_test(auth_signed_buffer_is_name_guid_attrs_time_payload),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
