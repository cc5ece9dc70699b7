#include "sb/keyset.h"

#include <errno.h>
#include <openssl/bn.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

#include "sb/efisig.h"
#include "sb/sbupdate.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"
#include "pe/pkcs11.h"
#include "pe/signer.h"

const char *const tb_keyset_files[TB_KEYSET_N_FILES] = {
        "PK.key",  "PK.pem",  "PK.der",  "PK.esl",  "PK.auth", "KEK.key", "KEK.pem", "KEK.der",
        "KEK.esl", "KEK.auth", TB_KEYSET_DB_KEY, TB_KEYSET_DB_CERT, "db.der", "db.esl", "db.auth", TB_KEYSET_PCR_KEY,
};

const char *const tb_keyset_auth_files[] = { "PK.auth", "KEK.auth", "db.auth", NULL };

/* A key set whose private keys stay in a PKCS#11 token: the .key files become .pkcs11 files
 * holding the key's URI (no PIN: at most the pin-source path genkey was given), and the PCR
 * key's public half is written out for `encrypt` and `upgrade`, which never sign. */
static const char *const keyset_files_pkcs11[TB_KEYSET_N_FILES + 1] = {
        "PK.pkcs11",  "PK.pem",  "PK.der",  "PK.esl",  "PK.auth", "KEK.pkcs11", "KEK.pem", "KEK.der",
        "KEK.esl", "KEK.auth", "db.pkcs11", "db.pem", "db.der", "db.esl", "db.auth", "tpm2-pcr-private.pkcs11",
        "tpm2-pcr-public.pem",
};

/* The 2011 CAs and their 2023 successors, as python3-virt-firmware ships them (see
 * scripts/install-deps.sh). The "Option ROM UEFI CA 2023" is not among its files. */
const char *const tb_keyset_ms_kek_certs[] = {
        "MicrosoftCorporationKEKCA2011.pem",
        "MicrosoftCorporationKEK2KCA2023.pem",
        NULL,
};
const char *const tb_keyset_ms_db_certs[] = {
        "MicrosoftWindowsProductionPCA2011.pem",
        "MicrosoftCorporationUEFICA2011.pem",
        "WindowsUEFICA2023.pem",
        "MicrosoftUEFICA2023.pem",
        NULL,
};

enum { KEY_PK, KEY_KEK, KEY_DB, N_KEYS };

static const struct key_kind {
        const char *name;       /* variable and file name */
        const tb_guid *vendor;  /* the variable's vendor GUID */
        int signer;             /* who signs the .auth: PK for PK and KEK, KEK for db */
} kinds[N_KEYS] = {
        [KEY_PK] = { "PK", &TB_GUID_EFI_GLOBAL_VARIABLE, KEY_PK },
        [KEY_KEK] = { "KEK", &TB_GUID_EFI_GLOBAL_VARIABLE, KEY_PK },
        [KEY_DB] = { "db", &TB_GUID_IMAGE_SECURITY_DATABASE, KEY_KEK },
};

/* Certificates from somewhere else that go into a variable (DER each). */
typedef struct cert_list {
        tb_buf der[64];
        size_t n;
} cert_list;

static void cert_list_free(cert_list *l) {
        for (size_t i = 0; i < l->n; i++)
                tb_buf_free(&l->der[i]);
        l->n = 0;
}

static int cert_list_add(cert_list *l, const uint8_t *der, size_t len) {
        if (l->n >= ARRAY_SIZE(l->der))
                return -E2BIG;
        l->der[l->n] = (tb_buf)TB_BUF_INIT;
        if (tb_buf_append(&l->der[l->n], der, len) < 0)
                return tb_log_oom();
        l->n++;
        return 0;
}

static int load_ms_certs(const char *dir, const char *const *names, cert_list *out) {
        for (const char *const *n = names; *n; n++) {
                _cleanup_(freep) char *path = tb_path_join(dir, *n);
                _cleanup_(X509_freep) X509 *cert = NULL;
                _cleanup_(tb_buf_freep) tb_buf der = TB_BUF_INIT;
                int r;

                if (!path)
                        return tb_log_oom();
                r = tb_cert_load(path, &cert);
                if (r < 0) {
                        tb_log_errno(r, "%s: cannot load Microsoft UEFI CA certificate (install them with 'make deps', "
                                        "or pass --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING)",
                                     path);
                        return r;
                }
                r = tb_cert_to_der(cert, &der);
                if (r >= 0)
                        r = cert_list_add(out, der.data, der.len);
                if (r < 0)
                        return r;
        }
        return 0;
}

