/* install.c — trustboot install: the medium onto a disk, encrypted and sealed to the TPM. */
#include <stdio.h>

#include "cli.h"
#include "node/install.h"
#include "node/installer.h"

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

int cmd_install(int argc, char **argv) {
        struct options o = { 0 };
        tb_installer_options io;
        int r;

        r = parse(argc, argv, &o);
        if (r != CLI_CONTINUE)
                return r;
        io = (tb_installer_options){
                .configs = o.configs,
                .n_configs = o.n_configs,
                .device = o.device,
                .source_dir = o.source,
                .pcr_public_key = o.pubkey,
                .tpm2_device = o.tpm2_device,
                .efivarfs = o.efivarfs,
                .insecure = o.insecure,
                .no_encrypt = o.no_encrypt,
                .no_lifecycle = o.no_lifecycle,
                .dry_run = o.dry_run,
                .out = stdout,
        };
        return tb_installer_run(&io) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
