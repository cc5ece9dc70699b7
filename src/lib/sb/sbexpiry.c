/* sbexpiry.c — expiry warnings for the certificates in use (see sbexpiry.h). */
#include "sb/sbexpiry.h"

#include <stdio.h>
#include <string.h>

#include "pe/authenticode.h"
#include "pe/signer.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/ossl.h"

struct warn_ctx {
        const char *name;
        int warned;
};

static int warn_entry(const tb_esl_entry *e, void *userdata) {
        struct warn_ctx *c = userdata;
        _cleanup_(X509_freep) X509 *cert = NULL;

        if (memcmp(&e->type, &TB_GUID_CERT_X509, sizeof(tb_guid)) != 0 || tb_cert_from_der(e->data, e->len, &cert) < 0)
                return 0;
        if (tb_cert_warn_expiry(cert, c->name) > 0)
                c->warned++;
        return 0;
}

int tb_sb_warn_enrolled_expiry(const char *efivar_dir) {
        static const char *const vars[] = { "PK", "KEK" };
        int warned = 0;

        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
                char name[32];
                struct warn_ctx c = { .name = name };

                if (tb_efivar_read(efivar_dir, vars[i], &TB_GUID_EFI_GLOBAL_VARIABLE, NULL, &b) < 0)
                        continue;
                snprintf(name, sizeof(name), "enrolled %s", vars[i]);
                (void)tb_esl_foreach(b.data, b.len, warn_entry, &c);
                warned += c.warned;
        }
        return warned;
}

int tb_sb_warn_image_expiry(const tb_pe *pe) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        int warned = 0;

        if (tb_authenticode_read(pe, &sigs) < 0)
                return 0;
        for (size_t i = 0; i < sigs.n; i++) {
                STACK_OF(X509) *certs = sigs.sig[i].p7->d.sign ? sigs.sig[i].p7->d.sign->cert : NULL;

                for (int k = 0; k < sk_X509_num(certs); k++)
                        if (tb_cert_warn_expiry(sk_X509_value(certs, k), tb_pe_name(pe)) > 0)
                                warned++;
        }
        return warned;
}
