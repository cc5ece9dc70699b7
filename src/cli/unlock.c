/* unlock.c — trustboot unlock / unlock-all: open TPM2-sealed LUKS2 volumes (systemd-tpm2 tokens). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "node/unlock-all.h"
#include "util/log.h"
#include "tpm/luks.h"

static const char synopsis_unlock[] =
        "Usage: trustboot unlock DEVICE NAME [OPTIONS]\n"
        "       trustboot unlock DEVICE --test [OPTIONS]\n"
        "\n"
        "Unseal the key of DEVICE's systemd-tpm2 token and open it as /dev/mapper/NAME. With --test,\n"
        "only check that the unsealed key opens its keyslot (nothing is activated).\n"
        "A PIN, if the token needs one, is read from the terminal or stdin.\n"
        "\n";

static const char synopsis_unlock_all[] =
        "Usage: trustboot unlock-all [OPTIONS]\n"
        "\n"
        "Open every LUKS2 partition with a systemd-tpm2 token that is not open yet, as\n"
        "/dev/mapper/PARTITION-NAME (or its LUKS2 label). Prints one line per volume.\n"
        "\n";

struct options {
        const char *signature, *tpm2_device;
        bool test;
};

/* Parses the options and operands of both commands; returns CLI_CONTINUE, or the exit status. */
static int parse(int argc, char **argv, bool all, struct options *o) {
        const cli_option options[] = {
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_STRING("pcr-signature", 0, "JSON", &o->signature,
                               all ? "signed PCR policies (default as for 'trustboot unlock')"
                                   : "signed PCR policies (default /run/systemd/tpm2-pcr-signature.json,\n"
                                     "then /.extra/tpm2-pcr-signature.json)"),
                CLI_OPT_TPM2_DEVICE(&o->tpm2_device),
                CLI_OPT_FLAG("test", 0, &o->test, all ? "verify the keys only" : "verify the key only"),
                {},
        };
        const cli_command cmd = { all ? "unlock-all" : "unlock", all ? synopsis_unlock_all : synopsis_unlock, options,
                                  NULL };

        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (all && optind != argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind]);
        if (!all && !(argc - optind == 2 || (o->test && argc - optind == 1)))
                return cli_usage_error(cmd.name, "expected DEVICE NAME (or DEVICE with --test)");
        return CLI_CONTINUE;
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

        r = parse(argc, argv, false, &o);
        if (r != CLI_CONTINUE)
                return r;
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

int cmd_unlock_all(int argc, char **argv) {
        struct options o = { 0 };
        tb_unlock_all_options a;
        int r;

        r = parse(argc, argv, true, &o);
        if (r != CLI_CONTINUE)
                return r;
        a = (tb_unlock_all_options){ .unlock = unlock_params(&o), .test = o.test, .out = stdout };
        return tb_unlock_all(&a) == 0 ? TB_EXIT_OK : TB_EXIT_FAILURE;
}
