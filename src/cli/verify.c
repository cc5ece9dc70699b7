/* src/cli/verify.c — trustboot verify: does a signature by CERT match this PE image? */
#include <stdio.h>
#include <stdlib.h>

#include "pe/authenticode.h"
#include "cli.h"
#include "util/log.h"
#include "util/ossl.h"
#include "pe/pe.h"
#include "pe/sbat.h"
#include "pe/signer.h"
#include "util/buf.h"
#include "util/strset.h"

static const char synopsis[] =
        "Usage: trustboot verify --cert CERT FILE\n"
        "\n"
        "Check that the PE/EFI image FILE carries an Authenticode signature made by CERT (or by a\n"
        "certificate that CERT issued) whose signed image hash matches the image.\n"
        "Exit status 0 only then. The image's SBAT entries (.sbat), by which shim and systemd-boot\n"
        "revoke binaries, are listed after the verdict.\n"
        "\n";

/* The entries after the "sbat,1,…" header: what revocation by generation applies to. */
static void print_sbat(const tb_pe *pe) {
        const tb_pe_section *s = tb_pe_find_section(pe, ".sbat");
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(tb_strv_freep) char **l = NULL;
        size_t n = 0;

        if (!s || tb_pe_section_read(pe, s, (size_t)64 * 1024, &b) < 0 || tb_sbat_lines(b.data, b.len, &l, &n) < 0)
                return;
        for (size_t i = tb_sbat_is_valid(b.data, b.len) ? 1 : 0; i < n; i++)
                if (*l[i])
                        printf("  sbat: %s\n", l[i]);
}

int cmd_verify(int argc, char **argv) {
        _cleanup_(tb_authenticode_verdict_done) tb_authenticode_verdict v = TB_AUTHENTICODE_VERDICT_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
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
                return cli_usage_error(cmd.name, "--cert is required");
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, "expected exactly one FILE");
        path = argv[optind];

        r = tb_cert_load(cert_path, &cert);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot load certificate", cert_path);
                return TB_EXIT_FAILURE;
        }
        r = tb_pe_open(path, &pe);
        if (r < 0)
                return TB_EXIT_FAILURE;
        r = tb_authenticode_verify_report(pe, cert, &v);
        if (r < 0) {
                if (v.index > 0)
                        tb_log_errno(r, "%s: signature %zu: cannot verify", path, v.index);
                return TB_EXIT_FAILURE;
        }
        if (v.n_sigs == 0) {
                tb_err("%s: image is not signed", path);
                return TB_EXIT_FAILURE;
        }
        if (r == 0) {
                tb_err("%s: no signature by %s matches the image; signature %zu (%s): %s", path, cert_path, v.index,
                       v.signer ?: "unknown signer", v.why);
                return TB_EXIT_FAILURE;
        }
        if (cli_verbosity >= 0) {
                printf("%s: signature %zu (%s): OK\n", path, v.index, v.signer ?: "unknown signer");
                print_sbat(pe);
        }
        return TB_EXIT_OK;
}