struct custom_ctx {
        const char *path;
        cert_list *out;
        int error;
};

static int collect_custom_cert(const tb_esl_entry *e, void *userdata) {
        struct custom_ctx *c = userdata;
        _cleanup_(X509_freep) X509 *cert = NULL;
        char type[TB_GUID_STRING_MAX];

        if (memcmp(e->type.b, TB_GUID_CERT_X509.b, 16) != 0) {
                tb_guid_to_string(&e->type, type);
                tb_debug("%s: skipping a non-X.509 entry (type %s)", c->path, type);
                return 0;
        }
        if (tb_cert_from_der(e->data, e->len, &cert) < 0) {
                tb_err("%s: an X.509 entry is not a valid certificate", c->path);
                return -EBADMSG;
        }
        return cert_list_add(c->out, e->data, e->len);
}

static int no_op_entry(const tb_esl_entry *e, void *userdata) {
        (void)e;
        (void)userdata;
        return 0;
}

/* A firmware-exported signature database: plain EFI_SIGNATURE_LISTs (efi-readvar -o), or an
 * efivarfs file, which starts with the variable's 4-byte attributes. */
static int load_custom_db(const char *dir, const char *name, cert_list *out) {
        _cleanup_(freep) char *path = tb_path_join(dir, name);
        _cleanup_(tb_buf_freep) tb_buf data = TB_BUF_INIT;
        struct custom_ctx ctx = { .out = out };
        size_t skip = 0;
        int r;

        if (!path)
                return tb_log_oom();
        ctx.path = path;
        r = tb_read_file(path, 16u << 20, &data);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read custom certificate database", path);
        if (tb_esl_foreach(data.data, data.len, no_op_entry, NULL) < 0) {
                if (data.len > 4 && tb_esl_foreach(data.data + 4, data.len - 4, no_op_entry, NULL) >= 0)
                        skip = 4;
                else {
                        tb_err("%s: not an EFI signature database (malformed EFI_SIGNATURE_LIST)", path);
                        return -EBADMSG;
                }
        }
        r = tb_esl_foreach(data.data + skip, data.len - skip, collect_custom_cert, &ctx);
        if (r == -E2BIG)
                tb_err("%s: too many certificates", path);
        return r;
}

static int generate_rsa(uint32_t bits, EVP_PKEY **ret);

/* In memory, or inside the token (then RET_URI names it). */
static int generate_key(const tb_keyset_options *o, uint32_t bits, const char *label, EVP_PKEY **ret,
                        tb_buf *ret_uri) {
        _cleanup_(freep) char *uri = NULL;
        int r;

        if (!o->pkcs11_uri)
                return generate_rsa(bits, ret);
        r = tb_pkcs11_generate_rsa(o->pkcs11_uri, bits, label, ret, &uri);
        if (r < 0)
                return -ECANCELED; /* logged, with the token's view of what failed */
        r = tb_buf_append(ret_uri, uri, strlen(uri));
        return r < 0 ? r : tb_buf_append(ret_uri, "\n", 1);
}

static int generate_rsa(uint32_t bits, EVP_PKEY **ret) {
        EVP_PKEY *key = EVP_RSA_gen(bits);

        if (!key) {
                tb_ossl_drain_errors("RSA key generation");
                return -EIO;
        }
        *ret = key;
        return 0;
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value) {
        _cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

        if (!ext || !X509_add_ext(cert, ext, -1))
                return -EIO;
        return 0;
}

