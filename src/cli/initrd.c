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
#include "rootfs/report.h"
#include "rootfs/rootfs.h"
#include "util/json.h"

static const char usage[] =
        "Usage: trustboot initrd SOURCE -o FILE [OPTIONS]\n"
        "       trustboot initrd SOURCE --print-kernel\n"
        "       trustboot initrd --report [--depth N] [--json] [--slim] [--exclude PATTERN]... SOURCE\n"
        "\n"
        "Write the whole root file system SOURCE as a newc cpio initrd, compressed, reproducible.\n"
        "\n"
        "SOURCE is dir:PATH, ocifile:FILE[:TAG] (docker save or OCI archive) or oci-layout:PATH[:TAG].\n"
        "\n"
        "  -o, --output FILE            where to write the initrd\n"
        "      --overlay-rootfs DIR     merge DIR over the source (its entries win; repeatable)\n"
        "      --compression ALG        zstd (default), xz, gzip or none\n"
        "      --compression-level N    compression level (default 6)\n"
        "      --threads N              zstd worker threads (default: all CPUs; output is the same)\n"
        "      --init PATH              make /init a symlink to PATH\n"
        "      --exclude PATTERN        leave PATTERN out (gitignore-style: 'name', '/anchored', 'dir/',\n"
        "                               '*.a', 'usr/**/x', '!taken-back'; repeatable; nothing excluded is read)\n"
        "      --slim                   leave out docs, man/info pages, locales other than the configured\n"
        "                               ones, static libraries and headers, package-manager caches\n"
        "      --report                 print the size per directory (raw and estimated compressed) and\n"
        "                               what --slim/--exclude would leave out; writes nothing\n"
        "      --depth N                directory depth of the report (default 3)\n"
        "      --json                   the report as JSON\n"
        "      --workdir DIR            unpack images under DIR (default $TMPDIR or /var/tmp)\n"
        "      --print-kernel           print the path of the kernel found in SOURCE\n"
        "      --print-digest           print the SHA-256 of the written initrd\n"
        "  -h, --help                   show this help\n"
        "\n"
        "Timestamps are SOURCE_DATE_EPOCH (default 0).\n";

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
                return -ENOMEM;
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
                        return -ENOMEM;
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

