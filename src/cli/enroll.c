/* src/cli/enroll.c — trustboot enroll: apply a signed PK/KEK/db/dbx update on this node. */
#include <stdio.h>

#include "cli.h"
#include "sb/sbupdate.h"

static const char synopsis[] =
        "Usage: trustboot enroll [--var PK|KEK|db|dbx] [--efivars DIR] FILE.auth\n"
        "\n"
        "Apply a time-based authenticated update (from genkey, genkey --rotate, dbx add, or efitools'\n"
        "sign-efi-sig-list) to the firmware's Secure Boot variables through efivarfs. Outside setup\n"
        "mode it is first checked against the enrolled keys: PK for PK and KEK, a KEK or the PK for db\n"
        "and dbx; an update the firmware would refuse is refused here, and nothing is written. Appends\n"
        "(EFI_VARIABLE_APPEND_WRITE) are recognised from what the signature covers.\n"
        "\n";

static const char epilog[] =
        "Without --var, the variable is the file name's first word: PK.auth, KEK.auth, db-append.auth,\n"
        "dbx.auth.\n";

int cmd_enroll(int argc, char **argv) {
        const char *var_name = NULL, *efivars = NULL, *path;
        tb_sbvar var;
        bool append = false;
        int r;

        const cli_option options[] = {
                CLI_OPT_STRING("var", 0, "NAME", &var_name, "the variable: PK, KEK, db or dbx"),
                CLI_OPT_EFIVARS(&efivars),
                {},
        };
        const cli_command cmd = { "enroll", synopsis, options, epilog };

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind + 1 != argc)
                return cli_usage_error(cmd.name, "expected exactly one FILE.auth");
        path = argv[optind];
        if (var_name ? tb_sbvar_from_name(var_name, &var) < 0 : tb_sbvar_from_file_name(path, &var) < 0)
                return cli_usage_error(cmd.name, "%s: which variable? give --var PK, KEK, db or dbx",
                                       var_name ? var_name : path);
        r = tb_sbupdate_enroll_file(efivars, var, path, &append);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (cli_verbosity >= 0)
                printf("%s: %s %s.\n", path, append ? "appended to" : "written to", tb_sbvar_name(var));
        return TB_EXIT_OK;
}
