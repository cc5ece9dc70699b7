/* src/cli/verify.c — trustboot verify: does a signature by CERT match this PE image? */
#include <stdio.h>

#include "cli.h"
#include "pe/signfile.h"

static const char synopsis[] =
        "Usage: trustboot verify --cert CERT FILE\n"
        "\n"
        "Check that the PE/EFI image FILE carries an Authenticode signature made by CERT (or by a\n"
        "certificate that CERT issued) whose signed image hash matches the image.\n"
        "Exit status 0 only then. The image's SBAT entries (.sbat), by which shim and systemd-boot\n"
        "revoke binaries, are listed after the verdict.\n"
        "\n";

int cmd_verify(int argc, char **argv) {
        _cleanup_(tb_signfile_verdict_done) tb_signfile_verdict v = { .v = TB_AUTHENTICODE_VERDICT_INIT };
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

        if (tb_signfile_verify(path, cert_path, &v) <= 0)
                return TB_EXIT_FAILURE;
        if (cli_verbosity >= 0) {
                printf("%s: signature %zu (%s): OK\n", path, v.v.index, v.v.signer ?: "unknown signer");
                for (size_t i = 0; i < v.n_sbat; i++)
                        printf("  sbat: %s\n", v.sbat[i]);
        }
        return TB_EXIT_OK;
}
