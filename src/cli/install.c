/* install.c — trustboot install: the medium onto a disk, encrypted and sealed to the TPM. */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "cli.h"
#include "node/cmdline.h"
#include "node/cloudconfig.h"
#include "node/disk.h"
#include "node/install.h"
#include "util/log.h"

static const char synopsis[] =
        "Usage: trustboot install [--config FILE]... [--device DEV] [OPTIONS]\n"
        "\n"
        "Install the running medium to a disk as Kairos does: GPT with efi (COS_GRUB), oem (COS_OEM),\n"
        "persistent (COS_PERSISTENT) and the configured extra partitions; systemd-boot and the\n"
        "medium's UKIs as active, passive, recovery and statereset entries with boot counting;\n"
        "the listed partitions LUKS2-encrypted and sealed to the TPM by the signed PCR 11 policy.\n"
        "\n"
        "Without --config, the configuration comes from trustboot.config= on the kernel command\n"
        "line, else /oem/*.yaml, else /etc/trustboot/config.yaml; it is merged over the defaults.\n"
        "\n";

struct options {
        const char *configs[16];
        size_t n_configs;
        const char *device, *source, *pubkey, *tpm2_device, *efivarfs;
        bool insecure, no_encrypt, no_lifecycle, dry_run;
};

/* Returns CLI_CONTINUE, or the exit status to return at once. */
static int parse(int argc, char **argv, struct options *o) {
        const cli_option options[] = {
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_APPEND("config", 0, "FILE", o->configs, o->n_configs, "cloud-config (repeatable, merged in order)"),
                CLI_OPT_STRING("device", 0, "DEV", &o->device,
                               "target disk, overriding install.device (auto: the largest blank,\n"
                               "fixed disk that is not the boot medium)"),
                CLI_OPT_STRING("source", 0, "DIR", &o->source, "the medium's ESP tree (default " TB_INSTALL_RUN_DIR "/medium)"),
                CLI_OPT_PCR_PUBLIC_KEY(&o->pubkey, "key whose signed policies unlock (default " TB_INSTALL_PCR_PUBLIC_KEY ")"),
                CLI_OPT_TPM2_DEVICE(&o->tpm2_device),
                CLI_OPT_STRING("efivarfs", 0, "DIR", &o->efivarfs,
                               "where to set LoaderEntryOneShot (default the efivarfs; \"\" none)"),
                CLI_OPT_FLAG("insecure", 0, &o->insecure,
                             "install although Secure Boot is off; the medium's images are then\n"
                             "not checked against db/dbx and the PCR key (tests)"),
                CLI_OPT_FLAG("no-encrypt", 0, &o->no_encrypt, "encrypt nothing, no TPM needed (tests)"),
                CLI_OPT_FLAG("no-lifecycle", 0, &o->no_lifecycle, "ignore install.reboot/poweroff"),
                CLI_OPT_FLAG("dry-run", 0, &o->dry_run, "run every check, print the layout, write nothing"),
                {},
        };
        const cli_command cmd = { "install", synopsis, options, NULL };
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind != argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind]);
        return CLI_CONTINUE;
}

/* The configuration files in effect when none is given (see the usage text). */
static void find_configs(struct options *o, char **cmdline_config, glob_t *g) {
        if (tb_cmdline_get("trustboot.config", cmdline_config) > 0 && *cmdline_config) {
                o->configs[o->n_configs++] = *cmdline_config;
                return;
        }
        if (glob("/oem/*.yaml", 0, NULL, g) == 0) {
                for (size_t i = 0; i < g->gl_pathc && o->n_configs < 16; i++)
                        o->configs[o->n_configs++] = g->gl_pathv[i];
                return;
        }
        if (access("/etc/trustboot/config.yaml", R_OK) == 0)
                o->configs[o->n_configs++] = "/etc/trustboot/config.yaml";
}

/* The configuration in effect with no --config, merged over the defaults; NULL on errors
 * (logged). */
static tb_cloudconfig *load_config(struct options *o, char **cmdline_config, glob_t *g) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;

        if (o->n_configs == 0)
                find_configs(o, cmdline_config, g);
        if (tb_cloudconfig_new(&c) < 0)
                return NULL;
        for (size_t i = 0; i < o->n_configs; i++) {
                tb_debug("configuration: %s", o->configs[i]);
                if (tb_cloudconfig_merge_file(c, o->configs[i]) < 0)
                        return NULL;
        }
        return TAKE_PTR(c);
}

int cli_install_is_automatic(void) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(freep) char *cmdline_config = NULL;
        struct options o = { 0 };
        glob_t g = { 0 };
        int r;

        c = load_config(&o, &cmdline_config, &g);
        r = c ? c->auto_install : -EINVAL;
        globfree(&g);
        return r;
}

int cmd_install(int argc, char **argv) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(freep) char *cmdline_config = NULL, *device = NULL;
        struct options o = { 0 };
        tb_disk_layout l;
        glob_t g = { 0 };
        int r;

        r = parse(argc, argv, &o);
        if (r != CLI_CONTINUE)
                return r;
        c = load_config(&o, &cmdline_config, &g);
        if (!c)
                goto fail;

        bool insecure = o.insecure || tb_cmdline_flag("trustboot.insecure");
        if (!insecure) {
                r = tb_install_secure_boot(o.efivarfs && *o.efivarfs ? o.efivarfs : NULL);
                if (r != 1) {
                        tb_err("Secure Boot is %s: refusing to install a system whose keys it could not protect "
                               "(--insecure or trustboot.insecure to override)",
                               r == 0 ? "off" : "unknown (no SecureBoot EFI variable)");
                        goto fail;
                }
        }
        const char *want = o.device ? o.device : c->device;
        if (strcmp(want, "auto") == 0) { /* --device auto as install.device: auto */
                if (tb_disk_pick_auto(c->force, &device) < 0)
                        goto fail;
                tb_info("install.device auto: %s", device);
        } else
                device = strdup(want);
        if (!device)
                goto fail;

        tb_install_params p = {
                .config = c,
                .device = device,
                .source_dir = o.source ? o.source : TB_INSTALL_RUN_DIR "/medium",
                .config_files = o.configs,
                .n_config_files = o.n_configs,
                .pcr_public_key = o.pubkey,
                .tpm2_device = o.tpm2_device,
                .encrypt = !o.no_encrypt,
                .check_images = !insecure,
                .efivarfs = o.efivarfs,
        };
        if (tb_install_check(&p, &l) < 0)
                goto fail;
        for (size_t i = 0; i < l.n; i++)
                printf("%u %s %s %s %llu%s\n", l.parts[i].partno, l.parts[i].name, l.parts[i].label,
                       l.parts[i].fs ? l.parts[i].fs : "-", (unsigned long long)l.parts[i].size_mib,
                       l.parts[i].size_mib ? "MiB" : " (rest)");
        fflush(stdout);
        if (o.dry_run)
                goto ok;
        if (tb_install_run(&p, &l) < 0) {
                tb_err("%s: installation failed; the disk can be installed again from the start", device);
                goto fail;
        }
        tb_info("%s: installed", device);
        if (!o.no_lifecycle && (c->poweroff || c->reboot)) {
                sync();
                tb_info("%s", c->poweroff ? "powering off" : "rebooting");
                if (reboot(c->poweroff ? RB_POWER_OFF : RB_AUTOBOOT) < 0) {
                        tb_log_errno(negative_errno(), "cannot %s", c->poweroff ? "power off" : "reboot");
                        goto fail;
                }
        }
ok:
        globfree(&g);
        return TB_EXIT_OK;
fail:
        globfree(&g);
        return TB_EXIT_FAILURE;
}
