/* upgrade.c — trustboot upgrade: replace the installed UKIs from a new medium, A/B. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "cli.h"
#include "registry-opts.h"
#include "util/exec.h"
#include "util/log.h"
#include "util/macro.h"
#include "node/upgrade.h"

static const char usage[] =
        "Usage: trustboot upgrade --source SOURCE [--recovery | --boot-entry NAME] [OPTIONS]\n"
        "\n"
        "Install the UKIs of a new medium on this node's ESP. By default every active* entry\n"
        "becomes the passive* (fallback) one of the same suffix, every norole* UKI of the medium\n"
        "becomes active* with 3 boot tries, active* entries the medium no longer has are removed,\n"
        "and the next boot is set to the new active entry (LoaderEntryOneShot). Nothing on the\n"
        "ESP changes unless every new UKI is allowed by the firmware's db and not revoked by dbx,\n"
        "its PCR policy is signed by the key the disks are bound to, and the ESP has room.\n"
        "\n"
        "SOURCE: dir:ESP_TREE (build-uki -t uki), ocifile:TARBALL[:TAG] (build-uki -t container),\n"
        "        oci-layout:DIR[:TAG], an ISO file (build-uki -t iso), or the -t container image in a\n"
        "        registry: oci:REGISTRY/REPO:TAG, docker://REF or REF (build-uki --push).\n"
        "\n"
        "Options:\n"
        "      --source SOURCE     the new medium (required)\n"
        "      --recovery          replace only the recovery entry\n"
        "      --boot-entry NAME   replace only the entry NAME (e.g. statereset)\n"
        "      --reboot            reboot when done\n"
        "      --luks-device DEV   check the PCR key against DEV's systemd-tpm2 token (repeatable;\n"
        "                          default: every such LUKS2 volume found; 'none': no volume)\n"
        "      --esp DIR           the mounted ESP (default /efi)\n"
        "      --efivars DIR       EFI variables directory (default /sys/firmware/efi/efivars)\n"
        "  -h, --help              show this help\n"
        "\n"
        CLI_REGISTRY_USAGE;

/* Under systemd the service manager stops everything in order; without it (a minimal init, an
 * initrd shell) there is nobody to ask, so the file systems are synced and the kernel reboots. */
static int reboot_now(void) {
        if (access("/run/systemd/system", F_OK) == 0) {
                const char *const argv_reboot[] = { "systemctl", "reboot", NULL };
                return tb_exec_checked(argv_reboot, NULL);
        }
        tb_info("no systemd: syncing and rebooting now");
        sync();
        if (reboot(RB_AUTOBOOT) < 0)
                return tb_log_errno(negative_errno(), "cannot reboot");
        return 0;
}

int cmd_upgrade(int argc, char **argv) {
        enum { OPT_SOURCE = 0x100, OPT_RECOVERY, OPT_ENTRY, OPT_REBOOT, OPT_ESP, OPT_EFIVARS, OPT_LUKS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "source", required_argument, NULL, OPT_SOURCE },
                { "recovery", no_argument, NULL, OPT_RECOVERY },
                { "boot-entry", required_argument, NULL, OPT_ENTRY },
                { "reboot", no_argument, NULL, OPT_REBOOT },
                { "esp", required_argument, NULL, OPT_ESP },
                { "efivars", required_argument, NULL, OPT_EFIVARS },
                { "luks-device", required_argument, NULL, OPT_LUKS },
                CLI_REGISTRY_LONG_OPTIONS,
                {},
        };
        _cleanup_(tb_upgrade_result_done) tb_upgrade_result res = { 0 };
        tb_registry_options reg = { 0 };
        uint64_t max_image_size = 0;
        tb_upgrade_options o = { .esp = "/efi", .registry = &reg };
        const char *luks[16];
        bool recovery = false, reboot = false, luks_none = false;
        int opt, r;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        return cli_print_help(usage);
                case OPT_SOURCE:
                        o.source = optarg;
                        break;
                case OPT_RECOVERY:
                        recovery = true;
                        break;
                case OPT_ENTRY:
                        o.entry = optarg;
                        break;
                case OPT_REBOOT:
                        reboot = true;
                        break;
                case OPT_ESP:
                        o.esp = optarg;
                        break;
                case OPT_EFIVARS:
                        o.efivar_dir = optarg;
                        break;
                case OPT_LUKS:
                        if (strcmp(optarg, "none") == 0) {
                                luks_none = true;
                                break;
                        }
                        if (o.n_luks_devices == ARRAY_SIZE(luks))
                                return cli_usage_error(argv[0], "at most %zu --luks-device", ARRAY_SIZE(luks));
                        luks[o.n_luks_devices++] = optarg;
                        break;
                default:
                        r = cli_registry_option(argv[0], opt, optarg, &reg, &max_image_size);
                        if (r == 1)
                                break;
                        return r ? r : cli_bad_option(argv[0], argv);
                }
        }
        if (optind < argc)
                return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (!o.source || !*o.source)
                return cli_usage_error(argv[0], "--source is required");
        if (recovery && o.entry)
                return cli_usage_error(argv[0], "--recovery and --boot-entry exclude each other");
        if (o.entry && !tb_upgrade_entry_name_valid(o.entry))
                return cli_usage_error(argv[0], "--boot-entry: '%s' is not an entry name", o.entry);
        if (luks_none && o.n_luks_devices > 0)
                return cli_usage_error(argv[0], "--luks-device none excludes naming devices");
        if (recovery)
                o.entry = "recovery";
        o.luks_devices = luks;
        o.luks_scan = !luks_none && o.n_luks_devices == 0;

        r = tb_upgrade_run(&o, &res);
        if (r < 0)
                return TB_EXIT_FAILURE;
        printf("%s%s\n", res.entry_file, res.oneshot ? " (next boot)" : "");
        if (res.sdboot_updated)
                tb_info("systemd-boot and loader.conf updated");
        if (reboot && reboot_now() < 0)
                return TB_EXIT_FAILURE;
        return TB_EXIT_OK;
}
