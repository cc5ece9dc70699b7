/* sbupdate.c — signed updates of PK, KEK, db and dbx (see sbupdate.h). */
#include "sb/sbupdate.h"

#include <errno.h>
#include <libgen.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <stdlib.h>
#include <string.h>

#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/ossl.h"

#define WIN_CERT_TYPE_EFI_GUID 0x0EF1u
#define WIN_CERT_REVISION 0x0200u
#define AUTH_HEADER 16u /* EFI_TIME */
#define WIN_CERT_HEADER 24u /* dwLength, wRevision, wCertificateType, CertType GUID */

static const char *const names[] = { [TB_SBVAR_PK] = "PK", [TB_SBVAR_KEK] = "KEK", [TB_SBVAR_DB] = "db",
                                     [TB_SBVAR_DBX] = "dbx" };

int tb_sbvar_from_name(const char *name, tb_sbvar *ret) {
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strcmp(names[i], name) == 0) {
                        *ret = (tb_sbvar)i;
                        return 0;
                }
        return -EINVAL;
}

int tb_sbvar_from_file_name(const char *path, tb_sbvar *ret) {
        _cleanup_(freep) char *copy = strdup(path);
        char *base;

        if (!copy)
                return -ENOMEM;
        base = basename(copy);
        base[strcspn(base, "-._")] = 0;
        return tb_sbvar_from_name(base, ret);
}

const char *tb_sbvar_name(tb_sbvar v) {
        return names[v];
}

const tb_guid *tb_sbvar_vendor(tb_sbvar v) {
        return v == TB_SBVAR_PK || v == TB_SBVAR_KEK ? &TB_GUID_EFI_GLOBAL_VARIABLE : &TB_GUID_IMAGE_SECURITY_DATABASE;
}

int tb_sbupdate_append(tb_sbvar var, const tb_buf *esl, int64_t epoch, EVP_PKEY *key, X509 *cert, tb_buf *out) {
        if (var != TB_SBVAR_DB && var != TB_SBVAR_DBX)
                return -EINVAL;
        return tb_auth_build(tb_sbvar_name(var), tb_sbvar_vendor(var),
                             TB_EFI_AUTH_VAR_ATTRS | TB_EFI_VARIABLE_APPEND_WRITE, epoch, esl, key, cert, out);
}

static int no_op(const tb_esl_entry *e, void *userdata) {
        (void)e;
        (void)userdata;
        return 0;
}

int tb_auth_parse(const uint8_t *data, size_t len, tb_auth_parts *ret) {
        uint32_t dw;

        if (len < AUTH_HEADER + WIN_CERT_HEADER)
                return -EBADMSG;
        dw = tb_get_u32le(data + AUTH_HEADER);
        if (dw <= WIN_CERT_HEADER || dw > len - AUTH_HEADER ||
            tb_get_u16le(data + AUTH_HEADER + 4) != WIN_CERT_REVISION ||
            tb_get_u16le(data + AUTH_HEADER + 6) != WIN_CERT_TYPE_EFI_GUID ||
            memcmp(data + AUTH_HEADER + 8, TB_GUID_CERT_TYPE_PKCS7.b, 16) != 0)
                return -EBADMSG;
        *ret = (tb_auth_parts){
                .efi_time = data,
                .sig = data + AUTH_HEADER + WIN_CERT_HEADER,
                .sig_len = dw - WIN_CERT_HEADER,
                .payload = data + AUTH_HEADER + dw,
                .payload_len = len - AUTH_HEADER - dw,
        };
        /* A cut-off file usually still parses up to here: the lists after it must be whole. */
        return tb_esl_foreach(ret->payload, ret->payload_len, no_op, NULL) < 0 ? -EBADMSG : 0;
}


