/* tests/unit/test-sbexpiry.c — expiry warnings for the enrolled PK and KEK, read from a fake
 * efivarfs directory: only certificates within the warning period (or expired) count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "pe/signer.h"
#include "sb/efisig.h"
#include "sb/sbexpiry.h"
#include "tmpdir.h"
#include "util/buf.h"
#include "util/fileio.h"

static EVP_PKEY *key;

/* A self-signed certificate valid until DAYS from now (negative: expired). */
static void cert_der(long days, tb_buf *out) {
        X509 *c = X509_new();
        X509_NAME *name = X509_get_subject_name(c);
        uint8_t *der = NULL;
        int n;

        X509_set_version(c, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
        X509_gmtime_adj(X509_getm_notBefore(c), -3 * 365 * 86400L);
        X509_gmtime_adj(X509_getm_notAfter(c), days * 86400L);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"expiry test", -1, -1, 0);
        X509_set_issuer_name(c, name);
        X509_set_pubkey(c, key);
        assert_true(X509_sign(c, key, EVP_sha256()) > 0);
        n = i2d_X509(c, &der);
        assert_true(n > 0);
        assert_int_equal(tb_buf_append(out, der, (size_t)n), 0);
        OPENSSL_free(der);
        X509_free(c);
}

/* DIR/NAME-<global GUID>: attributes, then an ESL with one certificate per DAYS entry. */
static void write_var(const char *dir, const char *name, const long *days, size_t n) {
        tb_buf var = TB_BUF_INIT;
        char guid[TB_GUID_STRING_MAX], path[512];
        static const uint8_t attrs[4] = { 0x27, 0, 0, 0 };

        assert_int_equal(tb_buf_append(&var, attrs, sizeof(attrs)), 0);
        for (size_t i = 0; i < n; i++) {
                tb_buf der = TB_BUF_INIT;
                cert_der(days[i], &der);
                assert_int_equal(tb_esl_append_x509(&var, &TB_GUID_OWNER_CUSTOM, der.data, der.len), 0);
                tb_buf_free(&der);
        }
        tb_guid_to_string(&TB_GUID_EFI_GLOBAL_VARIABLE, guid);
        snprintf(path, sizeof(path), "%s/%s-%s", dir, name, guid);
        assert_int_equal(tb_write_file_new(path, var.data, var.len, 0644), 0);
        tb_buf_free(&var);
}

static void counts_only_expiring_and_expired(void **state) {
        char buf[512];
        const char *dir = tb_test_tmpdir_make(buf, sizeof(buf), "sbexpiry");
        static const long pk[] = { 400 }, kek[] = { 5, -2, 365 };
        (void)state;

        assert_int_equal(tb_sb_warn_enrolled_expiry(dir), 0); /* no variables: nothing, no failure */
        write_var(dir, "PK", pk, 1);
        write_var(dir, "KEK", kek, 3);
        tb_cert_set_expiry_warn_days(30);
        assert_int_equal(tb_sb_warn_enrolled_expiry(dir), 2); /* in 5 days, 2 days ago */
        tb_cert_set_expiry_warn_days(366);
        assert_int_equal(tb_sb_warn_enrolled_expiry(dir), 3);
        tb_cert_set_expiry_warn_days(1000);
        assert_int_equal(tb_sb_warn_enrolled_expiry(dir), 4);
        tb_cert_set_expiry_warn_days(30);
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(counts_only_expiring_and_expired),
        };
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
        int r;

        if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) <= 0 ||
            EVP_PKEY_keygen(ctx, &key) <= 0)
                return 1;
        EVP_PKEY_CTX_free(ctx);
        r = cmocka_run_group_tests(tests, NULL, NULL);
        EVP_PKEY_free(key);
        return r;
}
