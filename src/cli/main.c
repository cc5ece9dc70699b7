/* main.c — global flags and the table of subcommands; nothing here knows what a command does. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "pe/pkcs11.h"
#include "util/log.h"
#include "util/macro.h"

struct command {
        const char *name;
        cli_command_fn fn;
        const char *summary;
};

static const struct command commands[] = {
        { "bootentry", cmd_bootentry, "list boot entries with their boot counters, choose the next boot" },
        { "build-uki", cmd_build_uki, "build signed UKIs, systemd-boot and an ISO, ESP tree or upgrade image" },
        { "dbx", cmd_dbx, "revoke images or keys: a KEK-signed dbx append update (dbx add)" },
        { "encrypt", cmd_encrypt, "format a LUKS2 volume whose key is sealed in the TPM to a signed PCR policy" },
        { "enroll", cmd_enroll, "apply a signed PK/KEK/db/dbx update, checked against the enrolled keys" },
        { "genkey", cmd_genkey, "generate a Secure Boot key set (PK, KEK, db) and the PCR policy key" },
        { "inspect", cmd_inspect, "show the sections, stub version and signatures of a PE image or UKI" },
        { "init", cmd_init, "PID 1 of the UKI's initrd: unlock, mount or install, then the real init" },
        { "initrd", cmd_initrd, "write a root file system as a reproducible compressed cpio initrd" },
        { "install", cmd_install, "install the running medium to a disk, encrypted and sealed to the TPM" },
        { "measure", cmd_measure, "predict PCR 11 for a UKI and sign PCR policies (like systemd-measure)" },
        { "sign", cmd_sign, "Authenticode-sign a PE/EFI image (as sbsign)" },
        { "verify", cmd_verify, "check a PE/EFI image's Authenticode signature against a certificate" },
        { "status", cmd_status, "this node's Secure Boot, TPM and boot-entry state; exit 0 when consistent" },
        { "unlock", cmd_unlock, "unlock a TPM2-sealed LUKS2 volume (systemd-tpm2 token)" },
        { "unlock-all", cmd_unlock_all, "unlock every TPM2-sealed LUKS2 partition not yet open" },
        { "upgrade", cmd_upgrade, "install a new medium's UKI A/B style, after checking db/dbx and the PCR key" },
        { "vm", cmd_vm, "boot a medium in QEMU with Secure Boot firmware and a software TPM" },
};

static const char synopsis[] =
        "Usage: trustboot [-v|--verbose] [-q|--quiet] COMMAND [ARGS...]\n"
        "       trustboot --version | --help | help COMMAND\n"
        "\n"
        "Build and run Trusted Boot systems: Secure Boot, Measured Boot, TPM2-bound disk encryption.\n"
        "\n";

/* The epilog of --help: the commands and their summaries. */
static const char *commands_text(void) {
        static char text[4096];
        size_t n = 0;

        if (text[0])
                return text;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "Commands:\n");
        for (size_t i = 0; i < ARRAY_SIZE(commands) && n < sizeof(text); i++)
                n += (size_t)snprintf(text + n, sizeof(text) - n, "  %-12s %s\n", commands[i].name, commands[i].summary);
        if (n < sizeof(text))
                snprintf(text + n, sizeof(text) - n,
                         "\nRun 'trustboot help COMMAND' or 'trustboot COMMAND --help' for a command's options.\n");
        return text;
}

static int count_verbose(const char *cmd, const char *arg, void *target) {
        (void)cmd, (void)arg, (void)target;
        cli_verbosity++;
        return 0;
}

static int set_quiet(const char *cmd, const char *arg, void *target) {
        (void)cmd, (void)arg, (void)target;
        cli_verbosity = -1;
        return 0;
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
        unsigned errors = tb_log_error_count();
        int r;

        optind = 0; /* reset getopt for the subcommand, including its GNU extensions */
        r = c->fn(argc, argv);
        /* The one-error-line rule's safety net: a failure must never be silent. */
        if (r == TB_EXIT_FAILURE && tb_log_error_count() == errors)
                tb_err("failed without an error message (a bug in trustboot; please report it)");
        return r;
}

int main(int argc, char **argv) {
        bool version = false;
        const cli_option options[] = {
                CLI_OPT_FLAG("version", 'V', &version, "show the version"),
                CLI_OPT_CALL("verbose", 'v', NULL, count_verbose, NULL, "say more (debug messages)"),
                CLI_OPT_CALL("quiet", 'q', NULL, set_quiet, NULL, "only warnings and errors"),
                {},
        };
        const cli_command cmd = { NULL, synopsis, options, commands_text(), .in_order = true };
        const struct command *c;
        int r;

        /* The kernel runs /init (a link to us) with the unknown command line words as arguments. */
        if (strcmp(argv[0], "/init") == 0 || strcmp(argv[0], "init") == 0) {
                tb_log_set_prefix("trustboot init");
                return cmd_init(argc, argv);
        }
        tb_pkcs11_set_pin_prompt(cli_pkcs11_pin_prompt);
        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (version) {
                printf("trustboot %s\n", TB_VERSION);
                return TB_EXIT_OK;
        }
        tb_log_set_level(cli_verbosity < 0 ? TB_LOG_WARN : cli_verbosity > 0 ? TB_LOG_DEBUG : TB_LOG_INFO);

        if (optind >= argc) {
                cli_help_print(&cmd, stderr);
                return TB_EXIT_USAGE;
        }
        if (strcmp(argv[optind], "help") == 0) {
                if (optind + 1 >= argc)
                        return cli_help(&cmd);
                c = find_command(argv[optind + 1]);
                if (!c)
                        return cli_usage_error(cmd.name, "unknown command '%s'", argv[optind + 1]);
                char *help_argv[] = { argv[optind + 1], (char *)"--help", NULL };
                return run_command(c, 2, help_argv);
        }
        c = find_command(argv[optind]);
        if (!c)
                return cli_usage_error(cmd.name, "unknown command '%s'", argv[optind]);
        return run_command(c, argc - optind, argv + optind);
}
