/* src/cli/status.c — trustboot status: the node's Secure Boot, TPM and boot-entry state. */
#include <stdio.h>
#include <string.h>

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

static const char *yes_no(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return "unknown";
        return json_object_get_boolean(v) ? "yes" : "no";
}

static const char *str(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "-";
}

static void print_text(struct json_object *root) {
        struct json_object *vars, *a, *u, *p;

        printf("Secure Boot:      %s\n", yes_no(root, "secure_boot"));
        printf("Setup mode:       %s\n", yes_no(root, "setup_mode"));
        if (json_object_object_get_ex(root, "variables", &vars)) {
                json_object_object_foreach(vars, name, var) {
                        struct json_object *certs = NULL;
                        json_object_object_get_ex(var, "certificates", &certs);
                        printf("%-4s              %s, %zu certificate(s), %s hash(es)\n", name,
                               json_object_get_boolean(json_object_object_get(var, "set")) ? "set" : "not set",
                               certs ? json_object_array_length(certs) : 0, str(var, "hashes"));
                        for (size_t i = 0; certs && i < json_object_array_length(certs); i++) {
                                struct json_object *c = json_object_array_get_idx(certs, i);
                                printf("                    %s (owner %s, sha256 %.16s…, until %s)\n", str(c, "subject"),
                                       str(c, "owner"), str(c, "sha256"), str(c, "not_after"));
                        }
                }
        }
        printf("Booted entry:     %s\n", str(root, "booted_entry"));
        if (json_object_object_get_ex(root, "running_uki", &u))
                printf("Running UKI:      %s: allowed by db: %s, revoked by dbx: %s\n", str(u, "path"),
                       yes_no(u, "allowed_by_db"), yes_no(u, "revoked_by_dbx"));
        if (json_object_object_get_ex(root, "pcr11", &p))
                printf("PCR 11 (sha256):  %s, signed policy met: %s\n", str(p, "sha256"), yes_no(p, "signed_policy_met"));
        if (json_object_object_get_ex(root, "volumes", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        struct json_object *v = json_object_array_get_idx(a, i);
                        printf("Volume:           %s (%s): open: %s, PCR keys: %s, bound to the running UKI's PCR "
                               "key: %s, SRK token: %s\n", str(v, "device"), str(v, "name"), yes_no(v, "open"),
                               str(v, "pcr_keys"), yes_no(v, "pcr_key_matches_running_uki"), yes_no(v, "srk_token"));
                }
        if (json_object_object_get_ex(root, "entries", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        struct json_object *e = json_object_array_get_idx(a, i), *l;
                        printf("Entry:            %-28s %-13s", str(e, "id"), str(e, "state"));
                        if (json_object_object_get_ex(e, "tries_left", &l))
                                printf(" tries left %s, done %s", str(e, "tries_left"), str(e, "tries_done"));
                        printf(" %s\n", str(e, "title"));
                }
        if (json_object_object_get_ex(root, "problems", &a)) {
                printf("Consistent:       %s\n", json_object_array_length(a) == 0 ? "yes" : "no");
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        printf("  problem: %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
        }
}

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
                print_text(root);
        if (!consistent) {
                struct json_object *p = NULL;
                size_t n = json_object_object_get_ex(root, "problems", &p) ? json_object_array_length(p) : 0;
                fflush(stdout);
                tb_err("not consistent: %zu problem%s (%s)", n, n == 1 ? "" : "s",
                       json ? "\"problems\" in the report" : "listed above");
        }
        return consistent ? TB_EXIT_OK : TB_EXIT_FAILURE;
}