/* A self-signed CA certificate like `openssl req -x509` makes with the stock v3_ca section. */
static int make_cert(EVP_PKEY *key, const char *cn, int64_t epoch, uint32_t days, X509 **ret) {
        _cleanup_(X509_freep) X509 *cert = X509_new();
        _cleanup_(BN_freep) BIGNUM *serial_bn = BN_new();
        time_t now = (time_t)epoch;
        X509_NAME *name;
        X509V3_CTX ctx;

        if (!cert || !serial_bn)
                return tb_log_oom();
        /* A positive random 159-bit serial, as OpenSSL's req does. */
        if (!BN_rand(serial_bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
            !BN_to_ASN1_INTEGER(serial_bn, X509_get_serialNumber(cert)))
                return -EIO;
        if (!X509_set_version(cert, X509_VERSION_3) || !X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &now) ||
            !X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, &now) || !X509_set_pubkey(cert, key))
                return -EIO;
        name = X509_get_subject_name(cert);
        if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
            !X509_set_issuer_name(cert, name))
                return -EIO;
        X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
        if (add_ext(cert, &ctx, NID_subject_key_identifier, "hash") < 0 ||
            add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") < 0 ||
            add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") < 0)
                return -EIO;
        if (X509_sign(cert, key, EVP_sha256()) <= 0)
                return -EIO;
        *ret = TAKE_PTR(cert);
        return 0;
}

/* Everything a key set holds, in memory until it is written. */
typedef struct keyset {
        EVP_PKEY *key[N_KEYS];
        X509 *cert[N_KEYS];
        EVP_PKEY *pcr_key;
        tb_buf file[TB_KEYSET_N_FILES + 1];
} keyset;

static void keyset_free(keyset *ks) {
        for (int i = 0; i < N_KEYS; i++) {
                EVP_PKEY_free(ks->key[i]);
                X509_free(ks->cert[i]);
        }
        EVP_PKEY_free(ks->pcr_key);
        for (int i = 0; i < TB_KEYSET_N_FILES + 1; i++)
                tb_buf_wipe(&ks->file[i]);
}

static bool is_private(const char *n) {
        size_t l = strlen(n);

        return (l > 4 && strcmp(n + l - 4, ".key") == 0) || strcmp(n, TB_KEYSET_PCR_KEY) == 0;
}

static int build_files(const tb_keyset_options *o, const cert_list extra[N_KEYS], const cert_list custom[N_KEYS],
                       keyset *ks) {
        tb_guid owner;
        int r;

        r = tb_guid_random(&owner); /* one owner GUID per run for our own three certificates */
        if (r < 0)
                return r;

        for (int k = 0; k < N_KEYS; k++) {
                _cleanup_(freep) char *cn = NULL;

                if (asprintf(&cn, "%s-%s", o->name, kinds[k].name) < 0)
                        return tb_log_oom();
                r = generate_key(o, o->key_bits, cn, &ks->key[k], &ks->file[(size_t)k * 5]);
                if (r < 0)
                        return r;
                r = make_cert(ks->key[k], cn, o->epoch, o->days, &ks->cert[k]);
                if (r < 0)
                        return r;
                tb_cert_warn_expiry(ks->cert[k], cn);
        }
        {
                _cleanup_(freep) char *cn = NULL;

                if (asprintf(&cn, "%s-tpm2-pcr", o->name) < 0)
                        return tb_log_oom();
                r = generate_key(o, 2048, cn, &ks->pcr_key, &ks->file[15]);
                if (r < 0)
                        return r;
        }

        for (int k = 0; k < N_KEYS; k++) {
                tb_buf *f = &ks->file[(size_t)k * 5];
                tb_buf *key_pem = &f[0], *pem = &f[1], *der = &f[2], *esl = &f[3], *auth = &f[4];
                const struct key_kind *signer = &kinds[kinds[k].signer];

                if ((!o->pkcs11_uri && (r = tb_key_to_pem(ks->key[k], key_pem)) < 0) ||
                    (r = tb_cert_to_pem(ks->cert[k], pem)) < 0 ||
                    (r = tb_cert_to_der(ks->cert[k], der)) < 0)
                        return r;
                r = tb_esl_append_x509(esl, &owner, der->data, der->len);
                for (size_t i = 0; r >= 0 && i < extra[k].n; i++)
                        r = tb_esl_append_x509(esl, &TB_GUID_OWNER_MICROSOFT, extra[k].der[i].data, extra[k].der[i].len);
                for (size_t i = 0; r >= 0 && i < custom[k].n; i++)
                        r = tb_esl_append_x509(esl, &TB_GUID_OWNER_CUSTOM, custom[k].der[i].data, custom[k].der[i].len);
                /* Kairos also concatenates the custom certificates' DER to KEK.der / db.der. */
                for (size_t i = 0; r >= 0 && i < custom[k].n; i++)
                        r = tb_buf_append(der, custom[k].der[i].data, custom[k].der[i].len);
                if (r < 0)
                        return r;
                r = tb_auth_build(kinds[k].name, kinds[k].vendor, TB_EFI_AUTH_VAR_ATTRS, o->epoch, esl,
                                  ks->key[signer - kinds], ks->cert[signer - kinds], auth);
                if (r < 0)
                        return r;
        }
        if (o->pkcs11_uri)
                return tb_pubkey_to_pem(ks->pcr_key, &ks->file[16]);
        return tb_key_to_pem(ks->pcr_key, &ks->file[15]);
}

