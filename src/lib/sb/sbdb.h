/* sbdb.h — the firmware's Secure Boot signature databases (db, dbx) and the question the
 * firmware will ask of an EFI image at boot: is it allowed by db and not forbidden by dbx?
 * Asked before an image is installed, so that nothing goes onto the ESP the firmware refuses. */
#pragma once

#include <openssl/x509.h>
#include <stdint.h>

#include "pe/pe.h"

typedef struct tb_sbdb tb_sbdb;

/* Loads db and dbx from EFIVAR_DIR (NULL: efivarfs). A missing dbx is an empty one; a missing
 * db is -ENOENT (logged: Secure Boot is not set up, nothing could be checked). */
int tb_sbdb_load(const char *efivar_dir, tb_sbdb **ret);
/* From ESL bytes (tests, and variables read elsewhere). DBX may be NULL. */
int tb_sbdb_from_esl(const uint8_t *db, size_t db_len, const uint8_t *dbx, size_t dbx_len, tb_sbdb **ret);
void tb_sbdb_free(tb_sbdb *s);
TB_DEFINE_CLEANUP(tb_sbdb *, tb_sbdb_free);

size_t tb_sbdb_n_db_certs(const tb_sbdb *s);

/* The NID (sha256/384/512) hash of CERT's TBSCertificate as encoded: what an EFI_CERT_X509_SHA*
 * entry in dbx holds. */
int tb_sbdb_cert_tbs_hash(X509 *cert, int nid, uint8_t out[64]);

/* 0 if the firmware would run PE: a signature whose image hash matches is made by (or chains
 * to) a certificate in db, or the image's SHA-256/384/512 hash is in db; and neither the hash,
 * nor a certificate in db form or as the hash of its TBSCertificate (EFI_CERT_X509_SHA*) for any
 * certificate the signatures carry, is in dbx. Otherwise logs one line "NAME: why" and returns
 * -EPERM (not allowed by db) or -EKEYREVOKED (forbidden by dbx). */
int tb_sbdb_check(const tb_sbdb *s, const tb_pe *pe);
