/* authenticode.h — Authenticode for PE images as sbsign and UEFI firmware do it: the image hash,
 * PKCS#7 SignedData over an SpcIndirectDataContent, the attribute certificate table.
 * Byte layouts: shared/research/formats.md §6. */
#pragma once

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "pe/pe.h"
#include "pe/signer.h"

/* The image hash of PE's output image with MD (§6.2): headers without CheckSum and the
 * certificate directory entry, sections in file order, trailing data; never the certificate
 * table. An unsigned image is hashed as if zero-padded to 8 bytes, as the signer writes it. */
int tb_authenticode_digest(const tb_pe *pe, const EVP_MD *md, uint8_t out[EVP_MAX_MD_SIZE], unsigned *ret_len);

/* true for SHA-256, SHA-384 and SHA-512: the image hashes UEFI firmware (EDK2) accepts. */
bool tb_authenticode_digest_allowed(const EVP_MD *md);

/* The DER SpcIndirectDataContent sbsign emits for a SHA-256 image digest (106 bytes). */
#define TB_AUTHENTICODE_IDC_SIZE 106
void tb_authenticode_idc(const uint8_t digest[32], uint8_t out[TB_AUTHENTICODE_IDC_SIZE]);

/* PKCS#7 SignedData (DER) over DIGEST, with contentType and messageDigest as the only signed
 * attributes: no signing time, so the same input and key always give the same bytes. */
int tb_authenticode_pkcs7(const uint8_t digest[32], const tb_signer *signer, tb_buf *out);

/* Writes PE's output image signed by SIGNER to FD (a new, seekable file; OUT_NAME for
 * messages): the image padded to 8 bytes, one WIN_CERTIFICATE, the security directory and the
 * PE checksum. The image is read once: hashed and checksummed while it is written, the
 * directory entry and checksum filled in at the end. Existing signatures are dropped. Logs
 * what fails. Changes PE's headers: do not write PE again afterwards.
 * This is how a UKI is made: tb_pe_open(stub), tb_pe_strip_symbols(), tb_pe_add_section()
 * per section (data or file), then this, into a tb_atomic_open() file. */
int tb_authenticode_sign(tb_pe *pe, const tb_signer *signer, int fd, const char *out_name);
/* The same at offset BASE of FD (pwrite only; the file offset is not used): an image written
 * straight into its place inside a file system image. RET_SIZE (may be NULL): bytes written. */
int tb_authenticode_sign_at(tb_pe *pe, const tb_signer *signer, int fd, uint64_t base, const char *out_name,
                            uint64_t *ret_size);
/* The same, but the image bytes [KEEP_OFF, KEEP_OFF + KEEP_LEN) are already in place at BASE +
 * KEEP_OFF of FD (a section's source reads them from there): they are hashed and checksummed
 * as they go by, not written again. */
int tb_authenticode_sign_around(tb_pe *pe, const tb_signer *signer, int fd, uint64_t base, uint64_t keep_off,
                                uint64_t keep_len, const char *out_name, uint64_t *ret_size);
/* The size tb_authenticode_sign_at() will write for PE (image, padding and certificate table),
 * so that space can be laid out before the image is written. */
int tb_authenticode_signed_size(const tb_pe *pe, const tb_signer *signer, uint64_t *ret);

/* One embedded signature. */
typedef struct tb_authenticode_sig {
        PKCS7 *p7;
        X509 *signer;                         /* signer certificate when embedded (owned by p7), or NULL */
        const EVP_MD *md;                     /* digest algorithm of the signed image hash */
        uint8_t digest[EVP_MAX_MD_SIZE];      /* the image hash it signs */
        unsigned digest_len;
        uint8_t image_digest[EVP_MAX_MD_SIZE]; /* the image hash recomputed with md */
        bool digest_matches;                  /* never true for a weak digest */
        bool weak_digest;                     /* MD5, SHA-1, …: not SHA-256/384/512, never trusted */
        uint8_t *content; /* SpcIndirectDataContent without its outer tag and length: what */
        size_t content_len; /* messageDigest covers */
} tb_authenticode_sig;

typedef struct tb_authenticode_sigs {
        tb_authenticode_sig *sig;
        size_t n;
} tb_authenticode_sigs;

#define TB_AUTHENTICODE_SIGS_INIT { NULL, 0 }

/* Parses every WIN_CERTIFICATE of PE and recomputes the image hash for each. Logs and returns
 * -EBADMSG on a malformed table or signature. No signatures: 0 with N = 0. */
int tb_authenticode_read(const tb_pe *pe, tb_authenticode_sigs *ret);
void tb_authenticode_sigs_done(tb_authenticode_sigs *s);
static inline void tb_authenticode_sigs_donep(tb_authenticode_sigs *s) {
        tb_authenticode_sigs_done(s);
}

/* The signer certificate's subject (RFC 2253), or its issuer when the certificate is not
 * embedded; malloc'ed, NULL on failure. */
char *tb_authenticode_signer_name(const tb_authenticode_sig *sig);

/* 1 if SIG's signature is valid and made by TRUSTED or by a certificate that chains to it
 * (certificate times are not checked: firmware has no trusted clock); 0 if not. The image
 * hash is not part of this: check SIG->digest_matches too. */
int tb_authenticode_check(const tb_authenticode_sig *sig, X509 *trusted);

/* "signed by TRUSTED and matches the image": 1 if some signature of PE is, 0 if none. */
int tb_authenticode_verify(const tb_pe *pe, X509 *trusted);

/* What tb_authenticode_verify_report() found, for a user who asks why. */
typedef struct tb_authenticode_verdict {
        size_t n_sigs;    /* signatures in the image (0: not signed) */
        size_t index;     /* 1-based: the signature that verified, or the last one that did not (0: none looked at) */
        char *signer;     /* that signature's signer (subject or issuer name), or NULL */
        const char *why;  /* NULL if it verified, else why not: "the image changed after signing", … */
} tb_authenticode_verdict;
#define TB_AUTHENTICODE_VERDICT_INIT ((tb_authenticode_verdict){ 0 })
void tb_authenticode_verdict_done(tb_authenticode_verdict *v);

/* tb_authenticode_verify() that also says which signature verified or why none did. On a
 * negative return, VERDICT->index > 0 names the signature that could not be checked (the error
 * is not logged); index 0 means the signatures could not be read (logged). */
int tb_authenticode_verify_report(const tb_pe *pe, X509 *trusted, tb_authenticode_verdict *verdict);
