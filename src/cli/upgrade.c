/* upgrade.c — trustboot upgrade: replace the installed UKIs from a new medium, A/B. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry-opts.h"
#include "util/macro.h"
#include "node/upgrade.h"

static const char synopsis[] =
        "Usage: trustboot upgrade --source SOURCE [--recovery | --boot-entry NAME] [OPTIONS]\n"
        "\n"
        "Install the UKIs of a new medium on this node's ESP. By default every active* entry\n"
        "becomes the passive* (fallback) one of the same suffix, every norole* UKI of the medium\n"
        "becomes active* with 3 boot tries (with the entries of its profiles, for a multi-profile\n"
        "UKI: build-uki --cmd-lines-v2), active* entries the medium no longer has are removed,\n"
        "and the next boot is set to the new active entry (LoaderEntryOneShot). Nothing on the\n"
        "ESP changes unless every new UKI is allowed by the firmware's db and not revoked by dbx,\n"
        "its PCR policy is signed by the key the disks are bound to, and the ESP has room.\n"
        "\n"
        "SOURCE: dir:ESP_TREE (build-uki -t uki), ocifile:TARBALL[:TAG] (build-uki -t container),\n"
        "        oci-layout:DIR[:TAG], an ISO file (build-uki -t iso), or the -t container image in a\n"
        "        registry: oci:REGISTRY/REPO:TAG, docker://REF or REF (build-uki --push).\n"
        "\n";

/* --luks-device values: devices, or "none". */
struct luks_args {
        const char *v[16];
        size_t n;
        bool none;
};

static int parse_luks_device(const char *cmd, const char *arg, void *target) {
        struct luks_args *l = target;

        if (strcmp(arg, "none") == 0) {
                l->none = true;
                return 0;
        }
        if (l->n == ARRAY_SIZE(l->v))
                return cli_usage_error(cmd, "at most %zu --luks-device", ARRAY_SIZE(l->v));
        l->v[l->n++] = arg;
        return 0;
}

int cmd_upgrade(int argc, char **argv) {
        tb_registry_options reg = { 0 };
        tb_upgrade_options o = { .esp = "/efi", .registry = &reg };
        struct luks_args luks = {};
        bool recovery = false, reboot = false;
        const cli_option options[] = {
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_STRING("source", 0, "SOURCE", &o.source, "the new medium (required)"),
                CLI_OPT_FLAG("recovery", 0, &recovery, "replace only the recovery entry"),
                CLI_OPT_STRING("boot-entry", 0, "NAME", &o.entry, "replace only the entry NAME (e.g. statereset)"),
                CLI_OPT_FLAG("reboot", 0, &reboot, "reboot when done"),
                CLI_OPT_CALL("luks-device", 0, "DEV", parse_luks_device, &luks,
                             "check the PCR key against DEV's systemd-tpm2 token (repeatable;\n"
                             "default: every such LUKS2 volume found; 'none': no volume)"),
                CLI_OPT_ESP(&o.esp),
                CLI_OPT_EFIVARS(&o.efivar_dir),
                CLI_OPT_EXPIRY_WARN_DAYS,
                CLI_OPTS_REGISTRY(&reg, &o.max_image_size),
                {},
        };
        const cli_command cmd = { "upgrade", synopsis, options, CLI_REGISTRY_EPILOG };
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind]);
        if (!o.source || !*o.source)
                return cli_usage_error(cmd.name, "--source is required");
        if (recovery && o.entry)
                return cli_usage_error(cmd.name, "--recovery and --boot-entry exclude each other");
        if (o.entry && !tb_upgrade_entry_name_valid(o.entry))
                return cli_usage_error(cmd.name, "--boot-entry: '%s' is not an entry name", o.entry);
        if (luks.none && luks.n > 0)
                return cli_usage_error(cmd.name, "--luks-device none excludes naming devices");
        if (recovery)
                o.entry = "recovery";
        o.luks_devices = luks.v;
        o.n_luks_devices = luks.n;
        o.luks_scan = !luks.none && luks.n == 0;

        return tb_upgrade_command(&o, reboot, stdout) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
