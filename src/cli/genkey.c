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

static const char synopsis[] =
        "Usage: trustboot genkey NAME [-o|--output DIR] [-e|--expiration-in-days N] [--key-size BITS]\n"
        "                        [--skip-microsoft-certs-I-KNOW-WHAT-IM-DOING] [--custom-cert-dir DIR] [--force]\n"
        "                        [--pkcs11 URI] [--rotate OLD_KEYDIR [--rotate-pcr-key]]\n"
        "\n"
        "Generate a Secure Boot key set (PK, KEK, db as .key .pem .der .esl .auth) and the PCR policy\n"
        "signing key tpm2-pcr-private.pem. Keep these keys safe: without them no upgrade can be signed.\n"
        "\n";

static const char epilog[] =
        "SOURCE_DATE_EPOCH, if set, is used as the current time. Microsoft's certificates are read from\n"
        "$TRUSTBOOT_MS_CERT_DIR or " TB_MS_CERT_DIR ".\n";

/* X.509 limits a CN to 64 characters; "-KEK" is the longest suffix we add. */
#define NAME_MAX_LEN (64 - 4)

static int parse_key_size(const char *cmd, const char *arg, void *target) {
        uint64_t v;

        if (cli_parse_u64(arg, 2048, 4096, &v) < 0 || (v != 2048 && v != 3072 && v != 4096))
                return cli_usage_error(cmd, "--key-size: '%s' is not 2048, 3072 or 4096", arg);
        *(uint32_t *)target = (uint32_t)v;
        return 0;
}

static int parse_pkcs11(const char *cmd, const char *arg, void *target) {
        if (!tb_pkcs11_is_uri(arg))
                return cli_usage_error(cmd, "--pkcs11 needs a pkcs11: URI naming a token");
        *(const char **)target = arg;
        return 0;
}

static int parse_output(const char *cmd, const char *arg, void *target) {
        if (!*arg)
                return cli_usage_error(cmd, "--output needs a directory");
        *(const char **)target = arg;
        return 0;
}

int cmd_genkey(int argc, char **argv) {
        tb_keyset_options o = {
                .days = 365,
                .key_bits = 2048,
                .ms_cert_dir = getenv("TRUSTBOOT_MS_CERT_DIR") ?: TB_MS_CERT_DIR,
        };
        const char *out_dir = "keys/";
        bool force = false, rotate_pcr = false;
        const char *rotate_from = NULL;
        const cli_option options[] = {
                CLI_OPT_CALL("output", 'o', "DIR", parse_output, &out_dir,
                             "output directory (default keys/, created with mode 0700)"),
                CLI_OPT_UINT("expiration-in-days", 'e', "N", &o.days, 1, 36500, "certificate validity in days (default 365)"),
                CLI_OPT_CALL("key-size", 0, "BITS", parse_key_size, &o.key_bits,
                             "RSA key size of PK, KEK and db: 2048 (default), 3072 or 4096"),
                CLI_OPT_FLAG("skip-microsoft-certs-I-KNOW-WHAT-IM-DOING", 0, &o.skip_microsoft,
                             "do not add Microsoft's UEFI CAs to KEK and db (firmware option\n"
                             "ROMs and Windows will then fail to boot under these keys)"),
                CLI_OPT_STRING("custom-cert-dir", 0, "DIR", &o.custom_cert_dir,
                               "add the certificates of the firmware-exported databases DIR/KEK and\n"
                               "DIR/db (vendor keys) to KEK and db"),
                CLI_OPT_FLAG("force", 0, &force, "overwrite an existing key set"),
                CLI_OPT_CALL("pkcs11", 0, "URI", parse_pkcs11, &o.pkcs11_uri,
                             "generate the four keys inside the PKCS#11 token URI names\n"
                             "(pkcs11:token=LABEL?pin-source=FILE); only certificates, public keys\n"
                             "and NAME.pkcs11 files holding each key's URI are written"),
                CLI_OPT_STRING("rotate", 0, "OLD_KEYDIR", &rotate_from,
                               "rotation: keep OLD_KEYDIR's PK and KEK, make a new db key and the\n"
                               "KEK-signed db-append.auth that adds it to enrolled nodes"),
                CLI_OPT_FLAG("rotate-pcr-key", 0, &rotate_pcr, "with --rotate: a new PCR policy key too"),
                CLI_OPT_EXPIRY_WARN_DAYS,
                {},
        };
        const cli_command cmd = { "genkey", synopsis, options, epilog };
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind >= argc)
                return cli_usage_error(cmd.name, "missing NAME (used in the certificates' common names)");
        if (optind + 1 < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind + 1]);
        o.name = argv[optind];
        if (!*o.name || strlen(o.name) > NAME_MAX_LEN)
                return cli_usage_error(cmd.name, "NAME must be 1 to %d characters", NAME_MAX_LEN);
        for (const char *p = o.name; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        return cli_usage_error(cmd.name, "NAME must not contain control characters");
        o.epoch = (int64_t)time(NULL);
        r = cli_source_date_epoch(CLI_EPOCH_MAX, &o.epoch);
        if (r != 0)
                return r;

        if (rotate_pcr && !rotate_from)
                return cli_usage_error("genkey", "--rotate-pcr-key needs --rotate OLD_KEYDIR");
        if (rotate_from) {
                if (force)
                        return cli_usage_error("genkey", "--rotate never overwrites: give a new --output directory");
                if (tb_keyset_rotate(&o, rotate_from, out_dir, rotate_pcr) < 0)
                        return TB_EXIT_FAILURE;
                if (cli_verbosity >= 0)
                        printf("Wrote rotated key set '%s' to %s: PK and KEK from %s, a new db key%s; enroll "
                               "db-append.auth on existing nodes before deploying media signed by it.\n",
                               o.name, out_dir, rotate_from, rotate_pcr ? " and a new PCR policy key" : "");
                return TB_EXIT_OK;
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
