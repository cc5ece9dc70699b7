/* src/cli/build-uki.c — `trustboot build-uki`: signed UKIs, systemd-boot and the medium, with the
 * options of enki/AuroraBoot build-uki. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "util/fileio.h"
#include "util/log.h"
#include "medium/medium.h"
#include "measure/mhash.h"

static const char usage[] =
        "Usage: trustboot build-uki SOURCE -t iso|uki|container -d OUTDIR\n"
        "                           (-k KEYDIR | --sb-key KEY --sb-cert CERT --tpm-pcr-private-key KEY [--public-keys DIR])\n"
        "                           [options]\n"
        "\n"
        "Build signed Unified Kernel Images from a root file system (dir:PATH, ocifile:FILE,\n"
        "oci-layout:PATH[:TAG]) — the whole rootfs becomes the initrd — plus a signed systemd-boot,\n"
        "its configuration and auto-enrollment keys, as an ESP tree (uki), an installable ISO (iso)\n"
        "or an upgrade image (container).\n"
        "\n"
        "  -t, --output-type TYPE        uki (default), iso or container\n"
        "  -d, --output-dir DIR          where to write (default .)\n"
        "  -n, --name NAME               output base name (default <ID>-<VERSION_ID>-uki from os-release)\n"
        "  -k, --keys DIR                a genkey output: db.key/db.pem, tpm2-pcr-private.pem, *.auth\n"
        "      --sb-key KEY --sb-cert CERT   the db key and certificate that sign every EFI binary\n"
        "      --tpm-pcr-private-key KEY the key that signs the PCR 11 policies\n"
        "      --public-keys DIR         PK.auth KEK.auth db.auth for loader/keys/auto/\n"
        "  -o, --overlay-rootfs DIR      files merged over the root file system (repeatable, later wins)\n"
        "  -i, --overlay-iso DIR         files placed at the ISO root (-t iso)\n"
        "      --boot-branding TITLE     boot menu title (default trustboot)\n"
        "      --cmdline ARGS            base kernel command line (default \"console=tty1 console=ttyS0 panic=5\")\n"
        "  -x, --extend-cmdline ARGS     append ARGS to the default entry\n"
        "  -c, --extra-cmdline ARGS      one more entry with ARGS appended (repeatable)\n"
        "  -s, --single-efi-cmdline \"TITLE: ARGS\"  one more entry titled TITLE (repeatable)\n"
        "      --secure-boot-enroll MODE off, manual, if-safe (default; manual before systemd-boot 253), force\n"
        "      --splash BMP              boot splash image\n"
        "      --include-version-in-config  add 'version VERSION_ID' to the entries\n"
        "      --include-cmdline-in-config  add the entry's extra arguments as 'cmdline' to the entries\n"
        "      --stub EFI --sdboot EFI   systemd-stub and systemd-boot to use (default: installed ones)\n"
        "      --sdboot-in-source        take both from the root file system\n"
        "      --pcr-banks LIST          banks to sign PCR policies for, comma-separated (default sha256)\n"
        "      --compression zstd|xz|gzip|none  --compression-level N\n"
        "      --init PATH               make /init in the initrd a symlink to PATH (default\n"
        "                                /usr/bin/trustboot when the image carries it)\n"
        "  -h, --help                    show this help\n"
        "\n"
        "SOURCE_DATE_EPOCH makes the output reproducible (default: now).\n";

#define CMD "build-uki"

static int parse_banks(const char *list, unsigned *ret) {
        _cleanup_(freep) char *copy = strdup(list);
        char *save = NULL;
        unsigned banks = 0;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                int b = tb_bank_from_string(w);

                if (b < 0)
                        return cli_usage_error(CMD, "--pcr-banks: unknown bank '%s'", w);
                banks |= TB_BANK_BIT(b);
        }
        if (!banks)
                return cli_usage_error(CMD, "--pcr-banks: no bank given");
        *ret = banks;
        return 0;
}

int cmd_build_uki(int argc, char **argv) {
        enum {
                OPT_SB_KEY = 0x100, OPT_SB_CERT, OPT_PCR_KEY, OPT_PUBLIC_KEYS, OPT_BRANDING, OPT_CMDLINE,
                OPT_ENROLL, OPT_SPLASH, OPT_INCL_VERSION, OPT_INCL_CMDLINE, OPT_STUB, OPT_SDBOOT,
                OPT_SDBOOT_IN_SOURCE, OPT_BANKS, OPT_COMPRESSION, OPT_LEVEL, OPT_INIT,
        };
        static const struct option options[] = {
                { "output-type", required_argument, NULL, 't' },
                { "output-dir", required_argument, NULL, 'd' },
                { "name", required_argument, NULL, 'n' },
                { "keys", required_argument, NULL, 'k' },
                { "sb-key", required_argument, NULL, OPT_SB_KEY },
                { "sb-cert", required_argument, NULL, OPT_SB_CERT },
                { "tpm-pcr-private-key", required_argument, NULL, OPT_PCR_KEY },
                { "public-keys", required_argument, NULL, OPT_PUBLIC_KEYS },
                { "overlay-rootfs", required_argument, NULL, 'o' },
                { "overlay-iso", required_argument, NULL, 'i' },
                { "boot-branding", required_argument, NULL, OPT_BRANDING },
                { "cmdline", required_argument, NULL, OPT_CMDLINE },
                { "extend-cmdline", required_argument, NULL, 'x' },
                { "extra-cmdline", required_argument, NULL, 'c' },
                { "single-efi-cmdline", required_argument, NULL, 's' },
                { "secure-boot-enroll", required_argument, NULL, OPT_ENROLL },
                { "splash", required_argument, NULL, OPT_SPLASH },
                { "include-version-in-config", no_argument, NULL, OPT_INCL_VERSION },
                { "include-cmdline-in-config", no_argument, NULL, OPT_INCL_CMDLINE },
                { "stub", required_argument, NULL, OPT_STUB },
                { "sdboot", required_argument, NULL, OPT_SDBOOT },
                { "sdboot-in-source", no_argument, NULL, OPT_SDBOOT_IN_SOURCE },
                { "pcr-banks", required_argument, NULL, OPT_BANKS },
                { "compression", required_argument, NULL, OPT_COMPRESSION },
                { "compression-level", required_argument, NULL, OPT_LEVEL },
                { "init", required_argument, NULL, OPT_INIT },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(freep) char *k_sb_key = NULL, *k_sb_cert = NULL, *k_pcr = NULL, *output = NULL;
        const char *keys = NULL, *epoch = getenv("SOURCE_DATE_EPOCH");
        tb_medium_options o;
        uint64_t v;
        int opt, r;

        tb_medium_options_init(&o);
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "t:d:n:k:o:i:x:c:s:h", options, NULL)) >= 0) {
                switch (opt) {
                case 't':
                        if (tb_medium_type_from_string(optarg, &o.type) < 0)
                                return cli_usage_error(CMD, "--output-type: '%s' is not iso, uki or container", optarg);
                        break;
                case 'd':
                        o.output_dir = optarg;
                        break;
                case 'n':
                        if (!*optarg || strchr(optarg, '/'))
                                return cli_usage_error(CMD, "--name: '%s' is not a file name", optarg);
                        o.name = optarg;
                        break;
                case 'k':
                        keys = optarg;
                        break;
                case OPT_SB_KEY:
                        o.sb_key = optarg;
                        break;
                case OPT_SB_CERT:
                        o.sb_cert = optarg;
                        break;
                case OPT_PCR_KEY:
                        o.pcr_key = optarg;
                        break;
                case OPT_PUBLIC_KEYS:
                        o.public_keys = optarg;
                        break;
                case 'o':
                        if (o.n_overlays >= TB_ROOTFS_MAX_OVERLAYS)
                                return cli_usage_error(CMD, "at most %d --overlay-rootfs", TB_ROOTFS_MAX_OVERLAYS);
                        o.overlays[o.n_overlays++] = optarg;
                        break;
                case 'i':
                        o.overlay_iso = optarg;
                        break;
                case OPT_BRANDING:
                        o.branding = optarg;
                        break;
                case OPT_CMDLINE:
                        o.cmdline = optarg;
                        break;
                case 'x':
                        o.extend_cmdline = optarg;
                        break;
                case 'c':
                        if (o.n_extra >= TB_MEDIUM_MAX_EXTRA)
                                return cli_usage_error(CMD, "at most %d --extra-cmdline", TB_MEDIUM_MAX_EXTRA);
                        o.extra_cmdlines[o.n_extra++] = optarg;
                        break;
                case 's':
                        if (o.n_single >= TB_MEDIUM_MAX_EXTRA)
                                return cli_usage_error(CMD, "at most %d --single-efi-cmdline", TB_MEDIUM_MAX_EXTRA);
                        o.single_cmdlines[o.n_single++] = optarg;
                        break;
                case OPT_ENROLL:
                        if (tb_enroll_from_string(optarg, &o.enroll) < 0)
                                return cli_usage_error(CMD, "--secure-boot-enroll: '%s' is not off, manual, if-safe or force",
                                                       optarg);
                        o.enroll_given = true;
                        break;
                case OPT_SPLASH:
                        o.splash = optarg;
                        break;
                case OPT_INCL_VERSION:
                        o.include_version = true;
                        break;
                case OPT_INCL_CMDLINE:
                        o.include_cmdline = true;
                        break;
                case OPT_STUB:
                        o.stub = optarg;
                        break;
                case OPT_SDBOOT:
                        o.sdboot = optarg;
                        break;
                case OPT_SDBOOT_IN_SOURCE:
                        o.sdboot_in_source = true;
                        break;
                case OPT_BANKS:
                        r = parse_banks(optarg, &o.banks);
                        if (r != 0)
                                return r < 0 ? TB_EXIT_FAILURE : r;
                        break;
                case OPT_COMPRESSION:
                        if (tb_initrd_compression_from_string(optarg, &o.compression) < 0)
                                return cli_usage_error(CMD, "--compression: '%s' is not zstd, xz, gzip or none", optarg);
                        break;
                case OPT_LEVEL:
                        if (cli_parse_u64(optarg, 0, 22, &v) < 0)
                                return cli_usage_error(CMD, "--compression-level: '%s' is not a level from 0 to 22", optarg);
                        o.compression_level = (int)v;
                        break;
                case OPT_INIT:
                        o.init = optarg;
                        break;
                case 'h':
                        return cli_print_help(usage);
                default:
                        return cli_bad_option(CMD, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error(CMD, "missing SOURCE (dir:PATH, ocifile:FILE or oci-layout:PATH)");
        if (optind + 1 < argc)
                return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
        o.source = argv[optind];
        if (o.extend_cmdline && o.n_extra > 0)
                return cli_usage_error(CMD, "--extend-cmdline and --extra-cmdline exclude each other");
        if (o.overlay_iso && o.type != TB_MEDIUM_ISO)
                return cli_usage_error(CMD, "--overlay-iso only applies to -t iso");
        if ((o.stub || o.sdboot) && o.sdboot_in_source)
                return cli_usage_error(CMD, "--sdboot-in-source excludes --stub and --sdboot");
        if (keys) {
                if (o.sb_key || o.sb_cert || o.pcr_key)
                        return cli_usage_error(CMD, "-k excludes --sb-key, --sb-cert and --tpm-pcr-private-key");
                k_sb_key = tb_path_join(keys, "db.key");
                k_sb_cert = tb_path_join(keys, "db.pem");
                k_pcr = tb_path_join(keys, "tpm2-pcr-private.pem");
                if (!k_sb_key || !k_sb_cert || !k_pcr)
                        return TB_EXIT_FAILURE;
                o.sb_key = k_sb_key;
                o.sb_cert = k_sb_cert;
                o.pcr_key = k_pcr;
                if (!o.public_keys)
                        o.public_keys = keys;
        }
        if (!o.sb_key || !o.sb_cert || !o.pcr_key)
                return cli_usage_error(CMD, "keys missing: give -k KEYDIR, or --sb-key, --sb-cert and --tpm-pcr-private-key");
        if (epoch && *epoch) {
                if (cli_parse_u64(epoch, 0, 253402300799ull, &v) < 0) {
                        tb_err("SOURCE_DATE_EPOCH: '%s' is not a number of seconds since 1970", epoch);
                        return TB_EXIT_FAILURE;
                }
                o.epoch = (int64_t)v;
        } else
                o.epoch = (int64_t)time(NULL);

        if (tb_medium_build(&o, &output) < 0)
                return TB_EXIT_FAILURE;
        printf("%s\n", output); /* data, not chatter: printed even with -q */
        return TB_EXIT_OK;
}
