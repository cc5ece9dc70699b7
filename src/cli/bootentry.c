/* bootentry.c — trustboot bootentry: the installed boot entries and the next boot. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "boot/loader-entry.h"
#include "node/bootentry.h"
#include "cli.h"
#include "sb/efivar.h"
#include "util/json.h"
#include "util/log.h"

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

static struct json_object *entry_json(const tb_bootentry *e, const char *selected, const char *oneshot) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return NULL;
#define ADD(k, v) json_object_object_add(o, k, v)
#define STR(s) ((s) ? json_object_new_string(s) : NULL)
        ADD("id", STR(e->file));
        ADD("name", STR(e->base));
        ADD("title", STR(e->title));
        ADD("efi", STR(e->efi));
        ADD("sort-key", STR(e->sort_key));
        ADD("version", STR(e->version));
        ADD("profile", e->profile < 0 ? NULL : json_object_new_int(e->profile));
        ADD("state", json_object_new_string(tb_bootentry_state_to_string(e->state)));
        ADD("tries-left", e->left == TB_LOADER_ENTRY_COUNTER_NONE ? NULL : json_object_new_int(e->left));
        ADD("tries-done", e->done == TB_LOADER_ENTRY_COUNTER_NONE ? NULL : json_object_new_int(e->done));
        ADD("selected", json_object_new_boolean(tb_bootentry_is_selected(e, selected)));
        ADD("oneshot", json_object_new_boolean(tb_bootentry_is_oneshot(e, oneshot)));
#undef STR
#undef ADD
        return o;
}

static int list(const tb_bootentry_list *l, const char *efivars, bool json) {
        _cleanup_(freep) char *selected = NULL, *oneshot = NULL;

        /* Absent variables (not booted by systemd-boot, or no one-shot pending) are not errors. */
        (void)tb_efivar_read_string(efivars, TB_LOADER_ENTRY_SELECTED, &TB_GUID_LOADER, &selected);
        (void)tb_efivar_read_string(efivars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, &oneshot);
        if (json) {
                _cleanup_(json_object_putp) struct json_object *a = json_object_new_array();
                _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
                if (!a)
                        return tb_log_oom();
                for (size_t i = 0; i < l->n; i++) {
                        struct json_object *o = entry_json(&l->e[i], selected, oneshot);
                        if (!o || json_object_array_add(a, o) < 0) {
                                json_object_put(o);
                                return tb_log_oom();
                        }
                }
                if (tb_json_format(a, TB_JSON_PRETTY, &out) < 0)
                        return tb_log_oom();
                fwrite(out.data, 1, out.len, stdout);
                return 0;
        }
        for (size_t i = 0; i < l->n; i++) {
                const tb_bootentry *e = &l->e[i];
                char counter[32] = "-";
                if (e->left != TB_LOADER_ENTRY_COUNTER_NONE)
                        snprintf(counter, sizeof(counter), "%d left, %d done", e->left, e->done);
                char profile[24] = "";
                if (e->profile >= 0)
                        snprintf(profile, sizeof(profile), " [profile %d]", e->profile);
                printf("%-28s %-13s %-18s %s%s%s%s\n", e->file, tb_bootentry_state_to_string(e->state), counter,
                       e->title ? e->title : "", profile,
                       tb_bootentry_is_selected(e, selected) ? " [booted]" : "",
                       tb_bootentry_is_oneshot(e, oneshot) ? " [next]" : "");
        }
        return 0;
}

static int mark_booted(const char *esp, const char *efivars, bool good) {
        _cleanup_(freep) char *from = NULL, *to = NULL;

        if (tb_bootentry_mark(esp, efivars, good, &from, &to) < 0)
                return TB_EXIT_FAILURE;
        if (from)
                printf("%s -> %s\n", from, to);
        else
                tb_info("this boot was not counted (no LoaderBootCountPath, or an entry without a counter): nothing to mark");
        return TB_EXIT_OK;
}

int cmd_bootentry(int argc, char **argv) {
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
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
                return mark_booted(esp, efivars, mark);

        r = tb_bootentry_list_load(esp, &l);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (!select)
                return list(&l, efivars, json) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;

        const tb_bootentry *e = tb_bootentry_list_find(&l, select);
        if (!e) {
                tb_err("%s: no boot entry \"%s\"", esp, select);
                return TB_EXIT_FAILURE;
        }
        _cleanup_(freep) char *id = NULL;
        r = tb_bootentry_select_next(efivars, esp, e->file, &id);
        if (r < 0)
                return TB_EXIT_FAILURE;
        printf("%s\n", id);
        return TB_EXIT_OK;
}
