/* encrypt.c — trustboot encrypt: a LUKS2 volume whose key is sealed in the TPM. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "util/fileio.h"
#include "util/log.h"
#include "tpm/luks.h"
#include "tpm/pcrkey-rotate.h"
#include "tpm/tpm2.h"

#define PUBKEY_MAX ((size_t)64 * 1024)

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

struct options {
        const char *device, *label, *pubkey, *tpm2_device, *recovery, *uuid, *mkfs;
        const char *add_pcr_key, *remove_pcr_key, *signature;
        uint32_t pcr_mask, pubkey_pcr_mask;
        bool pin;
};

static int parse_pcrs(const char *cmd, const char *arg, void *target) {
        if (tb_tpm2_pcr_mask_parse(arg, target) < 0)
                return cli_usage_error(cmd, "invalid PCR list '%s' (expected e.g. 7 or 0+7)", arg);
        return 0;
}

/* Returns CLI_CONTINUE, or the exit status to return at once. */
static int parse(int argc, char **argv, struct options *o) {
        const cli_option options[] = {
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_STRING("label", 0, "LABEL", &o->label, "LUKS2 label (required)"),
                CLI_OPT_PCR_PUBLIC_KEY(&o->pubkey, "RSA public key that signs PCR 11 policies (.pcrpkey)"),
                CLI_OPT_CALL("tpm2-public-key-pcrs", 0, "PCRS", parse_pcrs, &o->pubkey_pcr_mask,
                             "PCRs bound through the signed policy (default 11)"),
                CLI_OPT_CALL("tpm2-pcrs", 0, "PCRS", parse_pcrs, &o->pcr_mask,
                             "PCRs also bound to their current values, e.g. 7 or 0+7"),
                CLI_OPT_FLAG("tpm2-pin", 0, &o->pin, "also require a PIN (read from the terminal or stdin)"),
                CLI_OPT_TPM2_DEVICE(&o->tpm2_device),
                CLI_OPT_STRING("recovery-key", 0, "FILE", &o->recovery,
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
                if (o->label || o->pubkey || o->recovery || o->uuid || o->mkfs || o->pin || o->pcr_mask)
                        return cli_usage_error(cmd.name, "--%s-pcr-key takes only --pcr-signature, "
                                                         "--tpm2-public-key-pcrs and --tpm2-device",
                                               o->add_pcr_key ? "add" : "remove");
                return CLI_CONTINUE;
        }
        if (o->signature)
                return cli_usage_error(cmd.name, "--pcr-signature only applies with --add-pcr-key or --remove-pcr-key");
        if (!o->label)
                return cli_usage_error(cmd.name, "--label is required");
        if (!o->pubkey && !o->pcr_mask)
                return cli_usage_error(cmd.name, "give --pcr-public-key and/or --tpm2-pcrs: the key would not be "
                                                "bound to any boot state");
        if (o->pubkey && !o->pubkey_pcr_mask)
                return cli_usage_error(cmd.name, "--tpm2-public-key-pcrs must name at least one PCR");
        if (o->mkfs && (!*o->mkfs || strchr(o->mkfs, '/')))
                return cli_usage_error(cmd.name, "invalid file system type '%s'", o->mkfs);
        return CLI_CONTINUE;
}

static bool pubkey_ok(const tb_buf *pem) {
        EVP_PKEY *key = NULL;

        if (tb_tpm2_pubkey_from_pem(pem->data, pem->len, &key) < 0)
                return false;
        EVP_PKEY_free(key);
        return true;
}

static int read_new_pin(char **ret) {
        _cleanup_(cli_secret_freep) char *pin = NULL, *again = NULL;
        int r;

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

/* PCR key rotation, either step, on DEVICE or on every TPM2 volume. */
static int rotate_pcr_key(const struct options *o) {
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        const char *path = o->add_pcr_key ? o->add_pcr_key : o->remove_pcr_key;
        tb_pcrkey_rotate p = { .device = o->device, .pem_name = path, .pubkey_pcr_mask = o->pubkey_pcr_mask,
                               .tpm2_device = o->tpm2_device, .signature = o->signature };
        int r;

        r = tb_read_file(path, PUBKEY_MAX, &pem);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot read", path);
                return TB_EXIT_FAILURE;
        }
        p.pem = pem.data;
        p.pem_len = pem.len;
        r = o->add_pcr_key ? tb_pcrkey_add(&p) : tb_pcrkey_remove(&p);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (!o->device)
                tb_info("%d volume(s) changed", r);
        return TB_EXIT_OK;
}

int cmd_encrypt(int argc, char **argv) {
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        _cleanup_(cli_secret_freep) char *pin = NULL;
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file rec = TB_ATOMIC_FILE_INIT;
        struct options o = { 0 };
        char recovery[TB_LUKS_RECOVERY_KEY_SIZE];
        tb_tpm2_seal_params sp;
        tb_luks_enroll e;
        int r;

        r = parse(argc, argv, &o);
        if (r != CLI_CONTINUE)
                return r;
        if (o.add_pcr_key || o.remove_pcr_key)
                return rotate_pcr_key(&o);

        /* Before the TPM is touched: an image must exist (we do not pick its size). */
        if (!tb_path_exists(o.device)) {
                tb_err("%s: does not exist", o.device);
                return TB_EXIT_FAILURE;
        }
        if (o.pubkey) {
                r = tb_read_file(o.pubkey, PUBKEY_MAX, &pem);
                if (r < 0) {
                        tb_log_errno(r, "%s: cannot read", o.pubkey);
                        return TB_EXIT_FAILURE;
                }
                if (!pubkey_ok(&pem)) {
                        tb_err("%s: not an RSA public key in PEM format", o.pubkey);
                        return TB_EXIT_FAILURE;
                }
        }
        if (o.pin && read_new_pin(&pin) < 0)
                return TB_EXIT_FAILURE;
        /* The recovery file must be creatable before the volume is formatted: its key exists once. */
        if (o.recovery && strcmp(o.recovery, "-") != 0) {
                if (tb_path_exists(o.recovery)) {
                        tb_err("%s: exists; the recovery key file is never overwritten", o.recovery);
                        return TB_EXIT_FAILURE;
                }
                r = tb_atomic_open(o.recovery, 0600, &rec);
                if (r < 0) {
                        tb_log_errno(r, "%s: cannot create", o.recovery);
                        return TB_EXIT_FAILURE;
                }
        }
        if (o.recovery && tb_luks_recovery_key_generate(recovery) < 0) {
                tb_err("cannot generate a recovery key");
                return TB_EXIT_FAILURE;
        }

        if (tb_tpm2_open(o.tpm2_device, &tpm) < 0)
                return TB_EXIT_FAILURE;
        sp = (tb_tpm2_seal_params){
                .pcr_mask = o.pcr_mask,
                .pubkey_pcr_mask = o.pubkey ? o.pubkey_pcr_mask : 0,
                .pubkey_pem = o.pubkey ? pem.data : NULL,
                .pubkey_pem_len = pem.len,
                .pin = pin,
        };
        e = (tb_luks_enroll){
                .label = o.label,
                .uuid = o.uuid,
                .recovery_key = o.recovery ? recovery : NULL,
                .mkfs = o.mkfs,
        };
        r = tb_luks_format_sealed(tpm, &sp, o.device, &e);
        if (r < 0)
                goto wipe;
        if (o.recovery && rec.fd >= 0) {
                /* No newline: the file is usable as is with cryptsetup --key-file. */
                r = tb_write_all(rec.fd, recovery, strlen(recovery));
                if (r >= 0)
                        r = tb_atomic_commit_noreplace(&rec);
                if (r < 0)
                        tb_log_errno(r, "%s: cannot write the recovery key (the volume still unlocks with the TPM)",
                                     o.recovery);
        } else if (o.recovery)
                printf("%s\n", recovery);
wipe:
        OPENSSL_cleanse(recovery, sizeof(recovery));
        return r < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