int cmd_initrd(int argc, char **argv) {
        enum { OPT_OVERLAY = 0x100, OPT_COMPRESSION, OPT_LEVEL, OPT_THREADS, OPT_INIT, OPT_WORKDIR,
               OPT_PRINT_KERNEL, OPT_PRINT_DIGEST, OPT_EXCLUDE, OPT_SLIM, OPT_REPORT, OPT_DEPTH, OPT_JSON };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "output", required_argument, NULL, 'o' },
                { "overlay-rootfs", required_argument, NULL, OPT_OVERLAY },
                { "compression", required_argument, NULL, OPT_COMPRESSION },
                { "compression-level", required_argument, NULL, OPT_LEVEL },
                { "threads", required_argument, NULL, OPT_THREADS },
                { "init", required_argument, NULL, OPT_INIT },
                { "workdir", required_argument, NULL, OPT_WORKDIR },
                { "print-kernel", no_argument, NULL, OPT_PRINT_KERNEL },
                { "print-digest", no_argument, NULL, OPT_PRINT_DIGEST },
                { "exclude", required_argument, NULL, OPT_EXCLUDE },
                { "slim", no_argument, NULL, OPT_SLIM },
                { "report", no_argument, NULL, OPT_REPORT },
                { "depth", required_argument, NULL, OPT_DEPTH },
                { "json", no_argument, NULL, OPT_JSON },
                {},
        };
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        const char *overlays[TB_ROOTFS_MAX_OVERLAYS];
        tb_rootfs_options ropts = { .overlays = overlays };
        tb_initrd_options iopts;
        tb_initrd_stats stats;
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        const char *output = NULL;
        bool want_kernel = false, want_digest = false, slim = false, report = false, json = false;
        _cleanup_(freep) const char **excludes = NULL;
        _cleanup_(tb_exclude_freep) tb_exclude *exclude = NULL;
        size_t n_excludes = 0;
        unsigned depth = 3;
        uint64_t v;
        int opt, r;

        if (tb_initrd_options_init(&iopts) < 0)
                return TB_EXIT_FAILURE;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "ho:", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        return cli_print_help(usage);
                case 'o':
                        output = optarg;
                        break;
                case OPT_OVERLAY:
                        if (ropts.n_overlays >= TB_ROOTFS_MAX_OVERLAYS)
                                return cli_usage_error(argv[0], "--overlay-rootfs: at most %d", TB_ROOTFS_MAX_OVERLAYS);
                        overlays[ropts.n_overlays++] = optarg;
                        break;
                case OPT_COMPRESSION:
                        if (tb_initrd_compression_from_string(optarg, &iopts.compression) < 0)
                                return cli_usage_error(argv[0], "--compression: '%s' is not zstd, xz, gzip or none", optarg);
                        break;
                case OPT_LEVEL:
                        if (cli_parse_u64(optarg, 0, 22, &v) < 0)
                                return cli_usage_error(argv[0], "--compression-level: '%s' is not a number 0..22", optarg);
                        iopts.level = (int)v;
                        break;
                case OPT_THREADS:
                        if (cli_parse_u64(optarg, 1, 256, &v) < 0)
                                return cli_usage_error(argv[0], "--threads: '%s' is not a number 1..256", optarg);
                        iopts.threads = (unsigned)v;
                        break;
                case OPT_INIT:
                        if (optarg[0] == '\0')
                                return cli_usage_error(argv[0], "--init: empty path");
                        iopts.init = optarg;
                        break;
                case OPT_WORKDIR:
                        ropts.workdir = optarg;
                        break;
                case OPT_PRINT_KERNEL:
                        want_kernel = true;
                        break;
                case OPT_PRINT_DIGEST:
                        want_digest = true;
                        break;
                case OPT_EXCLUDE: {
                        const char **n = realloc(excludes, (n_excludes + 1) * sizeof(*n));

                        r = cli_check_exclude(argv[0], optarg);
                        if (r != 0)
                                return r;
                        if (!n)
                                return TB_EXIT_FAILURE;
                        excludes = n;
                        excludes[n_excludes++] = optarg;
                        break;
                }
                case OPT_SLIM:
                        slim = true;
                        break;
                case OPT_REPORT:
                        report = true;
                        break;
                case OPT_DEPTH:
                        if (cli_parse_u64(optarg, 1, 64, &v) < 0)
                                return cli_usage_error(argv[0], "--depth: '%s' is not a number 1..64", optarg);
                        depth = (unsigned)v;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                default:
                        return cli_bad_option(argv[0], argv);
                }
        }
        if (optind + 1 != argc)
                return cli_usage_error(argv[0], optind >= argc ? "missing SOURCE" : "more than one SOURCE");
        if (report && (output || want_kernel || want_digest))
                return cli_usage_error(argv[0], "--report writes nothing: it excludes -o, --print-kernel and --print-digest");
        if ((json || depth != 3) && !report)
                return cli_usage_error(argv[0], "--json and --depth go with --report");
        if (!output && !want_kernel && !report)
                return cli_usage_error(argv[0], "missing -o FILE");
        if (want_digest && !output)
                return cli_usage_error(argv[0], "--print-digest needs -o FILE");

        if (tb_rootfs_open(argv[optind], &ropts, &fs) < 0)
                return TB_EXIT_FAILURE;
        if (tb_exclude_from_options(fs, excludes, n_excludes, slim, &exclude) < 0)
                return TB_EXIT_FAILURE;
        if (report)
                return print_report(fs, exclude, depth, iopts.level, json) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
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
