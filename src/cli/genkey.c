/* src/cli/genkey.c — `trustboot genkey NAME`: a Secure Boot key set, like `auroraboot genkey`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "config.h"
#include "pe/pkcs11.h"
#include "sb/keyset.h"
#include "util/log.h"

static const char usage[] =
        "Usage: trustboot genkey NAME [-o|--output DIR] [-e|--expiration-in-days N] [--key-size BITS]\n"
        "                        [--skip-microsoft-certs-I-KNOW-WHAT-IM-DOING] [--custom-cert-dir DIR] [--force]\n"
        "                        [--pkcs11 URI]\n"
        "\n"
        "Generate a Secure Boot key set (PK, KEK, db as .key .pem .der .esl .auth) and the PCR policy\n"
        "signing key tpm2-pcr-private.pem. Keep these keys safe: without them no upgrade can be signed.\n"
        "\n"
        "  -o, --output DIR               output directory (default keys/, created with mode 0700)\n"
        "  -e, --expiration-in-days N     certificate validity in days (default 365)\n"
        "      --key-size BITS            RSA key size of PK, KEK and db: 2048 (default), 3072 or 4096\n"
        "      --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING\n"
        "                                 do not add Microsoft's UEFI CAs to KEK and db (firmware option\n"
        "                                 ROMs and Windows will then fail to boot under these keys)\n"
        "      --custom-cert-dir DIR      add the certificates of the firmware-exported databases DIR/KEK and\n"
        "                                 DIR/db (vendor keys) to KEK and db\n"
        "      --force                    overwrite an existing key set\n"
        "      --pkcs11 URI               generate the four keys inside the PKCS#11 token URI names\n"
        "                                 (pkcs11:token=LABEL?pin-source=FILE); only certificates, public\n"
        "                                 keys and NAME.pkcs11 files holding each key's URI are written\n"
        "  -h, --help                     show this help\n"
        "\n"
        "SOURCE_DATE_EPOCH, if set, is used as the current time. Microsoft's certificates are read from\n"
        "$TRUSTBOOT_MS_CERT_DIR or " TB_MS_CERT_DIR ".\n";

/* X.509 limits a CN to 64 characters; "-KEK" is the longest suffix we add. */
#define NAME_MAX_LEN (64 - 4)

static int parse_epoch(int64_t *ret) {
        const char *s = getenv("SOURCE_DATE_EPOCH");
        uint64_t v;

        if (!s || !*s) {
                *ret = (int64_t)time(NULL);
                return 0;
        }
        if (cli_parse_u64(s, 0, 253402300799ull /* 9999-12-31 */, &v) < 0)
                return -EINVAL;
        *ret = (int64_t)v;
        return 0;
}

int cmd_genkey(int argc, char **argv) {
        enum { OPT_SKIP_MS = 0x100, OPT_CUSTOM, OPT_KEY_SIZE, OPT_FORCE, OPT_PKCS11 };
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "expiration-in-days", required_argument, NULL, 'e' },
                { "skip-microsoft-certs-I-KNOW-WHAT-IM-DOING", no_argument, NULL, OPT_SKIP_MS },
                { "custom-cert-dir", required_argument, NULL, OPT_CUSTOM },
                { "key-size", required_argument, NULL, OPT_KEY_SIZE },
                { "force", no_argument, NULL, OPT_FORCE },
                { "pkcs11", required_argument, NULL, OPT_PKCS11 },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        tb_keyset_options o = {
                .days = 365,
                .key_bits = 2048,
                .ms_cert_dir = getenv("TRUSTBOOT_MS_CERT_DIR") ?: TB_MS_CERT_DIR,
        };
        const char *out_dir = "keys/";
        bool force = false;
        uint64_t v;
        int opt;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "o:e:h", options, NULL)) >= 0) {
                switch (opt) {
                case 'o':
                        if (!*optarg)
                                return cli_usage_error("genkey", "--output needs a directory");
                        out_dir = optarg;
                        break;
                case 'e':
                        if (cli_parse_u64(optarg, 1, 36500, &v) < 0)
                                return cli_usage_error("genkey",
                                                       "--expiration-in-days: '%s' is not a number of days from 1 to 36500",
                                                       optarg);
                        o.days = (uint32_t)v;
                        break;
                case OPT_SKIP_MS:
                        o.skip_microsoft = true;
                        break;
                case OPT_CUSTOM:
                        o.custom_cert_dir = optarg;
                        break;
                case OPT_KEY_SIZE:
                        if (cli_parse_u64(optarg, 2048, 4096, &v) < 0 || (v != 2048 && v != 3072 && v != 4096))
                                return cli_usage_error("genkey", "--key-size: '%s' is not 2048, 3072 or 4096", optarg);
                        o.key_bits = (uint32_t)v;
                        break;
                case OPT_FORCE:
                        force = true;
                        break;
                case OPT_PKCS11:
                        if (!tb_pkcs11_is_uri(optarg))
                                return cli_usage_error("genkey", "--pkcs11 needs a pkcs11: URI naming a token");
                        o.pkcs11_uri = optarg;
                        break;
                case 'h':
                        return cli_print_help(usage);
                default:
                        return cli_bad_option("genkey", argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error("genkey", "missing NAME (used in the certificates' common names)");
        if (optind + 1 < argc)
                return cli_usage_error("genkey", "unexpected argument '%s'", argv[optind + 1]);
        o.name = argv[optind];
        if (!*o.name || strlen(o.name) > NAME_MAX_LEN)
                return cli_usage_error("genkey", "NAME must be 1 to %d characters", NAME_MAX_LEN);
        for (const char *p = o.name; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return cli_usage_error("genkey", "NAME must not contain control characters");
        if (parse_epoch(&o.epoch) < 0) {
                tb_err("SOURCE_DATE_EPOCH: '%s' is not a number of seconds since 1970", getenv("SOURCE_DATE_EPOCH"));
                return TB_EXIT_FAILURE;
        }

        if (tb_keyset_generate(&o, out_dir, force) < 0)
                return TB_EXIT_FAILURE;

        if (cli_verbosity >= 0)
                printf("Wrote Secure Boot key set '%s' to %s: PK, KEK, db (RSA-%u, valid %u days)%s%s, "
                       "and %s.\n",
                       o.name, out_dir, o.key_bits, o.days,
                       o.skip_microsoft ? "" : ", Microsoft UEFI CAs in KEK and db",
                       o.custom_cert_dir ? ", custom certificates added" : "",
                       o.pkcs11_uri ? "the PCR policy key; the private keys stay in the token" : "tpm2-pcr-private.pem");
        return TB_EXIT_OK;
}
