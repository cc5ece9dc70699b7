/* trustboot initrd — the whole root file system as the UKI's initrd (what build-uki embeds). */
#include <stdint.h>
#include <stdio.h>

#include "cli.h"
#include "registry-opts.h"
#include "rootfs/initrd-job.h"

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

static int parse_init(const char *cmd, const char *arg, void *target) {
        if (arg[0] == '\0')
                return cli_usage_error(cmd, "--init: empty path");
        *(const char **)target = arg;
        return 0;
}

int cmd_initrd(int argc, char **argv) {
        const char *overlays[TB_ROOTFS_MAX_OVERLAYS];
        const char *excludes[1024];
        tb_registry_options reg = { 0 };
        tb_rootfs_options ropts = { .overlays = overlays, .registry = &reg };
        tb_initrd_job job = { .rootfs = &ropts, .excludes = excludes };
        int64_t epoch = 0;
        int r;

        const cli_option options[] = {
                CLI_OPT_STRING("output", 'o', "FILE", &job.output, "where to write the initrd"),
                CLI_OPT_APPEND("overlay-rootfs", 0, "DIR", overlays, ropts.n_overlays,
                               "merge DIR over the source (its entries win; repeatable)"),
                CLI_OPT_COMPRESSION(&job.initrd.compression),
                CLI_OPT_COMPRESSION_LEVEL(&job.initrd.level),
                CLI_OPT_UINT("threads", 0, "N", &job.initrd.threads, 1, 256,
                             "zstd worker threads (default: all CPUs; output is the same)"),
                CLI_OPT_CALL("init", 0, "PATH", parse_init, &job.initrd.init, "make /init a symlink to PATH"),
                CLI_OPT_STRING("workdir", 0, "DIR", &ropts.workdir, "unpack images under DIR (default $TMPDIR or /var/tmp)"),
                CLI_OPT_FLAG("print-kernel", 0, &job.print_kernel, "print the path of the kernel found in SOURCE"),
                CLI_OPT_FLAG("print-digest", 0, &job.print_digest, "print the SHA-256 of the written initrd"),
                CLI_OPT_EXCLUDE(excludes, job.n_excludes),
                CLI_OPT_SLIM(&job.slim),
                CLI_OPT_FLAG("report", 0, &job.report, "print the size per directory (raw and estimated compressed) and\n"
                                                       "what --slim/--exclude would leave out; writes nothing"),
                CLI_OPT_UINT("depth", 0, "N", &job.depth, 1, 64, "directory depth of the report (default 3)"),
                CLI_OPT_JSON(&job.json, "the report as JSON"),
                CLI_OPTS_REGISTRY(&reg, &ropts.max_image_size),
                {},
        };
        const cli_command cmd = { "initrd", synopsis, options, epilog };

        if (tb_initrd_options_init(&job.initrd) < 0)
                return TB_EXIT_FAILURE;
        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        r = cli_source_date_epoch(UINT32_MAX /* newc holds 32 bits */, &epoch);
        if (r != 0)
                return r;
        job.initrd.mtime = (uint64_t)epoch;
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, optind >= argc ? "missing SOURCE" : "more than one SOURCE");
        if (job.report && (job.output || job.print_kernel || job.print_digest))
                return cli_usage_error(cmd.name, "--report writes nothing: it excludes -o, --print-kernel and --print-digest");
        if ((job.json || job.depth) && !job.report)
                return cli_usage_error(cmd.name, "--json and --depth go with --report");
        if (!job.output && !job.print_kernel && !job.report)
                return cli_usage_error(cmd.name, "missing -o FILE");
        if (job.print_digest && !job.output)
                return cli_usage_error(cmd.name, "--print-digest needs -o FILE");
        if (!job.depth)
                job.depth = 3;
        job.source = argv[optind];
        return tb_initrd_job_run(&job, stdout) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
