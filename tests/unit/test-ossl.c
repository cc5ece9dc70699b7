/* tests/unit/test-ossl.c — the firmware's certificate rules for X509_STORE: an expired or not yet
 * valid certificate, or one without the usual key usages, still verifies (UEFI has no trusted
 * clock and checks no usages); a wrong signer does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <stdbool.h>

#include "util/ossl.h"
#include "testcert.h"

/* 1 if CERT verifies against the store holding TRUSTED, with or without the firmware's rules. */
static int verify(X509 *cert, X509 *trusted, bool firmware) {
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        int ok;

        assert_non_null(store);
        assert_non_null(ctx);
        assert_int_equal(X509_STORE_add_cert(store, trusted), 1);
        if (firmware)
                X509_STORE_set_verify_cb(store, tb_ossl_firmware_verify_cb);
        assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
        ok = X509_verify_cert(ctx);
        X509_STORE_CTX_free(ctx);
        ERR_clear_error();
        return ok;
}

static void expired_certificates_verify_under_firmware_rules_only(void **state) {
        EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
        X509 *fresh = tb_test_cert(key, "db", 3600), *expired = tb_test_cert(key, "db", -60);
        X509 *stranger = tb_test_cert(other, "db", 3600);
        (void)state;

        assert_int_equal(verify(fresh, fresh, false), 1);
        assert_int_equal(verify(expired, expired, false), 0); /* OpenSSL's own rules */
        assert_int_equal(verify(expired, expired, true), 1);
        /* The same name, another key: the signature chain is what counts. */
        assert_int_equal(verify(stranger, fresh, true), 0);
        X509_free(fresh);
        X509_free(expired);
        X509_free(stranger);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(expired_certificates_verify_under_firmware_rules_only),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
