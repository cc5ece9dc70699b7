/* bootentry-show.c — `trustboot bootentry`'s modes and their output (see bootentry-show.h). */
#include "node/bootentry-show.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "boot/loader-entry.h"
#include "sb/efivar.h"
#include "util/json.h"
#include "util/log.h"

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

static int format_json(const tb_bootentry_list *l, const char *selected, const char *oneshot, FILE *out) {
        _cleanup_(json_object_putp) struct json_object *a = json_object_new_array();
        _cleanup_(tb_buf_freep) tb_buf text = TB_BUF_INIT;

        if (!a)
                return tb_log_oom();
        for (size_t i = 0; i < l->n; i++) {
                struct json_object *o = entry_json(&l->e[i], selected, oneshot);
                if (!o || json_object_array_add(a, o) < 0) {
                        json_object_put(o);
                        return tb_log_oom();
                }
        }
        if (tb_json_format(a, TB_JSON_PRETTY, &text) < 0)
                return tb_log_oom();
        fwrite(text.data, 1, text.len, out);
        return 0;
}

static void format_text(const tb_bootentry_list *l, const char *selected, const char *oneshot, FILE *out) {
        for (size_t i = 0; i < l->n; i++) {
                const tb_bootentry *e = &l->e[i];
                char counter[32] = "-";
                char profile[24] = "";

                if (e->left != TB_LOADER_ENTRY_COUNTER_NONE)
                        snprintf(counter, sizeof(counter), "%d left, %d done", e->left, e->done);
                if (e->profile >= 0)
                        snprintf(profile, sizeof(profile), " [profile %d]", e->profile);
                fprintf(out, "%-28s %-13s %-18s %s%s%s%s\n", e->file, tb_bootentry_state_to_string(e->state),
                        counter, e->title ? e->title : "", profile,
                        tb_bootentry_is_selected(e, selected) ? " [booted]" : "",
                        tb_bootentry_is_oneshot(e, oneshot) ? " [next]" : "");
        }
}

int tb_bootentry_show_format(const tb_bootentry_list *l, const char *selected, const char *oneshot, bool json,
                             FILE *out) {
        if (json)
                return format_json(l, selected, oneshot, out);
        format_text(l, selected, oneshot, out);
        return 0;
}

int tb_bootentry_show_list(const char *esp, const char *efivars, bool json, FILE *out) {
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        _cleanup_(freep) char *selected = NULL, *oneshot = NULL;
        int r;

        r = tb_bootentry_list_load(esp, &l);
        if (r < 0)
                return r;
        /* Absent variables (not booted by systemd-boot, or no one-shot pending) are not errors. */
        (void)tb_efivar_read_string(efivars, TB_LOADER_ENTRY_SELECTED, &TB_GUID_LOADER, &selected);
        (void)tb_efivar_read_string(efivars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, &oneshot);
        return tb_bootentry_show_format(&l, selected, oneshot, json, out);
}

int tb_bootentry_show_select(const char *esp, const char *efivars, const char *name, FILE *out) {
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        _cleanup_(freep) char *id = NULL;
        const tb_bootentry *e;
        int r;

        r = tb_bootentry_list_load(esp, &l);
        if (r < 0)
                return r;
        e = tb_bootentry_list_find(&l, name);
        if (!e) {
                tb_err("%s: no boot entry \"%s\"", esp, name);
                return -ENOENT;
        }
        r = tb_bootentry_select_next(efivars, esp, e->file, &id);
        if (r < 0)
                return r;
        fprintf(out, "%s\n", id);
        return 0;
}

int tb_bootentry_show_mark(const char *esp, const char *efivars, bool good, FILE *out) {
        _cleanup_(freep) char *from = NULL, *to = NULL;
        int r;

        r = tb_bootentry_mark(esp, efivars, good, &from, &to);
        if (r < 0)
                return r;
        if (from)
                fprintf(out, "%s -> %s\n", from, to);
        else
                tb_info("this boot was not counted (no LoaderBootCountPath, or an entry without a counter): nothing "
                        "to mark");
        return 0;
}
