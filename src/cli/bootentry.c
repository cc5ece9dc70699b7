/* bootentry.c — trustboot bootentry: the installed boot entries and the next boot. */
#include <stdio.h>

#include "cli.h"
#include "node/bootentry-show.h"

static const char synopsis[] =
        "Usage: trustboot bootentry [--list | --select NAME | --mark-good | --mark-bad] [OPTIONS]\n"
        "\n"
        "List the ESP's boot entries with their boot-counter state (good: no counter; indeterminate:\n"
        "tries left; bad: +0-N, tried last), or choose the entry systemd-boot starts next, once\n"
        "(LoaderEntryOneShot). NAME is an entry file (active+2-1.conf), a base name (active,\n"
        "passive, recovery, statereset, my_entry, active-profile1), ROLE@N (profile N of\n"
        "ROLE's multi-profile UKI: active@1), or cos (= active) or fallback (= passive).\n"
        "--select writes and prints the id the running systemd-boot gives the entry: 257.13\n"
        "and later name a counted entry without its counter (active.conf), older ones by its\n"
        "file name; decided by what it published (LoaderEntries), else by its version.\n"
        "--mark-good and --mark-bad do what systemd-bless-boot does, for systems without it: the\n"
        "entry this boot was counted on (LoaderBootCountPath) loses its counter (good: no more\n"
        "counting) or gets +0-N (bad: tried last, the fallback boots next).\n"
        "\n";

int cmd_bootentry(int argc, char **argv) {
        const char *esp = "/efi", *efivars = NULL, *select = NULL;
        bool json = false, do_list = false, good = false, bad = false;
        const cli_option options[] = {
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_FLAG("list", 0, &do_list, "list the entries (the default)"),
                CLI_OPT_STRING("select", 0, "NAME", &select, "boot NAME next, once"),
                CLI_OPT_FLAG("mark-good", 0, &good, "bless the entry this boot started from"),
                CLI_OPT_FLAG("mark-bad", 0, &bad, "mark the entry this boot started from as failed"),
                CLI_OPT_JSON(&json, "list as JSON"),
                CLI_OPT_ESP(&esp),
                CLI_OPT_EFIVARS(&efivars),
                {},
        };
        const cli_command cmd = { "bootentry", synopsis, options, NULL };
        int mark = -1; /* 1: good, 0: bad */
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (good && bad)
                return cli_usage_error(cmd.name, "--mark-good and --mark-bad exclude each other");
        if (good || bad)
                mark = good;
        if (optind < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind]);
        if (do_list && select)
                return cli_usage_error(cmd.name, "--list and --select exclude each other");
        if ((do_list || select) && mark >= 0)
                return cli_usage_error(cmd.name, "--mark-%s excludes --list and --select", mark ? "good" : "bad");
        if ((select || mark >= 0) && json)
                return cli_usage_error(cmd.name, "--json goes with --list");
        if (mark >= 0)
                r = tb_bootentry_show_mark(esp, efivars, mark, stdout);
        else if (select)
                r = tb_bootentry_show_select(esp, efivars, select, stdout);
        else
                r = tb_bootentry_show_list(esp, efivars, json, stdout);
        return r < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
