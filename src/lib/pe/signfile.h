/* signfile.h — Authenticode on image files, as `trustboot sign` (sbsign) and `trustboot verify`
 * (sbverify) do it: load the key or certificate, open the image, sign it into a new file put in
 * place atomically, or verify it and say which signature matched or why none did. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "pe/authenticode.h"

/* Signs the image IN with KEY (PEM file or pkcs11: URI) and its certificate CERT into OUT (IN
 * itself when OUT is NULL), with IN's permission bits; OUT appears whole or not at all. Refuses
 * an image that is already signed unless REPLACE. Deterministic. Logs what fails. */
int tb_signfile_sign(const char *in, const char *out, const char *key, const char *cert, bool replace);

/* What tb_signfile_verify() found: the signature that verified (V.index, V.signer) and the
 * image's SBAT entries after the "sbat,1,…" header (those revocation by generation applies to). */
typedef struct tb_signfile_verdict {
        tb_authenticode_verdict v;
        char **sbat; /* strv, NULL when the image has no readable .sbat */
        size_t n_sbat;
} tb_signfile_verdict;
void tb_signfile_verdict_done(tb_signfile_verdict *r);

/* Verifies the image PATH against the certificate CERT_PATH (it or a certificate it issued
 * signed, and the signed hash matches). 1 when a signature does (*RET filled); 0 when none does,
 * logged with the reason ("PATH: image is not signed", or which signature and why); a negative
 * errno, logged, when the certificate or the image cannot be read or a signature checked. */
int tb_signfile_verify(const char *path, const char *cert_path, tb_signfile_verdict *ret);
