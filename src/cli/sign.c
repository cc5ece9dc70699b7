/* src/cli/sign.c — trustboot sign: Authenticode-sign a PE image (as sbsign does). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "pe/authenticode.h"
#include "cli.h"
#include "util/fileio.h"
#include "util/log.h"
#include "pe/pe.h"
#include "pe/signer.h"

static const char synopsis[] =
        "Usage: trustboot sign --key KEY --cert CERT [-o OUT] [--replace] FILE\n"
        "\n"
        "Sign the PE/EFI image FILE with Authenticode (SHA-256, PKCS#7), as sbsign does.\n"
        "The output is deterministic: the same image and key give the same bytes.\n"
        "\n";

static void signer_donep(tb_signer *s) {
        tb_signer_done(s);
}

int cmd_sign(int argc, char **argv) {
        _cleanup_(signer_donep) tb_signer signer = {};
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        const char *key = NULL, *cert = NULL, *out = NULL, *in;
        bool replace = false;
        struct stat st;
        int r;

        const cli_option options[] = {
                CLI_OPT_STRING("key", 'k', "KEY", &key, "private key: PEM file or pkcs11: URI"),
                CLI_OPT_STRING("cert", 'c', "CERT", &cert, "certificate of KEY (PEM or DER)"),
                CLI_OPT_STRING("output", 'o', "OUT", &out, "write the signed image to OUT (default: replace FILE)"),
                CLI_OPT_FLAG("replace", 0, &replace, "replace existing signatures (default: refuse a signed image)"),
                CLI_OPT_EXPIRY_WARN_DAYS,
                {},
        };
        const cli_command cmd = { "sign", synopsis, options, NULL };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (!key || !cert)
                return cli_usage_error(cmd.name, "--key and --cert are required");
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, "expected exactly one FILE");
        in = argv[optind];
        if (!out)
                out = in;

        r = tb_signer_load(key, cert, &signer);
        if (r < 0)
                return TB_EXIT_FAILURE;
        r = tb_pe_open(in, &pe);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (tb_pe_get_info(pe)->cert_size != 0 && !replace) {
                tb_err("%s: image is already signed (use --replace to replace its signatures)", in);
                return TB_EXIT_FAILURE;
        }
        if (stat(in, &st) < 0) {
                tb_log_errno(negative_errno(), "%s: cannot stat", in);
                return TB_EXIT_FAILURE;
        }
        r = tb_atomic_open(out, st.st_mode & 0777, &af);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot create", out);
                return TB_EXIT_FAILURE;
        }
        r = tb_authenticode_sign(pe, &signer, af.fd, out);
        if (r < 0)
                return TB_EXIT_FAILURE;
        r = tb_atomic_commit(&af);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot write", out);
                return TB_EXIT_FAILURE;
        }
        tb_debug("%s: signed", out);
        return TB_EXIT_OK;
}
