/* keyset.h — `genkey`: a Secure Boot key set (PK, KEK, db) and the PCR policy signing key,
 * laid out as Kairos/AuroraBoot writes it (shared/research/kairos.md §1). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct tb_keyset_options {
        const char *name;             /* certificates get CN "NAME-PK", "NAME-KEK", "NAME-db" */
        uint32_t days;                /* validity from EPOCH */
        uint32_t key_bits;            /* RSA size of PK/KEK/db: 2048, 3072 or 4096 */
        int64_t epoch;                /* "now": notBefore and the .auth timestamps */
        bool skip_microsoft;          /* do not append Microsoft's UEFI CAs to KEK/db */
        const char *ms_cert_dir;      /* where Microsoft's CA certificates (PEM) are */
        const char *custom_cert_dir;  /* firmware-exported `db` and `KEK` signature databases, or NULL */
        const char *pkcs11_uri;       /* generate the keys inside this token (pe/pkcs11.h), or NULL */
} tb_keyset_options;

/* The files of a key set that other modules open, by role: the key and certificate that sign
 * every EFI binary, and the PCR policy signing key. */
#define TB_KEYSET_DB_KEY "db.key"
#define TB_KEYSET_DB_CERT "db.pem"
#define TB_KEYSET_KEK_CERT "KEK.pem" /* signs dbx updates (`trustboot dbx add`) */
#define TB_KEYSET_PCR_KEY "tpm2-pcr-private.pem"
/* The signed variables systemd-boot enrolls from loader/keys/auto/, NULL-terminated. */
extern const char *const tb_keyset_auth_files[];

/* The 16 file names a key set consists of, in a stable order. */
extern const char *const tb_keyset_files[16];
#define TB_KEYSET_N_FILES 16

/* Generates a key set into OUT_DIR (created 0700 if missing). Refuses (-EEXIST) when any of the
 * 16 files exists unless FORCE. Writes all files or none. Logs the file and the problem. */
int tb_keyset_generate(const tb_keyset_options *o, const char *out_dir, bool force);

/* Where key set DIR keeps the private key NAME ("PK", "KEK", "db", "tpm2-pcr"): the PEM file
 * (NAME.key, tpm2-pcr-private.pem), else the URI a token key set's NAME.pkcs11 holds, else the
 * PEM path (so that its absence is reported by whoever opens it). *RET is malloc'ed. */
int tb_keyset_private_ref(const char *dir, const char *name, char **ret);

/* What signs a medium, from key set DIR (`build-uki -k DIR`): the db key (tb_keyset_private_ref),
 * its certificate DIR/db.pem and the PCR policy key. All three are set, or none (logs). */
typedef struct tb_keyset_signing {
        char *sb_key, *sb_cert, *pcr_key;
} tb_keyset_signing;

int tb_keyset_signing_refs(const char *dir, tb_keyset_signing *ret);
void tb_keyset_signing_done(tb_keyset_signing *s);

/* Key rotation: a new key set in OUT_DIR (which must not hold one) with OLD_DIR's PK and KEK
 * (copied), a new db key (in O->pkcs11_uri's token if set) and certificate "NAME-db", db.auth
 * (replacing db: for new nodes) and db-append.auth (KEK-signed EFI_VARIABLE_APPEND_WRITE adding
 * the new certificate: `trustboot enroll` it on existing nodes); the PCR key is copied, or new
 * if ROTATE_PCR. Logs. */
int tb_keyset_rotate(const tb_keyset_options *o, const char *old_dir, const char *out_dir, bool rotate_pcr);

/* Microsoft's certificates appended to KEK and db, by file name in ms_cert_dir (PEM). */
extern const char *const tb_keyset_ms_kek_certs[];
extern const char *const tb_keyset_ms_db_certs[];