static int check_existing(const char *out_dir) {
        /* Either kind of key set counts: a PEM set must not be shadowed by a token set. */
        for (int i = 0; i < 2 * TB_KEYSET_N_FILES + 1; i++) {
                const char *name = i < TB_KEYSET_N_FILES ? tb_keyset_files[i] : keyset_files_pkcs11[i - TB_KEYSET_N_FILES];
                _cleanup_(freep) char *p = tb_path_join(out_dir, name);

                if (!p)
                        return tb_log_oom();
                if (tb_path_exists(p)) {
                        tb_err("%s: a key set already exists there (%s); losing keys makes upgrades impossible, "
                               "use --force to overwrite it",
                               out_dir, name);
                        return -EEXIST;
                }
        }
        return 0;
}

int tb_keyset_generate(const tb_keyset_options *o, const char *out_dir, bool force) {
        _cleanup_(tb_stage_abortp) tb_stage stage = TB_STAGE_INIT;
        cert_list extra[N_KEYS] = {}, custom[N_KEYS] = {};
        const char *const *names = o->pkcs11_uri ? keyset_files_pkcs11 : tb_keyset_files;
        size_t n_files = o->pkcs11_uri ? TB_KEYSET_N_FILES + 1 : TB_KEYSET_N_FILES;
        keyset ks = {};
        int r;

        if (!force) {
                r = check_existing(out_dir);
                if (r < 0)
                        return r;
        }
        /* Read every input before generating anything, so bad input fails fast. */
        if (!o->skip_microsoft) {
                r = load_ms_certs(o->ms_cert_dir, tb_keyset_ms_kek_certs, &extra[KEY_KEK]);
                if (r >= 0)
                        r = load_ms_certs(o->ms_cert_dir, tb_keyset_ms_db_certs, &extra[KEY_DB]);
                if (r < 0)
                        goto finish;
        }
        if (o->custom_cert_dir) {
                r = load_custom_db(o->custom_cert_dir, "KEK", &custom[KEY_KEK]);
                if (r >= 0)
                        r = load_custom_db(o->custom_cert_dir, "db", &custom[KEY_DB]);
                if (r < 0)
                        goto finish;
        }

        r = build_files(o, extra, custom, &ks);
        if (r < 0) {
                if (r != -ECANCELED)
                        tb_log_errno(r, "cannot generate the key set");
                goto finish;
        }

        r = tb_stage_begin(out_dir, 0700, &stage);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot create output directory", out_dir);
                goto finish;
        }
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_(freep) char *p = tb_path_join(stage.dir, names[i]);

                r = p ? tb_write_file_new(p, ks.file[i].data, ks.file[i].len, is_private(names[i]) ? 0600 : 0644)
                      : tb_log_oom();
                if (r < 0) {
                        tb_log_errno(r, "%s/%s: cannot write", out_dir, names[i]);
                        goto finish;
                }
        }
        r = tb_stage_commit(&stage, names, n_files, force);
        if (r == -EEXIST)
                check_existing(out_dir); /* someone else wrote one meanwhile: say which */
        else if (r < 0)
                tb_log_errno(r, "%s: cannot move the key set into place", out_dir);

finish:
        keyset_free(&ks);
        for (int k = 0; k < N_KEYS; k++) {
                cert_list_free(&extra[k]);
                cert_list_free(&custom[k]);
        }
        return r;
}

