/* sbdb.c — db/dbx as the firmware applies them to an image (see sbdb.h). */
#include "sb/sbdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pe/authenticode.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/ossl.h"

/* A refusal is an answer, not a system error: no strerror suffix. */
#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))

/* A hash entry: an image hash (EFI_CERT_SHA256/384/512) or, in dbx, the hash of a certificate's
 * TBSCertificate (EFI_CERT_X509_SHA256/384/512). */
typedef struct sbdb_hash {
        int nid;            /* NID_sha256, NID_sha384 or NID_sha512 */
        bool of_cert;       /* X509_SHA*: a certificate's to-be-signed part, not an image */
        uint8_t h[64];
} sbdb_hash;

typedef struct sbdb_set {
        X509 **certs;
        size_t n_certs;
        sbdb_hash *hashes;
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

/* The hash entry types EDK2's DxeImageVerificationLib knows, with their digest and size. SHA-1
 * image hashes are left out on purpose: they prove nothing any more. */
static const struct hash_type {
        const tb_guid *guid;
        size_t len;  /* the hash; X509_SHA* entries are followed by a 16-byte EFI_TIME */
        int nid;
        bool of_cert;
} hash_types[] = {
        { &TB_GUID_CERT_SHA256, 32, NID_sha256, false },
        { &TB_GUID_CERT_SHA384, 48, NID_sha384, false },
        { &TB_GUID_CERT_SHA512, 64, NID_sha512, false },
        { &TB_GUID_CERT_X509_SHA256, 32, NID_sha256, true },
        { &TB_GUID_CERT_X509_SHA384, 48, NID_sha384, true },
        { &TB_GUID_CERT_X509_SHA512, 64, NID_sha512, true },
};

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
                /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof one pointer is right */
                n = reallocarray(s->certs, s->n_certs + 1, sizeof(*n));
                if (!n) {
                        X509_free(c);
                        return tb_log_oom();
                }
                s->certs = n;
                s->certs[s->n_certs++] = c;
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(hash_types); i++) {
                const struct hash_type *t = &hash_types[i];
                sbdb_hash *n;

                if (memcmp(&e->type, t->guid, sizeof(tb_guid)) != 0)
                        continue;
                if (e->len != t->len + (t->of_cert ? 16 : 0))
                        return -EBADMSG; /* the type fixes the size: anything else is damage */
                n = realloc(s->hashes, (s->n_hashes + 1) * sizeof(*n));
                if (!n)
                        return tb_log_oom();
                s->hashes = n;
                n = &s->hashes[s->n_hashes++];
                *n = (sbdb_hash){ .nid = t->nid, .of_cert = t->of_cert };
                /* TimeOfRevocation is ignored: without a timestamped signature (we never make
                 * one) EDK2 treats the certificate as revoked at any time. */
                memcpy(n->h, e->data, t->len);
                return 0;
        }
        /* Other types (SHA-1, RSA2048 keys) are ignored, as EDK2 ignores them for images. */
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

static size_t nid_len(int nid) {
        return nid == NID_sha256 ? 32 : nid == NID_sha384 ? 48 : 64;
}

/* Is PE's image hash, with any algorithm SET holds image hashes of, in SET? */
static int has_image_hash(const sbdb_set *s, const tb_pe *pe, bool *ret) {
        static const int nids[] = { NID_sha256, NID_sha384, NID_sha512 };

        *ret = false;
        for (size_t a = 0; a < ARRAY_SIZE(nids); a++) {
                uint8_t hash[EVP_MAX_MD_SIZE];
                bool computed = false;

                for (size_t i = 0; i < s->n_hashes; i++) {
                        int r;

                        if (s->hashes[i].of_cert || s->hashes[i].nid != nids[a])
                                continue;
                        if (!computed) {
                                r = tb_authenticode_digest(pe, EVP_get_digestbynid(nids[a]), hash, &(unsigned){ 0 });
                                if (r < 0)
                                        return r;
                                computed = true;
                        }
                        if (memcmp(s->hashes[i].h, hash, nid_len(nids[a])) == 0) {
                                *ret = true;
                                return 0;
                        }
                }
        }
        return 0;
}

int tb_sbdb_cert_tbs_hash(X509 *cert, int nid, uint8_t out[64]) {
        _cleanup_(OPENSSL_freep) unsigned char *der = NULL;
        const unsigned char *p, *tbs;
        long len;
        int n, tag, cls;

        /* The TBSCertificate exactly as encoded in the certificate (the first element of its
         * outer SEQUENCE), not a re-encoding. */
        n = i2d_X509(cert, &der);
        if (n <= 0)
                return -EIO;
        p = der;
        if (ASN1_get_object(&p, &len, &tag, &cls, n) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        tbs = p;
        if (ASN1_get_object(&p, &len, &tag, &cls, der + n - p) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        if (EVP_Digest(tbs, (size_t)(p - tbs) + (size_t)len, out, NULL, EVP_get_digestbynid(nid), NULL) != 1)
                return -EIO;
        return 0;
}

/* Is any certificate SIG carries (signer and chain) revoked by a TBS hash in SET? */
static int cert_hash_revoked(const sbdb_set *s, const tb_authenticode_sig *sig, X509 **ret) {
        STACK_OF(X509) *certs = sig->p7->d.sign ? sig->p7->d.sign->cert : NULL;

        for (int c = 0; c < sk_X509_num(certs); c++)
                for (size_t i = 0; i < s->n_hashes; i++) {
                        uint8_t h[64];
                        int r;

                        if (!s->hashes[i].of_cert)
                                continue;
                        r = tb_sbdb_cert_tbs_hash(sk_X509_value(certs, c), s->hashes[i].nid, h);
                        if (r < 0)
                                return r;
                        if (memcmp(h, s->hashes[i].h, nid_len(s->hashes[i].nid)) == 0) {
                                *ret = sk_X509_value(certs, c);
                                return 1;
                        }
                }
        return 0;
}

int tb_sbdb_check(const tb_sbdb *s, const tb_pe *pe) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        bool allowed, revoked;
        int r;

        r = has_image_hash(&s->dbx, pe, &revoked);
        if (r < 0)
                return r;
        if (revoked)
                return REFUSE(-EKEYREVOKED, "%s: its image hash is in dbx: the firmware would refuse it",
                                    tb_pe_name(pe));
        r = tb_authenticode_read(pe, &sigs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sigs.n; i++) {
                X509 *bad = NULL;

                r = cert_hash_revoked(&s->dbx, &sigs.sig[i], &bad);
                if (r < 0)
                        return r;
                if (r > 0) {
                        char name[256];

                        X509_NAME_oneline(X509_get_subject_name(bad), name, sizeof(name));
                        return REFUSE(-EKEYREVOKED, "%s: its signature carries the certificate %s, whose hash is "
                                                    "in dbx: the firmware would refuse it", tb_pe_name(pe), name);
                }
        }
        /* Any revoked certificate in any signature's chain is fatal, as in EDK2's DxeImageVerificationLib. */
        for (size_t i = 0; i < sigs.n; i++)
                for (size_t j = 0; j < s->dbx.n_certs; j++)
                        if (tb_authenticode_check(&sigs.sig[i], s->dbx.certs[j]) == 1) {
                                _cleanup_(freep) char *who = tb_authenticode_signer_name(&sigs.sig[i]);
                                return REFUSE(-EKEYREVOKED,
                                                    "%s: signed by %s, whose certificate is in dbx: the firmware "
                                                    "would refuse it", tb_pe_name(pe), who ? who : "a signer");
                        }
        r = has_image_hash(&s->db, pe, &allowed);
        if (r < 0)
                return r;
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