/* The signature as a PKCS7: efitools writes a bare SignedData, other tools a ContentInfo. */
static PKCS7 *parse_sig(const uint8_t *sig, size_t len) {
        const unsigned char *p = sig;
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
        PKCS7_SIGNED *sd;

        if (p7 && PKCS7_type_is_signed(p7))
                return p7;
        PKCS7_free(p7);
        ERR_clear_error();
        p = sig;
        sd = d2i_PKCS7_SIGNED(NULL, &p, (long)len);
        if (!sd)
                return NULL;
        p7 = PKCS7_new();
        if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed)) {
                PKCS7_free(p7);
                PKCS7_SIGNED_free(sd);
                return NULL;
        }
        PKCS7_SIGNED_free(p7->d.sign);
        p7->d.sign = sd;
        return p7;
}

int tb_auth_verify(const tb_auth_parts *p, tb_sbvar var, uint32_t attrs, X509 *const *trusted, size_t n_trusted) {
        _cleanup_(tb_buf_freep) tb_buf signed_buf = TB_BUF_INIT;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_(BIO_free_allp) BIO *content = NULL;
        int r;

        if (n_trusted == 0)
                return 0;
        r = tb_auth_signed_buffer(tb_sbvar_name(var), tb_sbvar_vendor(var), attrs, p->efi_time, p->payload,
                                  p->payload_len, &signed_buf);
        if (r < 0)
                return r;
        p7 = parse_sig(p->sig, p->sig_len);
        if (!p7) {
                ERR_clear_error();
                return 0;
        }
        store = X509_STORE_new();
        content = BIO_new_mem_buf(signed_buf.data, (int)signed_buf.len);
        if (!store || !content)
                return tb_log_oom();
        for (size_t i = 0; i < n_trusted; i++)
                if (X509_STORE_add_cert(store, trusted[i]) != 1)
                        return tb_log_oom();
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
        X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
        X509_STORE_set_verify_cb(store, tb_ossl_firmware_verify_cb);
        r = PKCS7_verify(p7, NULL, store, content, NULL, PKCS7_BINARY);
        ERR_clear_error();
        return r == 1;
}

typedef struct cert_set {
        X509 **v;
        size_t n;
} cert_set;

static void cert_set_done(cert_set *s) {
        for (size_t i = 0; i < s->n; i++)
                X509_free(s->v[i]);
        free(s->v);
}

static int collect_cert(const tb_esl_entry *e, void *userdata) {
        cert_set *s = userdata;
        const unsigned char *p = e->data;
        X509 *c, **n;

        if (memcmp(&e->type, &TB_GUID_CERT_X509, sizeof(tb_guid)) != 0)
                return 0;
        c = d2i_X509(NULL, &p, (long)e->len);
        if (!c) {
                ERR_clear_error();
                return 0;
        }
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof one pointer is right */
        n = reallocarray(s->v, s->n + 1, sizeof(*n));
        if (!n) {
                X509_free(c);
                return tb_log_oom();
        }
        s->v = n;
        s->v[s->n++] = c;
        return 0;
}

/* The certificates of an enrolled variable (none if it is not set). */
static int load_certs(const char *dir, tb_sbvar var, cert_set *s) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        int r = tb_efivar_read(dir, tb_sbvar_name(var), tb_sbvar_vendor(var), NULL, &b);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return tb_log_errno(r, "cannot read the %s variable", tb_sbvar_name(var));
        r = tb_esl_foreach(b.data, b.len, collect_cert, s);
        if (r == -EBADMSG)
                tb_err("the enrolled %s variable is not a list of EFI_SIGNATURE_LISTs", tb_sbvar_name(var));
        return r;
}

static int setup_mode(const char *dir) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        int r = tb_efivar_read(dir, "SetupMode", &TB_GUID_EFI_GLOBAL_VARIABLE, NULL, &b);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return b.len >= 1 && b.data[0] == 1;
}

