/* trustboot initrd — the whole root file system as the UKI's initrd (what build-uki embeds). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "rootfs/initrd.h"
#include "util/log.h"
#include "measure/mhash.h"
#include "rootfs/rootfs.h"

static const char synopsis[] =
        "Usage: trustboot initrd SOURCE -o FILE [OPTIONS]\n"
        "       trustboot initrd SOURCE --print-kernel\n"
        "\n"
        "Write the whole root file system SOURCE as a newc cpio initrd, compressed, reproducible.\n"
        "\n"
        "SOURCE is dir:PATH, ocifile:FILE[:TAG] (docker save or OCI archive) or oci-layout:PATH[:TAG].\n"
        "\n";

static const char epilog[] = "Timestamps are SOURCE_DATE_EPOCH (default 0).\n";

/* The bytes are hashed as they are written, the way build-uki feeds every PCR bank. */
static int hash_sink(const void *data, size_t len, void *userdata) {
        return tb_mhash_update(userdata, data, len);
}

static int print_kernel(tb_rootfs *fs) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(closep) int fd = -1;
        int r;

        r = tb_rootfs_find_kernel(fs, &path, &fd);
        if (r < 0)
                return r;
        printf("/%s\n", path);
        return 0;
}

static int parse_init(const char *cmd, const char *arg, void *target) {
        if (arg[0] == '\0')
                return cli_usage_error(cmd, "--init: empty path");
        *(const char **)target = arg;
        return 0;
}

int cmd_initrd(int argc, char **argv) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        const char *overlays[TB_ROOTFS_MAX_OVERLAYS];
        tb_rootfs_options ropts = { .overlays = overlays };
        tb_initrd_options iopts;
        tb_initrd_stats stats;
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        const char *output = NULL;
        bool want_kernel = false, want_digest = false;
        int r;
        const cli_option options[] = {
                CLI_OPT_STRING("output", 'o', "FILE", &output, "where to write the initrd"),
                CLI_OPT_APPEND("overlay-rootfs", 0, "DIR", overlays, ropts.n_overlays,
                               "merge DIR over the source (its entries win; repeatable)"),
                CLI_OPT_COMPRESSION(&iopts.compression),
                CLI_OPT_COMPRESSION_LEVEL(&iopts.level),
                CLI_OPT_UINT("threads", 0, "N", &iopts.threads, 1, 256,
                             "zstd worker threads (default: all CPUs; output is the same)"),
                CLI_OPT_CALL("init", 0, "PATH", parse_init, &iopts.init, "make /init a symlink to PATH"),
                CLI_OPT_STRING("workdir", 0, "DIR", &ropts.workdir, "unpack images under DIR (default $TMPDIR or /var/tmp)"),
                CLI_OPT_FLAG("print-kernel", 0, &want_kernel, "print the path of the kernel found in SOURCE"),
                CLI_OPT_FLAG("print-digest", 0, &want_digest, "print the SHA-256 of the written initrd"),
                {},
        };
        const cli_command cmd = { "initrd", synopsis, options, epilog };

        int64_t epoch = 0;

        if (tb_initrd_options_init(&iopts) < 0)
                return TB_EXIT_FAILURE;
        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        r = cli_source_date_epoch(UINT32_MAX /* newc holds 32 bits */, &epoch);
        if (r != 0)
                return r;
        iopts.mtime = (uint64_t)epoch;
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, optind >= argc ? "missing SOURCE" : "more than one SOURCE");
        if (!output && !want_kernel)
                return cli_usage_error(cmd.name, "missing -o FILE");
        if (want_digest && !output)
                return cli_usage_error(cmd.name, "--print-digest needs -o FILE");

        if (tb_rootfs_open(argv[optind], &ropts, &fs) < 0)
                return TB_EXIT_FAILURE;
        if (want_kernel && print_kernel(fs) < 0)
                return TB_EXIT_FAILURE;
        if (!output)
                return TB_EXIT_OK;

        r = tb_atomic_open(output, 0644, &af);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot create", output);
                return TB_EXIT_FAILURE;
        }
        if (want_digest) {
                if (tb_mhash_new(TB_BANK_BIT(TB_BANK_SHA256), &h) < 0)
                        return TB_EXIT_FAILURE;
                iopts.sink = hash_sink;
                iopts.sink_userdata = h;
        }
        r = tb_initrd_write(fs, af.fd, &iopts, &stats);
        if (r >= 0) {
                r = tb_atomic_commit(&af);
                if (r < 0)
                        tb_log_errno(r, "%s: cannot write", output);
        }
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (want_digest) {
                _cleanup_(freep) char *hex = NULL;
                tb_digests d;

                if (tb_mhash_final(h, &d, NULL) < 0 ||
                    !(hex = tb_hex_string(d.d[TB_BANK_SHA256], tb_bank_size(TB_BANK_SHA256))))
                        return TB_EXIT_FAILURE;
                printf("%s  %s\n", hex, output);
        }
        tb_info("%s: %" PRIu64 " entries (%" PRIu64 " hardlinks), %" PRIu64 " bytes of cpio, %" PRIu64 " bytes written (%s)",
                output, stats.entries, stats.hardlinks, stats.bytes_in, stats.bytes_out,
                tb_initrd_compression_to_string(iopts.compression));
        return TB_EXIT_OK;
}
