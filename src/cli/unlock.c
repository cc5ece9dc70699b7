/* unlock.c — trustboot unlock / unlock-all: open TPM2-sealed LUKS2 volumes (systemd-tpm2 tokens). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "node/boot.h"
#include "util/log.h"
#include "tpm/luks.h"

static const char usage_unlock[] =
        "Usage: trustboot unlock DEVICE NAME [OPTIONS]\n"
        "       trustboot unlock DEVICE --test [OPTIONS]\n"
        "\n"
        "Unseal the key of DEVICE's systemd-tpm2 token and open it as /dev/mapper/NAME. With --test,\n"
        "only check that the unsealed key opens its keyslot (nothing is activated).\n"
        "A PIN, if the token needs one, is read from the terminal or stdin.\n"
        "\n"
        "Options:\n"
        "      --pcr-signature JSON  signed PCR policies (default /run/systemd/tpm2-pcr-signature.json,\n"
        "                            then /.extra/tpm2-pcr-signature.json)\n"
        "      --tpm2-device DEVICE  auto (default), a device node, or DRIVER:PARAMS\n"
        "      --test                verify the key only\n"
        "  -h, --help                show this help\n";

static const char usage_unlock_all[] =
        "Usage: trustboot unlock-all [OPTIONS]\n"
        "\n"
        "Open every LUKS2 partition with a systemd-tpm2 token that is not open yet, as\n"
        "/dev/mapper/PARTITION-NAME (or its LUKS2 label). Prints one line per volume.\n"
        "\n"
        "Options:\n"
        "      --pcr-signature JSON  signed PCR policies (default as for 'trustboot unlock')\n"
        "      --tpm2-device DEVICE  auto (default), a device node, or DRIVER:PARAMS\n"
        "      --test                verify the keys only\n"
        "  -h, --help                show this help\n";

struct options {
        const char *signature, *tpm2_device;
        bool test;
};

/* Parses the options both commands share; returns 0, an exit code, or -1 after --help. */
static int parse(int argc, char **argv, const char *usage, struct options *o) {
        enum { OPT_SIGNATURE = 0x100, OPT_DEVICE, OPT_TEST };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "pcr-signature", required_argument, NULL, OPT_SIGNATURE },
                { "tpm2-device", required_argument, NULL, OPT_DEVICE },
                { "test", no_argument, NULL, OPT_TEST },
                {},
        };
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        cli_print_help(usage);
                        return -1;
                case OPT_SIGNATURE:
                        o->signature = optarg;
                        break;
                case OPT_DEVICE:
                        o->tpm2_device = optarg;
                        break;
                case OPT_TEST:
                        o->test = true;
                        break;
                default:
                        return cli_bad_option(argv[0], argv);
                }
        }
        return 0;
}

static int get_pin(char **ret, void *userdata) {
        int r;

        (void)userdata;
        r = cli_read_secret("TPM2 PIN: ", ret);
        if (r == -ENODATA) {
                tb_err("no PIN given");
                return -EACCES;
        }
        if (r < 0)
                return tb_log_errno(r, "cannot read the PIN");
        return 0;
}

static tb_luks_unlock_params unlock_params(const struct options *o) {
        return (tb_luks_unlock_params){
                .tpm2_device = o->tpm2_device,
                .signature_path = o->signature,
                .get_pin = get_pin,
        };
}

int cmd_unlock(int argc, char **argv) {
        struct options o = { 0 };
        tb_luks_unlock_params p;
        const char *device, *name;
        int r;

        r = parse(argc, argv, usage_unlock, &o);
        if (r != 0)
                return r < 0 ? TB_EXIT_OK : r;
        if (!(argc - optind == 2 || (o.test && argc - optind == 1)))
                return cli_usage_error(argv[0], "expected DEVICE NAME (or DEVICE with --test)");
        device = argv[optind];
        name = o.test ? NULL : argv[optind + 1];
        p = unlock_params(&o);
        r = tb_luks_unlock(device, name, &p);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (name)
                tb_info("%s: unlocked with keyslot %d as /dev/mapper/%s", device, r, name);
        else
                printf("%s: keyslot %d unlocks with the TPM (test only, not activated)\n", device, r);
        return TB_EXIT_OK;
}

struct all_state {
        const struct options *o;
        int failed;
};

static int unlock_one(const char *device, const char *name, void *userdata) {
        struct all_state *st = userdata;
        tb_luks_unlock_params p = unlock_params(st->o);
        int r;

        if (!st->o->test && tb_luks_is_active(name)) {
                printf("%s %s: already open, skipped\n", name, device);
                return 0;
        }
        r = tb_luks_unlock(device, st->o->test ? NULL : name, &p);
        if (r < 0) {
                st->failed++;
                printf("%s %s: FAILED\n", name, device);
        } else
                printf("%s %s: %s (keyslot %d)\n", name, device, st->o->test ? "key verified" : "unlocked", r);
        return 0;
}

int cmd_unlock_all(int argc, char **argv) {
        struct options o = { 0 };
        struct all_state st = { .o = &o };
        int r;

        r = parse(argc, argv, usage_unlock_all, &o);
        if (r != 0)
                return r < 0 ? TB_EXIT_OK : r;
        if (optind != argc)
                return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        r = tb_luks_foreach_tpm2_volume(unlock_one, &st);
        if (r < 0) {
                tb_log_errno(r, "cannot list block devices");
                return TB_EXIT_FAILURE;
        }
        if (st.failed) {
                _cleanup_(freep) char *why = NULL;
                if (tb_boot_state_explain(&why) > 0)
                        tb_err("%s", why);
                return TB_EXIT_FAILURE;
        }
        return TB_EXIT_OK;
}