int tb_sbupdate_enroll(const char *efivar_dir, tb_sbvar var, const uint8_t *auth, size_t len, const char *source,
                       bool *ret_append) {
        _cleanup_(cert_set_done) cert_set pk = {}, kek = {};
        cert_set *signers[2] = { &pk, NULL };
        uint32_t attrs = TB_EFI_AUTH_VAR_ATTRS;
        tb_auth_parts p;
        bool append = false;
        int r, setup;

        r = tb_auth_parse(auth, len, &p);
        if (r < 0) {
                tb_err("%s: not a complete authenticated variable update (EFI_VARIABLE_AUTHENTICATION_2 with "
                       "signature lists): truncated or damaged", source);
                return r;
        }
        setup = setup_mode(efivar_dir);
        if (setup < 0)
                return tb_log_errno(setup, "cannot read SetupMode");
        r = load_certs(efivar_dir, TB_SBVAR_PK, &pk);
        if (r >= 0 && (var == TB_SBVAR_DB || var == TB_SBVAR_DBX)) {
                r = load_certs(efivar_dir, TB_SBVAR_KEK, &kek);
                signers[1] = &kek;
        }
        if (r < 0)
                return r;

        if (!setup || pk.n > 0) {
                /* Which write does the signature cover: replacing, or appending? */
                bool ok = false;

                for (int a = 0; a < 2 && !ok; a++) {
                        uint32_t try = a == 0 ? TB_EFI_AUTH_VAR_ATTRS : TB_EFI_AUTH_VAR_ATTRS | TB_EFI_VARIABLE_APPEND_WRITE;

                        for (size_t s = 0; s < 2 && signers[s] && !ok; s++) {
                                r = tb_auth_verify(&p, var, try, signers[s]->v, signers[s]->n);
                                if (r < 0)
                                        return tb_log_errno(r, "%s: cannot verify", source);
                                if (r > 0) {
                                        ok = true;
                                        attrs = try;
                                }
                        }
                }
                if (!ok) {
                        tb_err("%s: not signed by the enrolled %s (%zu certificate%s) for the %s variable: the "
                               "firmware would refuse it, nothing written", source,
                               var == TB_SBVAR_DB || var == TB_SBVAR_DBX ? "KEK or PK" : "PK",
                               pk.n + kek.n, pk.n + kek.n == 1 ? "" : "s", tb_sbvar_name(var));
                        return -EKEYREJECTED;
                }
                append = attrs & TB_EFI_VARIABLE_APPEND_WRITE;
        } else {
                /* Setup mode without a PK: the firmware takes any well-formed update; so do we.
                 * An append is recognised by nothing then: write it as the signer meant it only
                 * if it verifies as such against its own embedded certificate. */
                _cleanup_(PKCS7_freep) PKCS7 *p7 = parse_sig(p.sig, p.sig_len);
                STACK_OF(X509) *certs = p7 && p7->d.sign ? p7->d.sign->cert : NULL;

                ERR_clear_error();
                for (int c = 0; c < sk_X509_num(certs) && !append; c++) {
                        X509 *cert = sk_X509_value(certs, c);
                        append = tb_auth_verify(&p, var, TB_EFI_AUTH_VAR_ATTRS | TB_EFI_VARIABLE_APPEND_WRITE,
                                                &cert, 1) == 1;
                }
                if (append)
                        attrs |= TB_EFI_VARIABLE_APPEND_WRITE;
        }
        r = tb_efivar_write(efivar_dir, tb_sbvar_name(var), tb_sbvar_vendor(var), attrs, auth, len);
        if (r < 0)
                return r;
        if (ret_append)
                *ret_append = append;
        return 0;
}

int tb_sbupdate_enroll_file(const char *efivar_dir, tb_sbvar var, const char *path, bool *ret_append) {
        _cleanup_(tb_buf_freep) tb_buf auth = TB_BUF_INIT;
        int r;

        r = tb_read_file(path, 1u << 20, &auth);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        return tb_sbupdate_enroll(efivar_dir, var, auth.data, auth.len, path, ret_append);
}
