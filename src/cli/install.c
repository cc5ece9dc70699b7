/* install.c — trustboot install: the medium onto a disk, encrypted and sealed to the TPM. */
#include <errno.h>
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
#include "util/strset.h"

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

/* The configuration in effect: the --config files, else those the node has (see the usage
 * text), merged over the defaults into *RET; *FILES is their list. Logs what fails. */
static int load_config(const struct options *o, char ***files, size_t *n_files, tb_cloudconfig **ret) {
        int r;

        if (o->n_configs == 0)
                r = tb_cloudconfig_discover(NULL, files, n_files);
        else {
                *n_files = 0;
                r = 0;
                for (size_t i = 0; i < o->n_configs && r >= 0; i++)
                        r = tb_strv_push(files, n_files, o->configs[i]);
                if (r < 0)
                        r = tb_log_oom();
        }
        if (r < 0)
                return r;
        return tb_cloudconfig_load_files((const char *const *)*files, *n_files, ret);
}

int cmd_install(int argc, char **argv) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(tb_strv_freep) char **files = NULL;
        _cleanup_(freep) char *device = NULL;
        struct options o = { 0 };
        size_t n_files = 0;
        tb_disk_layout l;
        int r;

        r = parse(argc, argv, &o);
        if (r != CLI_CONTINUE)
                return r;
        if (load_config(&o, &files, &n_files, &c) < 0)
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
                .config_files = (const char *const *)files,
                .n_config_files = n_files,
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
        return TB_EXIT_OK;
fail:
        return TB_EXIT_FAILURE;
}
