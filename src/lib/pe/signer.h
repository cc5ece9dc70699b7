/* signer.h — "a private key + certificate" and the PEM/DER files they come from. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/buf.h"

/* Loads a PEM private key (PKCS#8 or traditional, unencrypted). -ENOENT/-EACCES from the
 * file system, -EBADMSG if it holds no private key. */
int tb_key_load(const char *path, EVP_PKEY **ret);

/* Loads a PEM public key (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"); -EBADMSG if there is none. */
int tb_pubkey_load(const char *path, EVP_PKEY **ret);

/* Loads one X.509 certificate, PEM or DER. -EBADMSG if the file is not a certificate. */
int tb_cert_load(const char *path, X509 **ret);
int tb_cert_from_der(const uint8_t *der, size_t len, X509 **ret);

typedef struct tb_signer {
        EVP_PKEY *key;
        X509 *cert;
} tb_signer;

/* Loads both and checks that the key belongs to the certificate (-EKEYREJECTED if not).
 * Logs the file and the problem. */
int tb_signer_load(const char *key_path, const char *cert_path, tb_signer *ret);
void tb_signer_done(tb_signer *s);

/* PKCS#8 PEM of KEY into OUT; the caller wipes OUT (tb_buf_wipe). */
int tb_key_to_pem(EVP_PKEY *key, tb_buf *out);
int tb_cert_to_pem(X509 *cert, tb_buf *out);
int tb_cert_to_der(X509 *cert, tb_buf *out);
