/* src/cli/sign.c — trustboot sign: Authenticode-sign a PE image (as sbsign does). */
#include <stdbool.h>

#include "cli.h"
#include "pe/signfile.h"

static const char synopsis[] =
        "Usage: trustboot sign --key KEY --cert CERT [-o OUT] [--replace] FILE\n"
        "\n"
        "Sign the PE/EFI image FILE with Authenticode (SHA-256, PKCS#7), as sbsign does.\n"
        "The output is deterministic: the same image and key give the same bytes.\n"
        "\n";

int cmd_sign(int argc, char **argv) {
        const char *key = NULL, *cert = NULL, *out = NULL;
        bool replace = false;
        int r;

        const cli_option options[] = {
                CLI_OPT_STRING("key", 'k', "KEY", &key, "private key: PEM file or pkcs11: URI"),
                CLI_OPT_STRING("cert", 'c', "CERT", &cert, "certificate of KEY (PEM or DER)"),
                CLI_OPT_STRING("output", 'o', "OUT", &out, "write the signed image to OUT (default: replace FILE)"),
                CLI_OPT_FLAG("replace", 0, &replace, "replace existing signatures (default: refuse a signed image)"),
                CLI_OPT_EXPIRY_WARN_DAYS,
                {},
        };
        const cli_command cmd = { "sign", synopsis, options, NULL };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (!key || !cert)
                return cli_usage_error(cmd.name, "--key and --cert are required");
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, "expected exactly one FILE");
        return tb_signfile_sign(argv[optind], out, key, cert, replace) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
