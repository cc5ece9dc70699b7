/* src/cli/verify.c — trustboot verify: does a signature by CERT match this PE image? */
#include <stdio.h>
#include <stdlib.h>

#include "pe/authenticode.h"
#include "cli.h"
#include "util/log.h"
#include "util/ossl.h"
#include "pe/pe.h"
#include "pe/signer.h"

static const char synopsis[] =
        "Usage: trustboot verify --cert CERT FILE\n"
        "\n"
        "Check that the PE/EFI image FILE carries an Authenticode signature made by CERT (or by a\n"
        "certificate that CERT issued) whose signed image hash matches the image.\n"
        "Exit status 0 only then.\n"
        "\n";

int cmd_verify(int argc, char **argv) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        char why[512] = "";
        const char *cert_path = NULL, *path;
        int r;

        const cli_option options[] = {
                CLI_OPT_STRING("cert", 'c', "CERT", &cert_path, "trusted certificate (PEM or DER)"),
                {},
        };
        const cli_command cmd = { "verify", synopsis, options, NULL };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (!cert_path)
                return cli_usage_error("verify", "--cert is required");
        if (optind + 1 != argc)
                return cli_usage_error("verify", "expected exactly one FILE");
        path = argv[optind];

        r = tb_cert_load(cert_path, &cert);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot load certificate", cert_path);
                return TB_EXIT_FAILURE;
        }
        r = tb_pe_open(path, &pe);
        if (r < 0)
                return TB_EXIT_FAILURE;
        r = tb_authenticode_read(pe, &sigs);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (sigs.n == 0) {
                tb_err("%s: image is not signed", path);
                return TB_EXIT_FAILURE;
        }
        for (size_t i = 0; i < sigs.n; i++) {
                _cleanup_(freep) char *who = tb_authenticode_signer_name(&sigs.sig[i]);

                if (!sigs.sig[i].digest_matches) {
                        snprintf(why, sizeof(why), "; signature %zu (%s): the image changed after signing", i + 1,
                                 who ? who : "unknown signer");
                        continue;
                }
                r = tb_authenticode_check(&sigs.sig[i], cert);
                if (r < 0) {
                        tb_log_errno(r, "%s: signature %zu: cannot verify", path, i + 1);
                        return TB_EXIT_FAILURE;
                }
                if (r == 0) {
                        snprintf(why, sizeof(why), "; signature %zu (%s): invalid, or not by this certificate",
                                 i + 1, who ? who : "unknown signer");
                        continue;
                }
                if (cli_verbosity >= 0)
                        printf("%s: signature %zu (%s): OK\n", path, i + 1, who ? who : "unknown signer");
                return TB_EXIT_OK;
        }
        tb_err("%s: no signature by %s matches the image%s", path, cert_path, why);
        return TB_EXIT_FAILURE;
}