int tb_keyset_private_ref(const char *dir, const char *name, char **ret) {
        _cleanup_(freep) char *pem = NULL, *uri_path = NULL;
        _cleanup_(tb_buf_freep) tb_buf uri = TB_BUF_INIT;
        const char *file = strcmp(name, "tpm2-pcr") == 0 ? "tpm2-pcr-private" : name;
        char *p;
        int r;

        if (asprintf(&pem, "%s/%s%s", dir, file, strcmp(name, "tpm2-pcr") == 0 ? ".pem" : ".key") < 0 ||
            asprintf(&uri_path, "%s/%s.pkcs11", dir, file) < 0)
                return tb_log_oom();
        if (tb_path_exists(pem) || !tb_path_exists(uri_path)) {
                *ret = TAKE_PTR(pem);
                return 0;
        }
        r = tb_read_file(uri_path, 4096, &uri);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", uri_path);
        while (uri.len > 0 && (uri.data[uri.len - 1] == '\n' || uri.data[uri.len - 1] == '\r'))
                uri.len--;
        p = strndup((const char *)uri.data, uri.len);
        if (!p)
                return tb_log_oom();
        if (!tb_pkcs11_is_uri(p) || strlen(p) != uri.len) {
                free(p);
                tb_err("%s: not a pkcs11: URI", uri_path);
                return -EBADMSG;
        }
        *ret = p;
        return 0;
}

void tb_keyset_signing_done(tb_keyset_signing *s) {
        free(s->sb_key);
        free(s->sb_cert);
        free(s->pcr_key);
        *s = (tb_keyset_signing){};
}

