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
#include "tpm/tpm2.h"

#define PUBKEY_MAX ((size_t)64 * 1024)

static const char usage[] =
        "Usage: trustboot encrypt DEVICE|IMAGE --label LABEL --pcr-public-key PEM [OPTIONS]\n"
        "\n"
        "Format DEVICE (or an existing image file) as LUKS2 and seal its key in the TPM, unlockable\n"
        "by systemd-cryptsetup (tpm2-device=auto) and 'trustboot unlock' on any boot whose PCR 11\n"
        "the PCR key signed. All data on DEVICE is lost.\n"
        "\n"
        "Options:\n"
        "      --label LABEL            LUKS2 label (required)\n"
        "      --pcr-public-key PEM     RSA public key that signs PCR 11 policies (.pcrpkey)\n"
        "      --tpm2-public-key-pcrs PCRS  PCRs bound through the signed policy (default 11)\n"
        "      --tpm2-pcrs PCRS         PCRs also bound to their current values, e.g. 7 or 0+7\n"
        "      --tpm2-pin               also require a PIN (read from the terminal or stdin)\n"
        "      --tpm2-device DEVICE     auto (default), a device node, or DRIVER:PARAMS\n"
        "      --recovery-key FILE      add a recovery keyslot; write its key to FILE (0600,\n"
        "                               must not exist), or print it once if FILE is '-'\n"
        "      --uuid UUID              LUKS2 UUID (default: random)\n"
        "      --mkfs TYPE              create a file system inside (needs device-mapper)\n"
        "  -h, --help                   show this help\n";

struct options {
        const char *device, *label, *pubkey, *tpm2_device, *recovery, *uuid, *mkfs;
        uint32_t pcr_mask, pubkey_pcr_mask;
        bool pin;
};

static int parse(int argc, char **argv, struct options *o) {
        enum { OPT_LABEL = 0x100, OPT_PUBKEY, OPT_PUBKEY_PCRS, OPT_PCRS, OPT_PIN, OPT_DEVICE, OPT_RECOVERY, OPT_UUID,
               OPT_MKFS };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "label", required_argument, NULL, OPT_LABEL },
                { "pcr-public-key", required_argument, NULL, OPT_PUBKEY },
                { "tpm2-public-key-pcrs", required_argument, NULL, OPT_PUBKEY_PCRS },
                { "tpm2-pcrs", required_argument, NULL, OPT_PCRS },
                { "tpm2-pin", no_argument, NULL, OPT_PIN },
                { "tpm2-device", required_argument, NULL, OPT_DEVICE },
                { "recovery-key", required_argument, NULL, OPT_RECOVERY },
                { "uuid", required_argument, NULL, OPT_UUID },
                { "mkfs", required_argument, NULL, OPT_MKFS },
                {},
        };
        int opt;

        o->pubkey_pcr_mask = UINT32_C(1) << 11;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        cli_print_help(usage);
                        return -1;
                case OPT_LABEL:
                        o->label = optarg;
                        break;
                case OPT_PUBKEY:
                        o->pubkey = optarg;
                        break;
                case OPT_PUBKEY_PCRS:
                case OPT_PCRS:
                        if (tb_tpm2_pcr_mask_parse(optarg, opt == OPT_PCRS ? &o->pcr_mask : &o->pubkey_pcr_mask) < 0)
                                return cli_usage_error(argv[0], "invalid PCR list '%s' (expected e.g. 7 or 0+7)",
                                                       optarg);
                        break;
                case OPT_PIN:
                        o->pin = true;
                        break;
                case OPT_DEVICE:
                        o->tpm2_device = optarg;
                        break;
                case OPT_RECOVERY:
                        o->recovery = optarg;
                        break;
                case OPT_UUID:
                        o->uuid = optarg;
                        break;
                case OPT_MKFS:
                        o->mkfs = optarg;
                        break;
                default:
                        return cli_bad_option(argv[0], argv);
                }
        }
        if (optind + 1 != argc)
                return cli_usage_error(argv[0], "expected one DEVICE or IMAGE");
        o->device = argv[optind];
        if (!o->label)
                return cli_usage_error(argv[0], "--label is required");
        if (!o->pubkey && !o->pcr_mask)
                return cli_usage_error(argv[0], "give --pcr-public-key and/or --tpm2-pcrs: the key would not be "
                                                "bound to any boot state");
        if (o->pubkey && !o->pubkey_pcr_mask)
                return cli_usage_error(argv[0], "--tpm2-public-key-pcrs must name at least one PCR");
        if (o->mkfs && (!*o->mkfs || strchr(o->mkfs, '/')))
                return cli_usage_error(argv[0], "invalid file system type '%s'", o->mkfs);
        return 0;
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

int cmd_encrypt(int argc, char **argv) {
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        _cleanup_(cli_secret_freep) char *pin = NULL;
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed sealed = TB_TPM2_SEALED_INIT;
        _cleanup_(tb_atomic_abortp) tb_atomic_file rec = TB_ATOMIC_FILE_INIT;
        struct options o = { 0 };
        char recovery[TB_LUKS_RECOVERY_KEY_SIZE];
        uint8_t secret[TB_TPM2_SECRET_SIZE];
        tb_tpm2_seal_params sp;
        tb_luks_enroll e;
        int r;

        r = parse(argc, argv, &o);
        if (r != 0)
                return r < 0 ? TB_EXIT_OK : r;

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
        r = tb_tpm2_seal(tpm, &sp, secret, &sealed);
        if (r < 0)
                goto wipe;
        e = (tb_luks_enroll){
                .label = o.label,
                .uuid = o.uuid,
                .sealed = &sealed,
                .secret = secret,
                .recovery_key = o.recovery ? recovery : NULL,
                .mkfs = o.mkfs,
        };
        r = tb_luks_format(o.device, &e);
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
        OPENSSL_cleanse(secret, sizeof(secret));
        OPENSSL_cleanse(recovery, sizeof(recovery));
        return r < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
