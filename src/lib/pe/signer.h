/* signer.h — "a private key + certificate" and the PEM/DER files they come from. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/buf.h"

/* Loads a PEM private key (PKCS#8 or traditional, unencrypted). -ENOENT/-EACCES from the
 * file system, -EBADMSG if it holds no private key. */
int tb_key_load(const char *path, EVP_PKEY **ret);

/* A private key from a PEM file or a PKCS#11 token ("pkcs11:" URI, pe/pkcs11.h). Logs one
 * line naming the key (a URI without its pin-value) and the problem. */
int tb_private_key_load(const char *ref, EVP_PKEY **ret);

/* REF as it may appear in messages: a path as is, a pkcs11: URI without pin-value. malloc'ed. */
char *tb_key_display_name(const char *ref);

/* Loads a PEM public key (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"); -EBADMSG if there is none. */
int tb_pubkey_load(const char *path, EVP_PKEY **ret);

/* Loads one X.509 certificate, PEM or DER. -EBADMSG if the file is not a certificate. */
int tb_cert_load(const char *path, X509 **ret);
int tb_cert_from_der(const uint8_t *der, size_t len, X509 **ret);

typedef struct tb_signer {
        EVP_PKEY *key;
        X509 *cert;
} tb_signer;

/* Loads both (the key from a PEM file or a pkcs11: URI) and checks that the key belongs to the
 * certificate (-EKEYREJECTED if not). Logs the file and the problem; warns about expiry. */
int tb_signer_load(const char *key_path, const char *cert_path, tb_signer *ret);
void tb_signer_done(tb_signer *s);

/* Warns (NAME: certificate SUBJECT expires on DATE) when CERT expires within the warning
 * period, loudly when it has expired. 0 if neither, 1 if soon, 2 if expired. tb_signer_load()
 * does this for every certificate it loads. */
int tb_cert_warn_expiry(X509 *cert, const char *name);
void tb_cert_set_expiry_warn_days(unsigned days); /* default 30 */

/* PKCS#8 PEM of KEY into OUT; the caller wipes OUT (tb_buf_wipe). */
int tb_key_to_pem(EVP_PKEY *key, tb_buf *out);
int tb_pubkey_to_pem(EVP_PKEY *key, tb_buf *out); /* "BEGIN PUBLIC KEY" */
int tb_cert_to_pem(X509 *cert, tb_buf *out);
int tb_cert_to_der(X509 *cert, tb_buf *out);
