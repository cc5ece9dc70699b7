/* src/cli/dbx.c — trustboot dbx add: a KEK-signed append update that revokes images or keys. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sb/dbx.h"

static const char synopsis[] =
        "Usage: trustboot dbx add (--image UKI | --cert CERT | --hash SHA256)... -o FILE.auth\n"
        "                         (-k KEYDIR | --kek-key KEY --kek-cert CERT) [--owner GUID]\n"
        "\n"
        "Make a time-based authenticated update that appends to the firmware's dbx (forbidden\n"
        "signatures database): the Authenticode SHA-256 hash of each image, each certificate (every\n"
        "image whose signature carries it is refused), each given image hash. The update is signed\n"
        "by the KEK (a PEM key or a pkcs11: URI) with EFI_VARIABLE_APPEND_WRITE, so it adds to what\n"
        "the firmware holds. Apply it on a node with `trustboot enroll FILE.auth`.\n"
        "\n";

static const char epilog[] = "SOURCE_DATE_EPOCH, if set, is the update's timestamp (default: now).\n";

#define MAX_ITEMS 64

static int parse_owner(const char *cmd, const char *arg, void *target) {
        if (tb_guid_from_string(arg, target) < 0)
                return cli_usage_error(cmd, "--owner: '%s' is not a GUID", arg);
        return 0;
}

static int dbx_add(int argc, char **argv) {
        const char *images[MAX_ITEMS], *certs[MAX_ITEMS], *hashes[MAX_ITEMS];
        tb_dbx_add_options o = { .images = images, .certs = certs, .hashes = hashes, .owner = TB_GUID_OWNER_CUSTOM };
        int r;

        const cli_option options[] = {
                CLI_OPT_APPEND("image", 0, "UKI", images, o.n_images, "revoke this image by its Authenticode SHA-256 hash"),
                CLI_OPT_APPEND("cert", 0, "CERT", certs, o.n_certs, "revoke this certificate (PEM or DER)"),
                CLI_OPT_APPEND("hash", 0, "SHA256", hashes, o.n_hashes, "revoke this image hash (hex)"),
                CLI_OPT_STRING("output", 'o', "FILE", &o.output, "where to write the update (.auth)"),
                CLI_OPT_STRING("keys", 'k', "KEYDIR", &o.keys, "a genkey output: its KEK signs"),
                CLI_OPT_STRING("kek-key", 0, "KEY", &o.kek_key, "the KEK's private key (PEM or pkcs11: URI)"),
                CLI_OPT_STRING("kek-cert", 0, "CERT", &o.kek_cert, "the KEK's certificate"),
                CLI_OPT_CALL("owner", 0, "GUID", parse_owner, &o.owner, "SignatureOwner of the new entries"),
                CLI_OPT_EXPIRY_WARN_DAYS,
                {},
        };
        const cli_command cmd = { "dbx add", synopsis, options, epilog };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind != argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind]);
        if (o.n_images + o.n_certs + o.n_hashes == 0)
                return cli_usage_error(cmd.name, "nothing to revoke: give --image, --cert or --hash");
        if (!o.output)
                return cli_usage_error(cmd.name, "--output is required");
        if (!!o.keys == !!(o.kek_key || o.kek_cert) || (!o.keys && !(o.kek_key && o.kek_cert)))
                return cli_usage_error(cmd.name, "give -k KEYDIR, or --kek-key and --kek-cert");
        o.epoch = (int64_t)time(NULL);
        if (cli_source_date_epoch(CLI_EPOCH_MAX, &o.epoch) != 0)
                return TB_EXIT_FAILURE;
        return tb_dbx_add(&o, cli_verbosity >= 0 ? stdout : NULL) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}

int cmd_dbx(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "add") == 0)
                return dbx_add(argc - 1, argv + 1);
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
                return cli_print_help(synopsis);
        return cli_usage_error("dbx", "expected the verb 'add'");
}
