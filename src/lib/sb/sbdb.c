/* sbdb.c — db/dbx as the firmware applies them to an image (see sbdb.h). */
#include "sb/sbdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pe/authenticode.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/log.h"
#include "util/ossl.h"

/* A refusal is an answer, not a system error: no strerror suffix. */
#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))

typedef struct sbdb_set {
        X509 **certs;
        size_t n_certs;
        uint8_t (*hashes)[32];
        size_t n_hashes;
} sbdb_set;

struct tb_sbdb {
        sbdb_set db, dbx;
};

static void set_done(sbdb_set *s) {
        for (size_t i = 0; i < s->n_certs; i++)
                X509_free(s->certs[i]);
        free(s->certs);
        free(s->hashes);
}

void tb_sbdb_free(tb_sbdb *s) {
        if (!s)
                return;
        set_done(&s->db);
        set_done(&s->dbx);
        free(s);
}

static int add_entry(const tb_esl_entry *e, void *userdata) {
        sbdb_set *s = userdata;

        if (memcmp(&e->type, &TB_GUID_CERT_X509, sizeof(tb_guid)) == 0) {
                const unsigned char *p = e->data;
                X509 *c = d2i_X509(NULL, &p, (long)e->len), **n;
                if (!c) {
                        /* A certificate OpenSSL cannot parse cannot match either: skip it. */
                        tb_ossl_drain_errors("db certificate");
                        return 0;
                }
                n = realloc(s->certs, (s->n_certs + 1) * sizeof(*n));
                if (!n) {
                        X509_free(c);
                        return tb_log_oom();
                }
                s->certs = n;
                s->certs[s->n_certs++] = c;
        } else if (memcmp(&e->type, &TB_GUID_CERT_SHA256, sizeof(tb_guid)) == 0 && e->len == 32) {
                uint8_t(*n)[32] = realloc(s->hashes, (s->n_hashes + 1) * 32);
                if (!n)
                        return tb_log_oom();
                s->hashes = n;
                memcpy(s->hashes[s->n_hashes++], e->data, 32);
        }
        /* Other types (X.509 TBS hashes, SHA-1/384/512) are not produced by our tools. */
        return 0;
}

int tb_sbdb_from_esl(const uint8_t *db, size_t db_len, const uint8_t *dbx, size_t dbx_len, tb_sbdb **ret) {
        tb_sbdb *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return tb_log_oom();
        r = tb_esl_foreach(db, db_len, add_entry, &s->db);
        if (r >= 0 && dbx)
                r = tb_esl_foreach(dbx, dbx_len, add_entry, &s->dbx);
        if (r < 0) {
                tb_sbdb_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int tb_sbdb_load(const char *efivar_dir, tb_sbdb **ret) {
        _cleanup_(tb_buf_freep) tb_buf db = TB_BUF_INIT, dbx = TB_BUF_INIT;
        const char *dir = efivar_dir ? efivar_dir : TB_EFIVAR_DIR_DEFAULT;
        int r;

        r = tb_efivar_read(efivar_dir, "db", &TB_GUID_IMAGE_SECURITY_DATABASE, NULL, &db);
        if (r == -ENOENT)
                return tb_log_errno(r, "%s: no db variable: Secure Boot keys are not enrolled, nothing to check "
                                       "an image against", dir);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read the db variable", dir);
        r = tb_efivar_read(efivar_dir, "dbx", &TB_GUID_IMAGE_SECURITY_DATABASE, NULL, &dbx);
        if (r < 0 && r != -ENOENT)
                return tb_log_errno(r, "%s: cannot read the dbx variable", dir);
        r = tb_sbdb_from_esl(db.data, db.len, dbx.data, dbx.len, ret);
        if (r == -EBADMSG)
                return tb_log_errno(r, "%s: db or dbx is not a valid list of EFI_SIGNATURE_LISTs", dir);
        return r;
}

size_t tb_sbdb_n_db_certs(const tb_sbdb *s) {
        return s->db.n_certs;
}

static bool has_hash(const sbdb_set *s, const uint8_t h[32]) {
        for (size_t i = 0; i < s->n_hashes; i++)
                if (memcmp(s->hashes[i], h, 32) == 0)
                        return true;
        return false;
}

int tb_sbdb_check(const tb_sbdb *s, const tb_pe *pe) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        uint8_t hash[EVP_MAX_MD_SIZE];
        unsigned hash_len;
        bool allowed;
        int r;

        r = tb_authenticode_digest(pe, EVP_sha256(), hash, &hash_len);
        if (r < 0)
                return r;
        if (has_hash(&s->dbx, hash))
                return REFUSE(-EKEYREVOKED, "%s: its image hash is in dbx: the firmware would refuse it",
                                    tb_pe_name(pe));
        r = tb_authenticode_read(pe, &sigs);
        if (r < 0)
                return r;
        /* Any revoked certificate in any signature's chain is fatal, as in EDK2's DxeImageVerificationLib. */
        for (size_t i = 0; i < sigs.n; i++)
                for (size_t j = 0; j < s->dbx.n_certs; j++)
                        if (tb_authenticode_check(&sigs.sig[i], s->dbx.certs[j]) == 1) {
                                _cleanup_(freep) char *who = tb_authenticode_signer_name(&sigs.sig[i]);
                                return REFUSE(-EKEYREVOKED,
                                                    "%s: signed by %s, whose certificate is in dbx: the firmware "
                                                    "would refuse it", tb_pe_name(pe), who ? who : "a signer");
                        }
        allowed = has_hash(&s->db, hash);
        for (size_t i = 0; !allowed && i < sigs.n; i++) {
                if (!sigs.sig[i].digest_matches)
                        continue;
                for (size_t j = 0; !allowed && j < s->db.n_certs; j++)
                        allowed = tb_authenticode_check(&sigs.sig[i], s->db.certs[j]) == 1;
        }
        if (!allowed) {
                if (sigs.n == 0)
                        return REFUSE(-EPERM, "%s: not signed, and its hash is not in db: the firmware would "
                                                    "refuse it", tb_pe_name(pe));
                _cleanup_(freep) char *who = tb_authenticode_signer_name(&sigs.sig[0]);
                return REFUSE(-EPERM, "%s: signed by %s, which is not in the firmware's db (%zu certificates): "
                                            "the firmware would refuse it", tb_pe_name(pe), who ? who : "?",
                                    s->db.n_certs);
        }
        return 0;
}
