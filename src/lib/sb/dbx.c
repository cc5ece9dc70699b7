/* dbx.c — revocations and the KEK-signed dbx append update (see dbx.h). */
#include "sb/dbx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pe/authenticode.h"
#include "pe/pe.h"
#include "pe/signer.h"
#include "sb/keyset.h"
#include "sb/sbupdate.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"

static int add_image(const char *path, const tb_guid *owner, tb_buf *esl) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        uint8_t h[EVP_MAX_MD_SIZE];
        unsigned n;
        int r;

        r = tb_pe_open(path, &pe);
        if (r < 0)
                return r; /* logged */
        r = tb_authenticode_digest(pe, EVP_sha256(), h, &n);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot hash the image", path);
        return tb_esl_append(esl, &TB_GUID_CERT_SHA256, owner, h, n);
}

static int add_cert(const char *path, const tb_guid *owner, tb_buf *esl) {
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(tb_buf_freep) tb_buf der = TB_BUF_INIT;
        int r;

        r = tb_cert_load(path, &cert);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot load certificate", path);
        r = tb_cert_to_der(cert, &der);
        return r < 0 ? r : tb_esl_append_x509(esl, owner, der.data, der.len);
}

static int add_hash(const char *hex, const tb_guid *owner, tb_buf *esl) {
        uint8_t h[32];

        if (strlen(hex) != 64 || tb_hex_decode(hex, h, sizeof(h)) < 0) {
                tb_err("--hash: '%s' is not a SHA-256 hash (64 hex digits)", hex);
                return -EINVAL;
        }
        return tb_esl_append(esl, &TB_GUID_CERT_SHA256, owner, h, sizeof(h));
}

int tb_dbx_esl(const tb_dbx_add_options *o, tb_buf *esl) {
        int r;

        for (size_t i = 0; i < o->n_images; i++)
                if ((r = add_image(o->images[i], &o->owner, esl)) < 0)
                        return r;
        for (size_t i = 0; i < o->n_certs; i++)
                if ((r = add_cert(o->certs[i], &o->owner, esl)) < 0)
                        return r;
        for (size_t i = 0; i < o->n_hashes; i++)
                if ((r = add_hash(o->hashes[i], &o->owner, esl)) < 0)
                        return r;
        return 0;
}

/* The KEK: O's own key and certificate, or the key set's. */
static int load_kek(const tb_dbx_add_options *o, tb_signer *ret) {
        _cleanup_(freep) char *key_ref = NULL, *cert_path = NULL;
        int r;

        if (!o->keys)
                return tb_signer_load(o->kek_key, o->kek_cert, ret);
        r = tb_keyset_private_ref(o->keys, "KEK", &key_ref);
        if (r < 0)
                return r;
        cert_path = tb_path_join(o->keys, TB_KEYSET_KEK_CERT);
        if (!cert_path)
                return tb_log_oom();
        return tb_signer_load(key_ref, cert_path, ret);
}

int tb_dbx_add(const tb_dbx_add_options *o, FILE *out) {
        _cleanup_(tb_buf_freep) tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        tb_signer signer = {};
        int r;

        r = tb_dbx_esl(o, &esl);
        if (r < 0)
                return r;
        r = load_kek(o, &signer);
        if (r < 0)
                return r;
        r = tb_sbupdate_append(TB_SBVAR_DBX, &esl, o->epoch, signer.key, signer.cert, &auth);
        tb_signer_done(&signer);
        if (r < 0)
                return tb_log_errno(r, "cannot sign the dbx update");
        r = tb_write_file_atomic(o->output, auth.data, auth.len, 0644, true);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", o->output);
        if (out)
                fprintf(out, "Wrote %s: a KEK-signed dbx append of %zu image%s, %zu certificate%s, %zu hash%s.\n",
                        o->output, o->n_images, o->n_images == 1 ? "" : "s", o->n_certs, o->n_certs == 1 ? "" : "s",
                        o->n_hashes, o->n_hashes == 1 ? "" : "es");
        return 0;
}
