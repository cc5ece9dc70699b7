/* src/cli/inspect.c — trustboot inspect: what is inside a PE image, UKI or signed binary. */
#include <stdio.h>

#include "cli.h"
#include "medium/inspect.h"

static const char synopsis[] =
        "Usage: trustboot inspect [--json] FILE\n"
        "\n"
        "Show a PE/EFI image: its sections (name, address, sizes, flags), the systemd-stub version\n"
        "(.sdmagic), the Authenticode SHA-256 image hash, embedded signatures (signer, signed hash,\n"
        "whether it matches the image), its SBAT entries (.sbat) and, for a UKI, the sections\n"
        "systemd-stub measures into PCR 11.\n"
        "\n";

int cmd_inspect(int argc, char **argv) {
        tb_inspect_options o = { 0 };

        const cli_option options[] = {
                CLI_OPT_JSON(&o.json, "print one JSON object"),
                {},
        };
        const cli_command cmd = { "inspect", synopsis, options, NULL };
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, "expected exactly one FILE");
        o.path = argv[optind];
        return tb_inspect(&o, stdout) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
