/* src/cli/status.c — trustboot status: the node's Secure Boot, TPM and boot-entry state. */
#include <stdio.h>

#include "cli.h"
#include "node/status.h"
#include "util/json.h"
#include "util/log.h"

static const char synopsis[] =
        "Usage: trustboot status [--json] [--esp DIR] [--efivars DIR] [--no-volumes]\n"
        "\n"
        "Show this node's trust state: Secure Boot and setup mode; the enrolled PK, KEK, db and dbx\n"
        "(owner GUIDs, certificate subjects, hash counts); whether the running UKI (the entry\n"
        "systemd-boot booted) is allowed by db and not revoked by dbx; PCR 11 now and whether it meets\n"
        "one of the UKI's signed PCR policies; the TPM2-bound LUKS2 volumes and whether they are bound\n"
        "to the running UKI's PCR key; the boot entries with their boot counters.\n"
        "Exit status 0 only when everything is consistent; the problems are listed.\n"
        "\n";

int cmd_status(int argc, char **argv) {
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        tb_status_options o = { .esp = "/efi", .volumes = true };
        bool json = false, no_volumes = false, consistent = false;
        const char *pcr_dir = NULL;
        int r;

        const cli_option options[] = {
                CLI_OPT_JSON(&json, "print the report as JSON"),
                CLI_OPT_ESP(&o.esp),
                CLI_OPT_EFIVARS(&o.efivars),
                CLI_OPT_STRING("pcr-dir", 0, "DIR", &pcr_dir, "PCR values directory (default /sys/class/tpm/tpm0/pcr-sha256)"),
                CLI_OPT_FLAG("no-volumes", 0, &no_volumes, "do not look at block devices"),
                {},
        };
        const cli_command cmd = { "status", synopsis, options, NULL };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind != argc)
                return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
        o.pcr_dir = pcr_dir;
        o.volumes = !no_volumes;
        r = tb_status_collect(&o, &root, &consistent);
        if (r < 0) {
                tb_log_errno(r, "cannot collect the status");
                return TB_EXIT_FAILURE;
        }
        if (json)
                printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else
                tb_status_print_text(root, stdout);
        if (!consistent) {
                size_t n = tb_status_n_problems(root);
                fflush(stdout);
                tb_err("not consistent: %zu problem%s (%s)", n, n == 1 ? "" : "s",
                       json ? "\"problems\" in the report" : "listed above");
        }
        return consistent ? TB_EXIT_OK : TB_EXIT_FAILURE;
}
