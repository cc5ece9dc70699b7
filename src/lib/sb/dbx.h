/* dbx.h — `trustboot dbx add`: revocations for the firmware's dbx (forbidden signatures) as
 * EFI_SIGNATURE_LISTs — an image by its Authenticode SHA-256, a certificate (every image whose
 * signature carries it), a given image hash — and the KEK-signed append update (.auth) that
 * adds them to what the firmware holds (EFI_VARIABLE_APPEND_WRITE; sbupdate.h signs it). */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "sb/efisig.h"
#include "util/buf.h"

typedef struct tb_dbx_add_options {
        const char *const *images; /* PE images, revoked by their Authenticode SHA-256 hash */
        size_t n_images;
        const char *const *certs;  /* certificates, PEM or DER */
        size_t n_certs;
        const char *const *hashes; /* image hashes: SHA-256, 64 hex digits */
        size_t n_hashes;
        tb_guid owner;             /* the SignatureOwner of every entry */
        const char *keys;          /* a genkey key set whose KEK signs, or NULL: */
        const char *kek_key;       /* the KEK's private key (PEM file or pkcs11: URI) */
        const char *kek_cert;      /* the KEK's certificate */
        int64_t epoch;             /* the update's timestamp */
        const char *output;        /* the .auth file to write (0644, atomically, replacing) */
} tb_dbx_add_options;

/* Appends to ESL one EFI_SIGNATURE_LIST per revocation of O: the images', then the certificates',
 * then the hashes' (in the order given). Logs the file or hash that fails. */
int tb_dbx_esl(const tb_dbx_add_options *o, tb_buf *esl);

/* The whole command: tb_dbx_esl(), signed by the KEK as an append to dbx, written to O->output,
 * then one "Wrote FILE: …" line on OUT (NULL: quiet). Nothing is written if anything fails. Logs. */
int tb_dbx_add(const tb_dbx_add_options *o, FILE *out);
