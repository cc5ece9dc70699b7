/* src/cli/build-uki.c — `trustboot build-uki`: signed UKIs, systemd-boot and the medium, with the
 * options of enki/AuroraBoot build-uki. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "registry-opts.h"
#include "rootfs/imageref.h"
#include "util/json.h"
#include "util/log.h"
#include "medium/medium.h"
#include "measure/mhash.h"
#include "measure/pcr.h"

static const char synopsis[] =
        "Usage: trustboot build-uki SOURCE -t iso|uki|container -d OUTDIR\n"
        "                           (-k KEYDIR | --sb-key KEY --sb-cert CERT --tpm-pcr-private-key KEY [--public-keys DIR])\n"
        "                           [options]\n"
        "\n"
        "Build signed Unified Kernel Images from a root file system (dir:PATH, ocifile:FILE,\n"
        "oci-layout:PATH[:TAG], or a registry image REGISTRY/REPO:TAG) — the whole rootfs becomes\n"
        "the initrd — plus a signed systemd-boot,\n"
        "its configuration and auto-enrollment keys, as an ESP tree (uki), an installable ISO (iso)\n"
        "or an upgrade image (container).\n"
        "\n";

static const char epilog[] = "SOURCE_DATE_EPOCH makes the output reproducible (default: now).\n" CLI_REGISTRY_EPILOG;

static int parse_banks(const char *cmd, const char *list, void *target) {
        _cleanup_(freep) char *copy = strdup(list);
        char *save = NULL;
        unsigned banks = 0;

        if (!copy)
                return tb_log_oom(), TB_EXIT_FAILURE;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int b = tb_bank_from_string(w);

                if (b < 0)
                        return cli_usage_error(cmd, "--pcr-banks: unknown bank '%s'", w);
                banks |= TB_BANK_BIT(b);
        }
        if (!banks)
                return cli_usage_error(cmd, "--pcr-banks: no bank given");
        *(unsigned *)target = banks;
        return 0;
}

static int parse_type(const char *cmd, const char *arg, void *target) {
        if (tb_medium_type_from_string(arg, target) < 0)
                return cli_usage_error(cmd, "--output-type: '%s' is not iso, uki or container", arg);
        return 0;
}

static int parse_name(const char *cmd, const char *arg, void *target) {
        if (!*arg || strchr(arg, '/'))
                return cli_usage_error(cmd, "--name: '%s' is not a file name", arg);
        *(const char **)target = arg;
        return 0;
}

static int parse_enroll(const char *cmd, const char *arg, void *target) {
        tb_medium_options *o = target;

        if (tb_enroll_from_string(arg, &o->enroll) < 0)
                return cli_usage_error(cmd, "--secure-boot-enroll: '%s' is not off, manual, if-safe or force", arg);
        o->enroll_given = true;
        return 0;
}

static int parse_stub_generation(const char *cmd, const char *arg, void *target) {
        uint64_t v;

        if (cli_parse_u64(arg, 252, TB_STUB_NEWEST, &v) < 0 || tb_stub_gen_from_version(v) < 0)
                return cli_usage_error(cmd, "--stub-generation: '%s' is not a systemd version 252 … %d", arg,
                                       TB_STUB_NEWEST);
        *(int *)target = tb_stub_gen_from_version(v);
        return 0;
}

static int parse_size_warn(const char *cmd, const char *arg, void *target) {
        uint64_t v;

        if (cli_parse_u64(arg, 1, 1u << 20, &v) < 0)
                return cli_usage_error(cmd, "--efi-size-warn: '%s' is not a size in MiB", arg);
        *(uint64_t *)target = v << 20;
        return 0;
}

int cmd_build_uki(int argc, char **argv) {
        _cleanup_(tb_medium_outcome_done) tb_medium_outcome res = {};
        _cleanup_(tb_imageref_freep) tb_imageref *push_ref = NULL;
        _cleanup_(tb_imageref_freep) tb_imageref *mount_ref = NULL;
        const char *push = NULL, *mount_from = NULL;
        bool json = false;
        const char *keys = NULL;
        tb_medium_options o;
        tb_medium_run run;
        const cli_option options[] = {
                CLI_OPT_CALL("output-type", 't', "TYPE", parse_type, &o.type, "uki (default), iso or container"),
                CLI_OPT_STRING("output-dir", 'd', "DIR", &o.output_dir, "where to write (default .)"),
                CLI_OPT_CALL("name", 'n', "NAME", parse_name, &o.name,
                             "output base name (default <ID>-<VERSION_ID>-uki from os-release)"),
                CLI_OPT_STRING("keys", 'k', "DIR", &keys, "a genkey output: db.key/db.pem, tpm2-pcr-private.pem, *.auth"),
                CLI_OPT_STRING("sb-key", 0, "KEY", &o.sb_key, "the db key that signs every EFI binary"),
                CLI_OPT_STRING("sb-cert", 0, "CERT", &o.sb_cert, "the db key's certificate"),
                CLI_OPT_STRING("tpm-pcr-private-key", 0, "KEY", &o.pcr_key, "the key that signs the PCR 11 policies"),
                CLI_OPT_STRING("public-keys", 0, "DIR", &o.public_keys, "PK.auth KEK.auth db.auth for loader/keys/auto/"),
                CLI_OPT_APPEND("overlay-rootfs", 'o', "DIR", o.overlays, o.n_overlays,
                               "files merged over the root file system (repeatable, later wins)"),
                CLI_OPT_STRING("overlay-iso", 'i', "DIR", &o.overlay_iso, "files placed at the ISO root (-t iso)"),
                CLI_OPT_STRING("boot-branding", 0, "TITLE", &o.branding, "boot menu title (default trustboot)"),
                CLI_OPT_STRING("cmdline", 0, "ARGS", &o.cmdline,
                               "base kernel command line (default \"console=tty1 console=ttyS0 panic=5\")"),
                CLI_OPT_STRING("extend-cmdline", 'x', "ARGS", &o.extend_cmdline, "append ARGS to the default entry"),
                CLI_OPT_APPEND("extra-cmdline", 'c', "ARGS", o.extra_cmdlines, o.n_extra,
                               "one more entry with ARGS appended (repeatable)"),
                CLI_OPT_APPEND("single-efi-cmdline", 's', "\"TITLE: ARGS\"", o.single_cmdlines, o.n_single,
                               "one more entry titled TITLE (repeatable)"),
                CLI_OPT_FLAG("cmd-lines-v2", 0, &o.cmd_lines_v2,
                             "one multi-profile UKI: the default entry is profile 0, every\n"
                             "-c/-s entry another profile (needs a systemd-stub 257+)"),
                CLI_OPT_CALL("secure-boot-enroll", 0, "MODE", parse_enroll, &o,
                             "off, manual, if-safe (default; manual before systemd-boot 253), force"),
                CLI_OPT_STRING("splash", 0, "BMP", &o.splash, "boot splash image"),
                CLI_OPT_FLAG("include-version-in-config", 0, &o.include_version, "add 'version VERSION_ID' to the entries"),
                CLI_OPT_FLAG("include-cmdline-in-config", 0, &o.include_cmdline,
                             "add the entry's extra arguments as 'cmdline' to the entries"),
                CLI_OPT_STRING("stub", 0, "EFI", &o.stub, "systemd-stub to use (default: the installed one)"),
                CLI_OPT_STRING("sdboot", 0, "EFI", &o.sdboot, "systemd-boot to use (default: the installed one)"),
                CLI_OPT_FLAG("sdboot-in-source", 0, &o.sdboot_in_source, "take both from the root file system"),
                CLI_OPT_APPEND("sbat", 0, "TEXT|@FILE", o.sbat, o.n_sbat,
                               "SBAT entries for the UKIs' .sbat, after the stub's and the\n"
                               "kernel's (repeatable; default: ukify's 'uki,1,UKI,…' entry)"),
                CLI_OPT_CALL("stub-generation", 0, "V", parse_stub_generation, &o.stub_gen,
                             "predict PCR 11 for a stub newer than trustboot knows as for\n"
                             "systemd V's (252 … 258); refused otherwise"),
                CLI_OPT_CALL("pcr-banks", 0, "LIST", parse_banks, &o.banks,
                             "banks to sign PCR policies for, comma-separated (default sha256)"),
                CLI_OPT_COMPRESSION(&o.compression),
                CLI_OPT_COMPRESSION_LEVEL(&o.compression_level),
                CLI_OPT_STRING("init", 0, "PATH", &o.init,
                               "make /init in the initrd a symlink to PATH (default\n"
                               "/usr/bin/trustboot when the image carries it)"),
                CLI_OPT_STRING("push", 0, "REF", &push,
                               "-t container: push the image to REF (REGISTRY/REPO:TAG) and print\n"
                               "REGISTRY/REPO@sha256:... (auth, TLS as for pulls)"),
                CLI_OPT_STRING("push-mount-from", 0, "REF", &mount_from,
                               "with --push: mount blobs the registry has in REF's repository\n"
                               "(REGISTRY/REPO, the same registry) instead of uploading them"),
                CLI_OPT_JSON(&json, "print a JSON summary (output, pulled image, pushed digest)"),
                CLI_OPTS_REGISTRY(&o.registry, &o.max_image_size),
                CLI_OPT_EXPIRY_WARN_DAYS,
                CLI_OPT_EXCLUDE(o.excludes, o.n_excludes),
                CLI_OPT_SLIM(&o.slim),
                CLI_OPT_CALL("efi-size-warn", 0, "MIB", parse_size_warn, &o.efi_size_warn,
                             "warn about UKIs larger than MIB (default 1024; above 2048 always)"),
                {},
        };
        const cli_command cmd = { "build-uki", synopsis, options, epilog };
        int r;

        tb_medium_options_init(&o);
        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind >= argc)
                return cli_usage_error(cmd.name, "missing SOURCE (dir:PATH, ocifile:FILE, oci-layout:PATH or REGISTRY/REPO:TAG)");
        if (optind + 1 < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind + 1]);
        o.source = argv[optind];
        if (o.extend_cmdline && o.n_extra > 0)
                return cli_usage_error(cmd.name, "--extend-cmdline and --extra-cmdline exclude each other");
        if (o.overlay_iso && o.type != TB_MEDIUM_ISO)
                return cli_usage_error(cmd.name, "--overlay-iso only applies to -t iso");
        if ((o.stub || o.sdboot) && o.sdboot_in_source)
                return cli_usage_error(cmd.name, "--sdboot-in-source excludes --stub and --sdboot");
        if (keys && (o.sb_key || o.sb_cert || o.pcr_key))
                return cli_usage_error(cmd.name, "-k excludes --sb-key, --sb-cert and --tpm-pcr-private-key");
        if (push) {
                if (o.type != TB_MEDIUM_CONTAINER)
                        return cli_usage_error(cmd.name, "--push only applies to -t container");
                if (tb_imageref_from_source(push, &push_ref) <= 0)
                        return cli_usage_error(cmd.name, "--push: '%s' is not an image reference (REGISTRY/REPO:TAG)", push);
        }
        if (mount_from) {
                if (!push_ref)
                        return cli_usage_error(cmd.name, "--push-mount-from needs --push");
                if (tb_imageref_parse(mount_from, &mount_ref) < 0 || strcmp(mount_ref->domain, push_ref->domain) != 0)
                        return cli_usage_error(cmd.name, "--push-mount-from: '%s' is not a repository on %s", mount_from,
                                               push_ref->domain);
        }
        if (!keys && (!o.sb_key || !o.sb_cert || !o.pcr_key))
                return cli_usage_error(cmd.name, "keys missing: give -k KEYDIR, or --sb-key, --sb-cert and --tpm-pcr-private-key");
        o.epoch = (int64_t)time(NULL);
        r = cli_source_date_epoch(CLI_EPOCH_MAX, &o.epoch);
        if (r != 0)
                return r;

        run = (tb_medium_run){ .keys_dir = keys, .push = push_ref, .push_mount_from = mount_ref ? mount_ref->path : NULL };
        if (tb_medium_build_and_push(&o, &run, &res) < 0)
                return TB_EXIT_FAILURE;
        if (json) {
                _cleanup_(json_object_putp) json_object *j = tb_medium_outcome_json(&res);

                if (!j)
                        return tb_log_oom(), TB_EXIT_FAILURE;
                printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                return TB_EXIT_OK;
        }
        printf("%s\n", res.output); /* data, not chatter: printed even with -q */
        if (res.pushed)
                printf("%s\n", res.pushed);
        return TB_EXIT_OK;
}
