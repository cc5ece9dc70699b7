/* src/cli/dbx.c — trustboot dbx add: a KEK-signed append update that revokes images or keys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pe/authenticode.h"
#include "pe/pe.h"
#include "pe/signer.h"
#include "sb/keyset.h"
#include "sb/sbupdate.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"

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

static int add_image(const char *path, const tb_guid *owner, tb_buf *esl) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        uint8_t h[EVP_MAX_MD_SIZE];
        unsigned n;
        int r;

        r = tb_pe_open(path, &pe);
        if (r < 0)
                return r; /* logged */
        r = tb_authenticode_digest(pe, EVP_sha256(), h, &n);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot hash the image", path);
        return tb_esl_append(esl, &TB_GUID_CERT_SHA256, owner, h, n);
}

static int add_cert(const char *path, const tb_guid *owner, tb_buf *esl) {
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(tb_buf_freep) tb_buf der = TB_BUF_INIT;
        int r;

        r = tb_cert_load(path, &cert);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot load certificate", path);
        r = tb_cert_to_der(cert, &der);
        return r < 0 ? r : tb_esl_append_x509(esl, owner, der.data, der.len);
}

static int add_hash(const char *hex, const tb_guid *owner, tb_buf *esl) {
        uint8_t h[32];

        if (strlen(hex) != 64 || tb_hex_decode(hex, h, sizeof(h)) < 0) {
                tb_err("--hash: '%s' is not a SHA-256 hash (64 hex digits)", hex);
                return -EINVAL;
        }
        return tb_esl_append(esl, &TB_GUID_CERT_SHA256, owner, h, sizeof(h));
}

static int parse_owner(const char *cmd, const char *arg, void *target) {
        if (tb_guid_from_string(arg, target) < 0)
                return cli_usage_error(cmd, "--owner: '%s' is not a GUID", arg);
        return 0;
}

static int dbx_add(int argc, char **argv) {
        const char *images[MAX_ITEMS], *certs[MAX_ITEMS], *hashes[MAX_ITEMS];
        size_t n_images = 0, n_certs = 0, n_hashes = 0;
        const char *keys = NULL, *kek_key = NULL, *kek_cert = NULL, *out = NULL;
        _cleanup_(freep) char *key_ref = NULL, *cert_path = NULL;
        _cleanup_(tb_buf_freep) tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        tb_signer signer = {};
        tb_guid owner = TB_GUID_OWNER_CUSTOM;
        int64_t epoch;
        int r;

        const cli_option options[] = {
                CLI_OPT_APPEND("image", 0, "UKI", images, n_images, "revoke this image by its Authenticode SHA-256 hash"),
                CLI_OPT_APPEND("cert", 0, "CERT", certs, n_certs, "revoke this certificate (PEM or DER)"),
                CLI_OPT_APPEND("hash", 0, "SHA256", hashes, n_hashes, "revoke this image hash (hex)"),
                CLI_OPT_STRING("output", 'o', "FILE", &out, "where to write the update (.auth)"),
                CLI_OPT_STRING("keys", 'k', "KEYDIR", &keys, "a genkey output: its KEK signs"),
                CLI_OPT_STRING("kek-key", 0, "KEY", &kek_key, "the KEK's private key (PEM or pkcs11: URI)"),
                CLI_OPT_STRING("kek-cert", 0, "CERT", &kek_cert, "the KEK's certificate"),
                CLI_OPT_CALL("owner", 0, "GUID", parse_owner, &owner, "SignatureOwner of the new entries"),
                CLI_OPT_EXPIRY_WARN_DAYS,
                {},
        };
        const cli_command cmd = { "dbx add", synopsis, options, epilog };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind != argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind]);
        if (n_images + n_certs + n_hashes == 0)
                return cli_usage_error(cmd.name, "nothing to revoke: give --image, --cert or --hash");
        if (!out)
                return cli_usage_error(cmd.name, "--output is required");
        if (!!keys == !!(kek_key || kek_cert) || (!keys && !(kek_key && kek_cert)))
                return cli_usage_error(cmd.name, "give -k KEYDIR, or --kek-key and --kek-cert");
        if (keys) {
                if (tb_keyset_private_ref(keys, "KEK", &key_ref) < 0)
                        return TB_EXIT_FAILURE;
                cert_path = tb_path_join(keys, TB_KEYSET_KEK_CERT);
                if (!cert_path)
                        return TB_EXIT_FAILURE;
                kek_key = key_ref;
                kek_cert = cert_path;
        }
        epoch = (int64_t)time(NULL);
        if (cli_source_date_epoch(CLI_EPOCH_MAX, &epoch) != 0)
                return TB_EXIT_FAILURE;

        for (size_t i = 0; i < n_images; i++)
                if (add_image(images[i], &owner, &esl) < 0)
                        return TB_EXIT_FAILURE;
        for (size_t i = 0; i < n_certs; i++)
                if (add_cert(certs[i], &owner, &esl) < 0)
                        return TB_EXIT_FAILURE;
        for (size_t i = 0; i < n_hashes; i++)
                if (add_hash(hashes[i], &owner, &esl) < 0)
                        return TB_EXIT_FAILURE;

        r = tb_signer_load(kek_key, kek_cert, &signer);
        if (r < 0)
                return TB_EXIT_FAILURE;
        r = tb_sbupdate_append(TB_SBVAR_DBX, &esl, epoch, signer.key, signer.cert, &auth);
        tb_signer_done(&signer);
        if (r < 0) {
                tb_log_errno(r, "cannot sign the dbx update");
                return TB_EXIT_FAILURE;
        }
        r = tb_write_file_atomic(out, auth.data, auth.len, 0644, true);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot write", out);
                return TB_EXIT_FAILURE;
        }
        if (cli_verbosity >= 0)
                printf("Wrote %s: a KEK-signed dbx append of %zu image%s, %zu certificate%s, %zu hash%s.\n", out,
                       n_images, n_images == 1 ? "" : "s", n_certs, n_certs == 1 ? "" : "s", n_hashes,
                       n_hashes == 1 ? "" : "es");
        return TB_EXIT_OK;
}

int cmd_dbx(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "add") == 0)
                return dbx_add(argc - 1, argv + 1);
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
                return cli_print_help(synopsis);
        return cli_usage_error("dbx", "expected the verb 'add'");
}
