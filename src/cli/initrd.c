/* trustboot initrd — the whole root file system as the UKI's initrd (what build-uki embeds). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry-opts.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "rootfs/initrd.h"
#include "util/log.h"
#include "measure/mhash.h"
#include "rootfs/exclude.h"
#include "rootfs/report.h"
#include "rootfs/rootfs.h"
#include "util/json.h"

static const char synopsis[] =
        "Usage: trustboot initrd SOURCE -o FILE [OPTIONS]\n"
        "       trustboot initrd SOURCE --print-kernel\n"
        "       trustboot initrd --report [--depth N] [--json] [--slim] [--exclude PATTERN]... SOURCE\n"
        "\n"
        "Write the whole root file system SOURCE as a newc cpio initrd, compressed, reproducible.\n"
        "\n"
        "SOURCE is dir:PATH, ocifile:FILE[:TAG] (docker save or OCI archive) or oci-layout:PATH[:TAG].\n"
        "\n";

static const char epilog[] = "Timestamps are SOURCE_DATE_EPOCH (default 0).\n" CLI_REGISTRY_EPILOG;

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

static void mib(char *buf, size_t size, uint64_t bytes) {
        snprintf(buf, size, "%.1f", (double)bytes / (1 << 20));
}

static int print_report_json(const tb_report *rep) {
        _cleanup_(json_object_putp) struct json_object *root = json_object_new_object();
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        struct json_object *dirs = json_object_new_array(), *drop = json_object_new_object();
        int r;

        if (!root || !dirs || !drop) {
                json_object_put(dirs);
                json_object_put(drop);
                return tb_log_oom();
        }
        json_object_object_add(root, "files", json_object_new_int64((int64_t)rep->files));
        json_object_object_add(root, "raw", json_object_new_int64((int64_t)rep->raw));
        json_object_object_add(root, "estimate", json_object_new_int64((int64_t)rep->estimate));
        json_object_object_add(drop, "raw", json_object_new_int64((int64_t)rep->dropped));
        json_object_object_add(drop, "estimate", json_object_new_int64((int64_t)rep->dropped_estimate));
        for (size_t i = 0; i < rep->n_groups; i++)
                json_object_object_add(drop, rep->groups[i].name, json_object_new_int64((int64_t)rep->groups[i].raw));
        json_object_object_add(root, "excluded", drop);
        for (size_t i = 0; i < rep->n; i++) {
                struct json_object *d = json_object_new_object();

                if (!d)
                        return tb_log_oom();
                json_object_object_add(d, "path", json_object_new_string(rep->rows[i].path));
                json_object_object_add(d, "files", json_object_new_int64((int64_t)rep->rows[i].files));
                json_object_object_add(d, "raw", json_object_new_int64((int64_t)rep->rows[i].raw));
                json_object_object_add(d, "estimate", json_object_new_int64((int64_t)rep->rows[i].estimate));
                json_object_object_add(d, "excluded", json_object_new_int64((int64_t)rep->rows[i].dropped));
                json_object_array_add(dirs, d);
        }
        json_object_object_add(root, "directories", dirs);
        r = tb_json_format(root, TB_JSON_PRETTY, &out);
        if (r < 0)
                return r;
        fwrite(out.data, 1, out.len, stdout);
        return 0;
}

/* Largest directories first; what --slim/--exclude would leave out, per group, at the end. */
static int print_report(tb_rootfs *fs, const tb_exclude *exclude, unsigned depth, int level, bool json) {
        _cleanup_(tb_report_donep) tb_report rep = {};
        char a[32], b[32], c[32];
        int r;

        r = tb_report_build(fs, exclude, depth, level >= 0 ? level : 6, &rep);
        if (r < 0)
                return r;
        if (json)
                return print_report_json(&rep);
        printf("%10s %10s %10s %8s  %s\n", "raw MiB", "est. MiB", "excl. MiB", "files", "directory");
        for (size_t i = 0; i < rep.n; i++) {
                const tb_report_row *row = &rep.rows[i];

                mib(a, sizeof(a), row->raw);
                mib(b, sizeof(b), row->estimate);
                mib(c, sizeof(c), row->dropped);
                printf("%10s %10s %10s %8" PRIu64 "  /%s\n", a, b, row->dropped ? c : "-", row->files, row->path);
        }
        mib(a, sizeof(a), rep.raw);
        mib(b, sizeof(b), rep.estimate);
        printf("%10s %10s %10s %8" PRIu64 "  total\n", a, b, "", rep.files);
        if (!exclude) {
                printf("(--slim or --exclude with --report show what they would leave out)\n");
                return 0;
        }
        mib(a, sizeof(a), rep.dropped);
        mib(b, sizeof(b), rep.dropped_estimate);
        printf("left out: %s MiB raw, ~%s MiB compressed", a, b);
        for (size_t i = 0; i < rep.n_groups; i++) {
                mib(a, sizeof(a), rep.groups[i].raw);
                printf("%s %s %s MiB", i ? "," : ":", rep.groups[i].name, a);
        }
        printf("\n");
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
        tb_registry_options reg = { 0 };
        tb_rootfs_options ropts = { .overlays = overlays, .registry = &reg };
        tb_initrd_options iopts;
        tb_initrd_stats stats;
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        const char *output = NULL;
        bool want_kernel = false, want_digest = false, slim = false, report = false, json = false;
        const char *excludes[1024];
        size_t n_excludes = 0;
        _cleanup_(tb_exclude_freep) tb_exclude *exclude = NULL;
        unsigned depth = 0;
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
                CLI_OPT_EXCLUDE(excludes, n_excludes),
                CLI_OPT_SLIM(&slim),
                CLI_OPT_FLAG("report", 0, &report, "print the size per directory (raw and estimated compressed) and\n"
                                                   "what --slim/--exclude would leave out; writes nothing"),
                CLI_OPT_UINT("depth", 0, "N", &depth, 1, 64, "directory depth of the report (default 3)"),
                CLI_OPT_JSON(&json, "the report as JSON"),
                CLI_OPTS_REGISTRY(&reg, &ropts.max_image_size),
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
        if (report && (output || want_kernel || want_digest))
                return cli_usage_error(cmd.name, "--report writes nothing: it excludes -o, --print-kernel and --print-digest");
        if ((json || depth) && !report)
                return cli_usage_error(cmd.name, "--json and --depth go with --report");
        if (!output && !want_kernel && !report)
                return cli_usage_error(cmd.name, "missing -o FILE");
        if (want_digest && !output)
                return cli_usage_error(cmd.name, "--print-digest needs -o FILE");

        if (tb_rootfs_open(argv[optind], &ropts, &fs) < 0)
                return TB_EXIT_FAILURE;
        if (tb_exclude_from_options(fs, excludes, n_excludes, slim, &exclude) < 0)
                return TB_EXIT_FAILURE;
        if (report)
                return print_report(fs, exclude, depth ? depth : 3, iopts.level, json) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
        iopts.exclude = exclude;
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
        tb_info("%s: %" PRIu64 " entries (%" PRIu64 " hardlinks, %" PRIu64 " excluded), %" PRIu64
                " bytes of cpio, %" PRIu64 " bytes written (%s)",
                output, stats.entries, stats.hardlinks, stats.excluded, stats.bytes_in, stats.bytes_out,
                tb_initrd_compression_to_string(iopts.compression));
        return TB_EXIT_OK;
}
