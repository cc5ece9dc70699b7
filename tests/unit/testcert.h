/* testcert.h — the unit tests' one self-signed certificate maker. Include after cmocka.h. */
#pragma once

#include <openssl/x509.h>

/* A self-signed X.509 v3 certificate for KEY with subject and issuer CN=CN, valid from an hour
 * before now (or before NOT_AFTER, if that is earlier) until NOT_AFTER seconds from now. Fails
 * the test if OpenSSL cannot sign it. */
static inline X509 *tb_test_cert(EVP_PKEY *key, const char *cn, long not_after) {
        X509 *c = X509_new();
        X509_NAME *name;

        assert_non_null(c);
        name = X509_get_subject_name(c);
        X509_set_version(c, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(c), 42);
        X509_gmtime_adj(X509_getm_notBefore(c), (not_after < 0 ? not_after : 0) - 3600);
        X509_gmtime_adj(X509_getm_notAfter(c), not_after);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
        X509_set_issuer_name(c, name);
        X509_set_pubkey(c, key);
        assert_true(X509_sign(c, key, EVP_sha256()) > 0);
        return c;
}