int tb_keyset_signing_refs(const char *dir, tb_keyset_signing *ret) {
        tb_keyset_signing s = {};
        int r;

        r = tb_keyset_private_ref(dir, "db", &s.sb_key);
        if (r >= 0)
                r = tb_keyset_private_ref(dir, "tpm2-pcr", &s.pcr_key);
        if (r >= 0 && !(s.sb_cert = tb_path_join(dir, TB_KEYSET_DB_CERT)))
                r = tb_log_oom();
        if (r < 0) {
                tb_keyset_signing_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- rotation: a new db key (and optionally PCR key) under the same PK and KEK ---- */

#define ROTATE_MAX_FILES 24

typedef struct out_files {
        const char *name[ROTATE_MAX_FILES];
        tb_buf data[ROTATE_MAX_FILES];
        bool secret[ROTATE_MAX_FILES];
        size_t n;
} out_files;

static tb_buf *out_add(out_files *f, const char *name, bool secret) {
        f->name[f->n] = name;
        f->data[f->n] = (tb_buf)TB_BUF_INIT;
        f->secret[f->n] = secret;
        return &f->data[f->n++];
}

/* Copies OLD_DIR/NAME into F if it exists. */
static int copy_if_present(out_files *f, const char *old_dir, const char *name) {
        _cleanup_(freep) char *p = tb_path_join(old_dir, name);
        bool secret;
        int r;

        if (!p)
                return tb_log_oom();
        if (!tb_path_exists(p))
                return 0;
        secret = is_private(name);
        r = secret ? tb_read_secret_file(p, 1u << 20, out_add(f, name, true))
                   : tb_read_file(p, 16u << 20, out_add(f, name, false));
        return r < 0 ? tb_log_errno(r, "%s: cannot read", p) : 0;
}

int tb_keyset_rotate(const tb_keyset_options *o, const char *old_dir, const char *out_dir, bool rotate_pcr) {
        _cleanup_(tb_stage_abortp) tb_stage stage = TB_STAGE_INIT;
        _cleanup_(freep) char *kek_ref = NULL, *kek_pem = NULL, *db_cn = NULL, *pcr_cn = NULL;
        _cleanup_(tb_buf_freep) tb_buf new_esl = TB_BUF_INIT;
        static const char *const copied[] = { "PK.key", "PK.pkcs11", "PK.pem", "PK.der", "PK.esl", "PK.auth",
                                              "KEK.key", "KEK.pkcs11", "KEK.pem", "KEK.der", "KEK.esl", "KEK.auth" };
        static const char *const pcr_copied[] = { "tpm2-pcr-private.pem", "tpm2-pcr-private.pkcs11",
                                                  "tpm2-pcr-public.pem" };
        out_files f = {};
        tb_signer kek = {};
        EVP_PKEY *db_key = NULL, *pcr_key = NULL;
        X509 *db_cert = NULL;
        tb_guid owner;
        int r;

        r = check_existing(out_dir);
        if (r < 0)
                return r;
        kek_pem = tb_path_join(old_dir, "KEK.pem");
        if (!kek_pem || asprintf(&db_cn, "%s-db", o->name) < 0 || asprintf(&pcr_cn, "%s-tpm2-pcr", o->name) < 0)
                return tb_log_oom();
        r = tb_keyset_private_ref(old_dir, "KEK", &kek_ref);
        if (r < 0)
                return r;
        r = tb_signer_load(kek_ref, kek_pem, &kek); /* logs; warns if the KEK expires */
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(copied); i++)
                r = copy_if_present(&f, old_dir, copied[i]);
        for (size_t i = 0; r >= 0 && !rotate_pcr && i < ARRAY_SIZE(pcr_copied); i++)
                r = copy_if_present(&f, old_dir, pcr_copied[i]);
        if (r < 0)
                goto finish;

        /* The new db key, where the old set kept its keys unless told otherwise. */
        r = generate_key(o, o->key_bits, db_cn, &db_key, o->pkcs11_uri ? out_add(&f, "db.pkcs11", false) : NULL);
        if (r >= 0)
                r = make_cert(db_key, db_cn, o->epoch, o->days, &db_cert);
        if (r >= 0 && !o->pkcs11_uri)
                r = tb_key_to_pem(db_key, out_add(&f, "db.key", true));
        if (r >= 0)
                r = tb_cert_to_pem(db_cert, out_add(&f, "db.pem", false));
        if (r >= 0) {
                tb_buf *der = out_add(&f, "db.der", false);
                r = tb_cert_to_der(db_cert, der);
                if (r >= 0)
                        r = tb_guid_random(&owner);
                if (r >= 0)
                        r = tb_esl_append_x509(&new_esl, &owner, der->data, der->len);
        }
        if (r >= 0)
                r = tb_buf_append(out_add(&f, "db.esl", false), new_esl.data, new_esl.len);
        /* db.auth replaces db (fresh nodes); db-append.auth adds the new certificate to a node's db. */
        if (r >= 0)
                r = tb_auth_build("db", &TB_GUID_IMAGE_SECURITY_DATABASE, TB_EFI_AUTH_VAR_ATTRS, o->epoch, &new_esl,
                                  kek.key, kek.cert, out_add(&f, "db.auth", false));
        if (r >= 0)
                r = tb_sbupdate_append(TB_SBVAR_DB, &new_esl, o->epoch, kek.key, kek.cert,
                                       out_add(&f, "db-append.auth", false));
        if (r >= 0 && rotate_pcr) {
                r = generate_key(o, 2048, pcr_cn, &pcr_key,
                                 o->pkcs11_uri ? out_add(&f, "tpm2-pcr-private.pkcs11", false) : NULL);
                if (r >= 0 && !o->pkcs11_uri)
                        r = tb_key_to_pem(pcr_key, out_add(&f, "tpm2-pcr-private.pem", true));
                /* The public half in both cases: what `encrypt --add-pcr-key` takes on the nodes. */
                if (r >= 0)
                        r = tb_pubkey_to_pem(pcr_key, out_add(&f, "tpm2-pcr-public.pem", false));
        }
        if (r < 0) {
                if (r != -ECANCELED)
                        tb_log_errno(r, "cannot make the rotated key set");
                goto finish;
        }
        tb_cert_warn_expiry(db_cert, db_cn);

        r = tb_stage_begin(out_dir, 0700, &stage);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot create output directory", out_dir);
                goto finish;
        }
        for (size_t i = 0; i < f.n; i++) {
                _cleanup_(freep) char *p = tb_path_join(stage.dir, f.name[i]);

                r = p ? tb_write_file_new(p, f.data[i].data, f.data[i].len, f.secret[i] ? 0600 : 0644) : -ENOMEM;
                if (r < 0) {
                        tb_log_errno(r, "%s/%s: cannot write", out_dir, f.name[i]);
                        goto finish;
                }
        }
        r = tb_stage_commit(&stage, f.name, f.n, false);
        if (r < 0)
                tb_log_errno(r, "%s: cannot move the key set into place", out_dir);
finish:
        for (size_t i = 0; i < f.n; i++)
                tb_buf_wipe(&f.data[i]);
        EVP_PKEY_free(db_key);
        EVP_PKEY_free(pcr_key);
        X509_free(db_cert);
        tb_signer_done(&kek);
        return r;
}
