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

static const char usage[] =
        "Usage: trustboot sign --key KEY --cert CERT [-o OUT] [--replace] FILE\n"
        "\n"
        "Sign the PE/EFI image FILE with Authenticode (SHA-256, PKCS#7), as sbsign does.\n"
        "The output is deterministic: the same image and key give the same bytes.\n"
        "\n"
        "  -k, --key KEY       private key (PEM)\n"
        "  -c, --cert CERT     certificate of KEY (PEM or DER)\n"
        "  -o, --output OUT    write the signed image to OUT (default: replace FILE)\n"
        "      --replace       replace existing signatures (default: refuse a signed image)\n"
        "  -h, --help          show this help\n";

static void signer_donep(tb_signer *s) {
        tb_signer_done(s);
}

int cmd_sign(int argc, char **argv) {
        enum { OPT_REPLACE = 0x100 };
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "cert", required_argument, NULL, 'c' },
                { "output", required_argument, NULL, 'o' },
                { "replace", no_argument, NULL, OPT_REPLACE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(signer_donep) tb_signer signer = {};
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        const char *key = NULL, *cert = NULL, *out = NULL, *in;
        bool replace = false;
        struct stat st;
        int opt, r;

        opterr = 0;
        while ((opt = getopt_long(argc, argv, "k:c:o:h", options, NULL)) >= 0) {
                switch (opt) {
                case 'k':
                        key = optarg;
                        break;
                case 'c':
                        cert = optarg;
                        break;
                case 'o':
                        out = optarg;
                        break;
                case OPT_REPLACE:
                        replace = true;
                        break;
                case 'h':
                        return cli_print_help(usage);
                default:
                        return cli_bad_option("sign", argv);
                }
        }
        if (!key || !cert)
                return cli_usage_error("sign", "--key and --cert are required");
        if (optind + 1 != argc)
                return cli_usage_error("sign", "expected exactly one FILE");
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
