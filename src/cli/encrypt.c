/* encrypt.c — trustboot encrypt: a LUKS2 volume whose key is sealed in the TPM. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tpm/encrypt.h"
#include "tpm/tpm2.h"
#include "util/log.h"

static const char synopsis[] =
        "Usage: trustboot encrypt DEVICE|IMAGE --label LABEL --pcr-public-key PEM [OPTIONS]\n"
        "       trustboot encrypt [DEVICE] --add-pcr-key NEW.pem [--pcr-signature JSON]\n"
        "       trustboot encrypt [DEVICE] --remove-pcr-key OLD.pem [--pcr-signature JSON]\n"
        "\n"
        "Format DEVICE (or an existing image file) as LUKS2 and seal its key in the TPM, unlockable\n"
        "by systemd-cryptsetup (tpm2-device=auto) and 'trustboot unlock' on any boot whose PCR 11\n"
        "the PCR key signed. All data on DEVICE is lost.\n"
        "\n"
        "PCR key rotation (no formatting): --add-pcr-key gives DEVICE, or without DEVICE every LUKS2\n"
        "volume with a systemd-tpm2 token, a second TPM2 keyslot bound to the new key (run it while a\n"
        "UKI signed by the current key runs); --remove-pcr-key removes the old key's keyslots once a\n"
        "token of another key unseals now (after the first boot with the new key).\n"
        "\n";

static int parse_pcrs(const char *cmd, const char *arg, void *target) {
        if (tb_tpm2_pcr_mask_parse(arg, target) < 0)
                return cli_usage_error(cmd, "invalid PCR list '%s' (expected e.g. 7 or 0+7)", arg);
        return 0;
}

/* Returns CLI_CONTINUE, or the exit status to return at once. */
static int parse(int argc, char **argv, tb_encrypt_options *o, bool *pin) {
        const cli_option options[] = {
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_STRING("label", 0, "LABEL", &o->label, "LUKS2 label (required)"),
                CLI_OPT_PCR_PUBLIC_KEY(&o->pcr_public_key, "RSA public key that signs PCR 11 policies (.pcrpkey)"),
                CLI_OPT_CALL("tpm2-public-key-pcrs", 0, "PCRS", parse_pcrs, &o->pubkey_pcr_mask,
                             "PCRs bound through the signed policy (default 11)"),
                CLI_OPT_CALL("tpm2-pcrs", 0, "PCRS", parse_pcrs, &o->pcr_mask,
                             "PCRs also bound to their current values, e.g. 7 or 0+7"),
                CLI_OPT_FLAG("tpm2-pin", 0, pin, "also require a PIN (read from the terminal or stdin)"),
                CLI_OPT_TPM2_DEVICE(&o->tpm2_device),
                CLI_OPT_STRING("recovery-key", 0, "FILE", &o->recovery_key,
                               "add a recovery keyslot; write its key to FILE (0600,\n"
                               "must not exist), or print it once if FILE is '-'"),
                CLI_OPT_STRING("uuid", 0, "UUID", &o->uuid, "LUKS2 UUID (default: random)"),
                CLI_OPT_STRING("mkfs", 0, "TYPE", &o->mkfs, "create a file system inside (needs device-mapper)"),
                CLI_OPT_GROUP("PCR key rotation (an existing volume):"),
                CLI_OPT_STRING("add-pcr-key", 0, "PEM", &o->add_pcr_key,
                               "add a second TPM2 keyslot and token bound to this new PCR public\n"
                               "key, unlocking the volume with its current token (no formatting)"),
                CLI_OPT_STRING("remove-pcr-key", 0, "PEM", &o->remove_pcr_key,
                               "remove the TPM2 keyslots and tokens bound to this old PCR public key,\n"
                               "once another token unseals now (boot with the new key first)"),
                CLI_OPT_STRING("pcr-signature", 0, "JSON", &o->signature,
                               "with --add-pcr-key/--remove-pcr-key: the signed policies that unseal\n"
                               "the token kept (default: as unlock searches)"),
                {},
        };
        const cli_command cmd = { "encrypt", synopsis, options, NULL };
        int r;

        o->pubkey_pcr_mask = UINT32_C(1) << 11;
        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind + 1 < argc || (optind == argc && !o->add_pcr_key && !o->remove_pcr_key))
                return cli_usage_error(cmd.name, "expected one DEVICE or IMAGE");
        o->device = optind < argc ? argv[optind] : NULL; /* PCR key rotation: NULL is every TPM2 volume */
        if (o->add_pcr_key && o->remove_pcr_key)
                return cli_usage_error(cmd.name, "--add-pcr-key and --remove-pcr-key are two steps: boot with the "
                                                 "new key between them");
        if (o->add_pcr_key || o->remove_pcr_key) {
                if (o->label || o->pcr_public_key || o->recovery_key || o->uuid || o->mkfs || *pin || o->pcr_mask)
                        return cli_usage_error(cmd.name, "--%s-pcr-key takes only --pcr-signature, "
                                                         "--tpm2-public-key-pcrs and --tpm2-device",
                                               o->add_pcr_key ? "add" : "remove");
                return CLI_CONTINUE;
        }
        if (o->signature)
                return cli_usage_error(cmd.name, "--pcr-signature only applies with --add-pcr-key or --remove-pcr-key");
        if (!o->label)
                return cli_usage_error(cmd.name, "--label is required");
        if (!o->pcr_public_key && !o->pcr_mask)
                return cli_usage_error(cmd.name, "give --pcr-public-key and/or --tpm2-pcrs: the key would not be "
                                                "bound to any boot state");
        if (o->pcr_public_key && !o->pubkey_pcr_mask)
                return cli_usage_error(cmd.name, "--tpm2-public-key-pcrs must name at least one PCR");
        if (o->mkfs && (!*o->mkfs || strchr(o->mkfs, '/')))
                return cli_usage_error(cmd.name, "invalid file system type '%s'", o->mkfs);
        return CLI_CONTINUE;
}

/* The PIN to seal with, asked for once the inputs are checked (tb_encrypt_options.get_pin). */
static int read_new_pin(char **ret, void *userdata) {
        _cleanup_(cli_secret_freep) char *pin = NULL, *again = NULL;
        int r;

        (void)userdata;
        r = cli_read_secret("New TPM2 PIN: ", &pin);
        if (r == -ENODATA) {
                tb_err("empty PIN");
                return r;
        }
        if (r < 0)
                return tb_log_errno(r, "cannot read the PIN");
        if (isatty(STDIN_FILENO)) {
                r = cli_read_secret("Repeat the PIN: ", &again);
                if (r < 0 || strcmp(pin, again) != 0) {
                        tb_err("the PINs do not match");
                        return -EINVAL;
                }
        }
        *ret = TAKE_PTR(pin);
        return 0;
}

int cmd_encrypt(int argc, char **argv) {
        tb_encrypt_options o = { 0 };
        bool pin = false;
        int r;

        r = parse(argc, argv, &o, &pin);
        if (r != CLI_CONTINUE)
                return r;
        if (o.add_pcr_key || o.remove_pcr_key)
                return tb_encrypt_rotate(&o) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
        if (pin)
                o.get_pin = read_new_pin;
        return tb_encrypt(&o, stdout) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
