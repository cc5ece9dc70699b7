/* tests/unit/test-sbupdate.c — signed variable updates: what an append signs, who may sign it,
 * and that a damaged file is recognised as such (efitools byte-identity and the efivarfs write
 * are proved in tests/interop/sb-dbx-enroll-efitools.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sb/sbupdate.h"
#include "testcert.h"

static void append_verifies_only_with_its_signer_and_the_append_attributes(void **state) {
        EVP_PKEY *kek_key = EVP_RSA_gen(2048), *other_key = EVP_RSA_gen(2048);
        X509 *kek = tb_test_cert(kek_key, "kek", 3600), *other = tb_test_cert(other_key, "other", 3600);
        static const uint8_t h[32] = { 0x42 };
        tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        tb_auth_parts p;
        (void)state;

        assert_int_equal(tb_esl_append(&esl, &TB_GUID_CERT_SHA256, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_DBX, &esl, 1700000000, kek_key, kek, &auth), 0);
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), 0);
        assert_int_equal(p.payload_len, esl.len);
        assert_memory_equal(p.payload, esl.data, esl.len);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &kek, 1), 1);
        /* The attributes, the variable and the signer are all part of what is checked. */
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x27, &kek, 1), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DB, 0x67, &kek, 1), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &other, 1), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, (X509 *[]){ other, kek }, 2), 1);
        /* A changed payload byte breaks it. */
        auth.data[auth.len - 1] ^= 1;
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &kek, 1), 0);
        /* PK and KEK are never appended to by this. */
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_KEK, &esl, 1700000000, kek_key, kek, &auth), -EINVAL);
        tb_buf_free(&esl);
        tb_buf_free(&auth);
        X509_free(kek);
        X509_free(other);
        EVP_PKEY_free(kek_key);
        EVP_PKEY_free(other_key);
}

static void truncated_or_foreign_files_are_ebadmsg(void **state) {
        EVP_PKEY *key = EVP_RSA_gen(2048);
        X509 *cert = tb_test_cert(key, "kek", 3600);
        static const uint8_t h[32] = { 1 };
        tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        tb_auth_parts p;
        (void)state;

        assert_int_equal(tb_esl_append(&esl, &TB_GUID_CERT_SHA256, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_DB, &esl, 1700000000, key, cert, &auth), 0);
        for (size_t n = 0; n < auth.len; n += 97)
                assert_int_equal(tb_auth_parse(auth.data, n, &p), -EBADMSG);
        assert_int_equal(tb_auth_parse(auth.data, auth.len - 1, &p), -EBADMSG);
        auth.data[16 + 6] = 0x02; /* wCertificateType: not WIN_CERT_TYPE_EFI_GUID */
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), -EBADMSG);
        tb_buf_free(&esl);
        tb_buf_free(&auth);
        X509_free(cert);
        EVP_PKEY_free(key);
}

static void variable_names_round_trip(void **state) {
        tb_sbvar v;
        (void)state;

        assert_int_equal(tb_sbvar_from_name("dbx", &v), 0);
        assert_int_equal(v, TB_SBVAR_DBX);
        assert_string_equal(tb_sbvar_name(TB_SBVAR_KEK), "KEK");
        assert_ptr_equal(tb_sbvar_vendor(TB_SBVAR_PK), &TB_GUID_EFI_GLOBAL_VARIABLE);
        assert_ptr_equal(tb_sbvar_vendor(TB_SBVAR_DB), &TB_GUID_IMAGE_SECURITY_DATABASE);
        assert_int_equal(tb_sbvar_from_name("DB", &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(append_verifies_only_with_its_signer_and_the_append_attributes),
                cmocka_unit_test(truncated_or_foreign_files_are_ebadmsg),
                cmocka_unit_test(variable_names_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
