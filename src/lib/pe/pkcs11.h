/* pkcs11.h — private keys that live in a PKCS#11 token (an HSM, a smart card, softhsm2), named
 * by RFC 7512 URIs: "pkcs11:token=fleet;object=db?pin-source=/run/pin". p11-kit parses the URI,
 * libp11 drives the token and gives OpenSSL an EVP_PKEY whose private operations happen inside
 * it (docs/notes/keys.md says why this stack). The module is the URI's module-path, else
 * p11-kit's proxy, which loads every module registered with p11-kit (softhsm2 registers itself).
 *
 * The PIN: pin-value= or pin-source= (a file path or file: URI) in the URI, else the callback set
 * with tb_pkcs11_set_pin_prompt() (a terminal prompt). It is never logged: every message names
 * the URI with its pin-value removed (tb_pkcs11_display_uri). */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#define TB_PKCS11_URI_PREFIX "pkcs11:"

bool tb_pkcs11_is_uri(const char *s);

/* Asks for the PIN of TOKEN_LABEL; writes a NUL-terminated PIN to BUF. 0, or a negative errno
 * (-ENOKEY: nobody to ask). */
typedef int (*tb_pkcs11_pin_prompt)(const char *token_label, char *buf, size_t size);
void tb_pkcs11_set_pin_prompt(tb_pkcs11_pin_prompt fn);

/* URI without pin-value (malloc'ed), for messages; NULL on allocation failure. */
char *tb_pkcs11_display_uri(const char *uri);

/* The private key URI names (object and/or id, type private or absent), from exactly one token.
 * Logs one line naming the URI and the problem: unknown attribute, no such token, wrong PIN,
 * locked PIN, no or several matching keys. The key stays usable for the life of the process. */
int tb_pkcs11_load_key(const char *uri, EVP_PKEY **ret);

/* Generates an RSA key pair of BITS inside the token URI names, labelled LABEL (URI's object=
 * must be absent) with a fresh random CKA_ID; the private key never leaves the token. Returns
 * the key (usable for signing) and, in RET_URI (malloc'ed), a URI naming the new private key,
 * with URI's pin-source (a path) but never its pin-value. Refuses (-EEXIST) if a key with LABEL exists already. Logs. */
int tb_pkcs11_generate_rsa(const char *uri, unsigned bits, const char *label, EVP_PKEY **ret,
                           char **ret_uri);
