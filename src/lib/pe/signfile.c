/* signfile.c — Authenticode on image files (see signfile.h). */
#include "pe/signfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pe/sbat.h"
#include "pe/signer.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/ossl.h"
#include "util/strset.h"

int tb_signfile_sign(const char *in, const char *out, const char *key, const char *cert, bool replace) {
        _cleanup_(tb_signer_done) tb_signer signer = {};
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        struct stat st;
        int r;

        if (!out)
                out = in;
        r = tb_signer_load(key, cert, &signer);
        if (r < 0)
                return r;
        r = tb_pe_open(in, &pe);
        if (r < 0)
                return r;
        if (tb_pe_get_info(pe)->cert_size != 0 && !replace) {
                tb_err("%s: image is already signed (use --replace to replace its signatures)", in);
                return -EEXIST;
        }
        if (stat(in, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot stat", in);
        r = tb_atomic_open(out, st.st_mode & 0777, &af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", out);
        r = tb_authenticode_sign(pe, &signer, af.fd, out);
        if (r < 0)
                return r;
        r = tb_atomic_commit(&af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", out);
        tb_debug("%s: signed", out);
        return 0;
}

void tb_signfile_verdict_done(tb_signfile_verdict *r) {
        tb_authenticode_verdict_done(&r->v);
        tb_strv_free(r->sbat);
        r->sbat = NULL;
        r->n_sbat = 0;
}

/* The entries after the "sbat,1,…" header; none when the image has no readable .sbat. */
static void read_sbat(const tb_pe *pe, char ***ret, size_t *ret_n) {
        const tb_pe_section *s = tb_pe_find_section(pe, ".sbat");
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(tb_strv_freep) char **l = NULL;
        size_t n = 0, skip;

        if (!s || tb_pe_section_read(pe, s, (size_t)64 * 1024, &b) < 0 || tb_sbat_lines(b.data, b.len, &l, &n) < 0)
                return;
        skip = tb_sbat_is_valid(b.data, b.len) ? 1 : 0;
        for (size_t i = skip; i < n; i++)
                if (*l[i] && tb_strv_push(ret, ret_n, l[i]) < 0)
                        return;
}

int tb_signfile_verify(const char *path, const char *cert_path, tb_signfile_verdict *ret) {
        _cleanup_(tb_signfile_verdict_done) tb_signfile_verdict res = { .v = TB_AUTHENTICODE_VERDICT_INIT };
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        int r;

        r = tb_cert_load(cert_path, &cert);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot load certificate", cert_path);
        r = tb_pe_open(path, &pe);
        if (r < 0)
                return r;
        r = tb_authenticode_verify_report(pe, cert, &res.v);
        if (r < 0) {
                if (res.v.index > 0)
                        tb_log_errno(r, "%s: signature %zu: cannot verify", path, res.v.index);
                return r;
        }
        if (res.v.n_sigs == 0) {
                tb_err("%s: image is not signed", path);
                return 0;
        }
        if (r == 0) {
                tb_err("%s: no signature by %s matches the image; signature %zu (%s): %s", path, cert_path,
                       res.v.index, res.v.signer ?: "unknown signer", res.v.why);
                return 0;
        }
        read_sbat(pe, &res.sbat, &res.n_sbat);
        *ret = TAKE_STRUCT(res);
        return 1;
}
