/* main.c — global flags and the table of subcommands; nothing here knows what a command does. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "pe/pkcs11.h"
#include "util/log.h"

struct command {
        const char *name;
        cli_command_fn fn;
        const char *summary;
};

static const struct command commands[] = {
        { "bootentry", cmd_bootentry, "list boot entries with their boot counters, choose the next boot" },
        { "build-uki", cmd_build_uki, "build signed UKIs, systemd-boot and an ISO, ESP tree or upgrade image" },
        { "encrypt", cmd_encrypt, "format a LUKS2 volume whose key is sealed in the TPM to a signed PCR policy" },
        { "genkey", cmd_genkey, "generate a Secure Boot key set (PK, KEK, db) and the PCR policy key" },
        { "inspect", cmd_inspect, "show the sections, stub version and signatures of a PE image or UKI" },
        { "init", cmd_init, "PID 1 of the UKI's initrd: unlock, mount or install, then the real init" },
        { "initrd", cmd_initrd, "write a root file system as a reproducible compressed cpio initrd" },
        { "install", cmd_install, "install the running medium to a disk, encrypted and sealed to the TPM" },
        { "measure", cmd_measure, "predict PCR 11 for a UKI and sign PCR policies (like systemd-measure)" },
        { "sign", cmd_sign, "Authenticode-sign a PE/EFI image (as sbsign)" },
        { "verify", cmd_verify, "check a PE/EFI image's Authenticode signature against a certificate" },
        { "unlock", cmd_unlock, "unlock a TPM2-sealed LUKS2 volume (systemd-tpm2 token)" },
        { "unlock-all", cmd_unlock_all, "unlock every TPM2-sealed LUKS2 partition not yet open" },
        { "upgrade", cmd_upgrade, "install a new medium's UKI A/B style, after checking db/dbx and the PCR key" },
        { "vm", cmd_vm, "boot a medium in QEMU with Secure Boot firmware and a software TPM" },
};

static const char usage_head[] =
        "Usage: trustboot [-v|--verbose] [-q|--quiet] COMMAND [ARGS...]\n"
        "       trustboot --version | --help | help COMMAND\n"
        "\n"
        "Build and run Trusted Boot systems: Secure Boot, Measured Boot, TPM2-bound disk encryption.\n"
        "\n"
        "Commands:\n";

static void print_usage(FILE *f) {
        fputs(usage_head, f);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
        fputs("\nRun 'trustboot help COMMAND' or 'trustboot COMMAND --help' for a command's options.\n", f);
}

static const struct command *find_command(const char *name) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        return NULL;
}

static int run_command(const struct command *c, int argc, char **argv) {
        char prefix[64];

        snprintf(prefix, sizeof(prefix), "trustboot %s", c->name);
        tb_log_set_prefix(prefix);
        optind = 0; /* reset getopt for the subcommand, including its GNU extensions */
        return c->fn(argc, argv);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "verbose", no_argument, NULL, 'v' },
                { "quiet", no_argument, NULL, 'q' },
                {},
        };
        const struct command *c;
        int opt;

        /* The kernel runs /init (a link to us) with the unknown command line words as arguments. */
        if (strcmp(argv[0], "/init") == 0 || strcmp(argv[0], "init") == 0) {
                tb_log_set_prefix("trustboot init");
                return cmd_init(argc, argv);
        }
        tb_pkcs11_set_pin_prompt(cli_pkcs11_pin_prompt);
        opterr = 0;
        /* '+': stop at the first non-option, which is the subcommand. */
        while ((opt = getopt_long(argc, argv, "+hVvq", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        print_usage(stdout);
                        return TB_EXIT_OK;
                case 'V':
                        printf("trustboot %s\n", TB_VERSION);
                        return TB_EXIT_OK;
                case 'v':
                        cli_verbosity++;
                        break;
                case 'q':
                        cli_verbosity = -1;
                        break;
                default:
                        return cli_bad_option(NULL, argv);
                }
        }
        tb_log_set_level(cli_verbosity < 0 ? TB_LOG_WARN : cli_verbosity > 0 ? TB_LOG_DEBUG : TB_LOG_INFO);

        if (optind >= argc) {
                print_usage(stderr);
                return TB_EXIT_USAGE;
        }
        if (strcmp(argv[optind], "help") == 0) {
                if (optind + 1 >= argc) {
                        print_usage(stdout);
                        return TB_EXIT_OK;
                }
                c = find_command(argv[optind + 1]);
                if (!c)
                        return cli_usage_error(NULL, "unknown command '%s'", argv[optind + 1]);
                char *help_argv[] = { argv[optind + 1], (char *)"--help", NULL };
                return run_command(c, 2, help_argv);
        }
        c = find_command(argv[optind]);
        if (!c)
                return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
        return run_command(c, argc - optind, argv + optind);
}
