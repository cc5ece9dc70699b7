/* ossl.h — cleanup helpers for OpenSSL types, so that every error path frees what it took. */
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/macro.h"

TB_DEFINE_CLEANUP(EVP_PKEY *, EVP_PKEY_free)
TB_DEFINE_CLEANUP(EVP_PKEY_CTX *, EVP_PKEY_CTX_free)
TB_DEFINE_CLEANUP(EVP_MD_CTX *, EVP_MD_CTX_free)
TB_DEFINE_CLEANUP(X509 *, X509_free)
TB_DEFINE_CLEANUP(X509_NAME *, X509_NAME_free)
TB_DEFINE_CLEANUP(X509_STORE *, X509_STORE_free)
TB_DEFINE_CLEANUP(X509_EXTENSION *, X509_EXTENSION_free)
TB_DEFINE_CLEANUP(BIO *, BIO_free_all)
TB_DEFINE_CLEANUP(PKCS7 *, PKCS7_free)
TB_DEFINE_CLEANUP(BIGNUM *, BN_free)
TB_DEFINE_CLEANUP(ASN1_INTEGER *, ASN1_INTEGER_free)

static inline void OPENSSL_freep(void *p) {
        OPENSSL_free(*(void **)p);
}

/* An X509_STORE verify callback with the firmware's rules: UEFI checks neither validity periods
 * (it has no trusted clock) nor key usages; only the signature chain counts. For Authenticode
 * and for authenticated variables alike. */
int tb_ossl_firmware_verify_cb(int ok, X509_STORE_CTX *ctx);

/* Logs the OpenSSL error queue at debug level and clears it (errors reach the user as one line). */
void tb_ossl_drain_errors(const char *context);
