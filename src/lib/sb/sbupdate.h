/* sbupdate.h — updates of the Secure Boot variables (PK, KEK, db, dbx) as signed, time-based
 * authenticated writes (.auth files): making a KEK-signed append to db or dbx, and, on a node,
 * checking an update against the enrolled PK/KEK before handing it to the firmware through
 * efivarfs. The firmware checks again; checking first turns its bare "Security Violation" into
 * a message that names the variable and the signer. */
#pragma once

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "sb/efisig.h"
#include "util/buf.h"

typedef enum tb_sbvar { TB_SBVAR_PK, TB_SBVAR_KEK, TB_SBVAR_DB, TB_SBVAR_DBX } tb_sbvar;

int tb_sbvar_from_name(const char *name, tb_sbvar *ret); /* "PK", "KEK", "db", "dbx"; -EINVAL */
const char *tb_sbvar_name(tb_sbvar v);
/* The variable an .auth file is for, by its name's first word (up to '-', '.' or '_'): PK.auth,
 * KEK.auth, db-append.auth, dbx.auth, as genkey and `dbx add` name them. -EINVAL when that word
 * is no variable, -ENOMEM. */
int tb_sbvar_from_file_name(const char *path, tb_sbvar *ret);
const tb_guid *tb_sbvar_vendor(tb_sbvar v);

/* An EFI_VARIABLE_APPEND_WRITE update of VAR (db or dbx) adding the lists in ESL, signed by
 * KEY/CERT (a KEK) with the timestamp EPOCH. */
int tb_sbupdate_append(tb_sbvar var, const tb_buf *esl, int64_t epoch, EVP_PKEY *key, X509 *cert, tb_buf *out);

/* An EFI_VARIABLE_AUTHENTICATION_2 followed by its payload. */
typedef struct tb_auth_parts {
        const uint8_t *efi_time; /* 16 bytes */
        const uint8_t *sig;      /* the PKCS#7 (bare SignedData or ContentInfo) */
        size_t sig_len;
        const uint8_t *payload;  /* EFI_SIGNATURE_LISTs (empty: a deletion) */
        size_t payload_len;
} tb_auth_parts;

/* -EBADMSG if DATA is truncated or is not an EFI_VARIABLE_AUTHENTICATION_2 with a PKCS#7
 * WIN_CERTIFICATE and a well-formed list of EFI_SIGNATURE_LISTs after it. */
int tb_auth_parse(const uint8_t *data, size_t len, tb_auth_parts *ret);

/* 1 if P's signature over VAR's name, vendor, ATTRS, timestamp and payload is valid and made by
 * one of TRUSTED or a certificate chaining to it (times and key usages are not checked, as
 * firmware does not); 0 if not; negative on errors. */
int tb_auth_verify(const tb_auth_parts *p, tb_sbvar var, uint32_t attrs, X509 *const *trusted, size_t n_trusted);

/* Applies the update AUTH (named SOURCE in messages) to VAR through EFIVAR_DIR (NULL: efivarfs):
 * outside setup mode, refuses (-EKEYREJECTED) unless it is signed by an enrolled key the firmware
 * accepts for VAR (PK for PK and KEK; a KEK or the PK for db and dbx), as a replacing write or as
 * an append (whichever attributes the signature covers; RET_APPEND says which). Logs. */
int tb_sbupdate_enroll(const char *efivar_dir, tb_sbvar var, const uint8_t *auth, size_t len, const char *source,
                       bool *ret_append);

/* tb_sbupdate_enroll() of the file PATH (`trustboot enroll`; at most 1 MiB). Logs. */
int tb_sbupdate_enroll_file(const char *efivar_dir, tb_sbvar var, const char *path, bool *ret_append);
