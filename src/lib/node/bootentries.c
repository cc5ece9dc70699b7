/* bootentries.c — Kairos' role layout of the installed ESP, and the next boot (LoaderEntryOneShot). */
#include "node/bootentries.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/bootentry.h"
#include "util/buf.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strset.h"

static const char *const role_names[_TB_ROLE_MAX] = {
        [TB_ROLE_ACTIVE] = "active",
        [TB_ROLE_PASSIVE] = "passive",
        [TB_ROLE_RECOVERY] = "recovery",
        [TB_ROLE_STATERESET] = "statereset",
};

/* Title suffixes in Kairos' BootTitleForRole. */
static const char *const role_title_suffix[_TB_ROLE_MAX] = {
        [TB_ROLE_ACTIVE] = "",
        [TB_ROLE_PASSIVE] = " (fallback)",
        [TB_ROLE_RECOVERY] = " recovery",
        [TB_ROLE_STATERESET] = " state reset (auto)",
};

static const char *const dirs[] = { TB_BOOT_EFI_DIR, TB_BOOT_ENTRIES_DIR };

const char *tb_role_to_string(tb_role role) {
        if (role < 0 || role >= _TB_ROLE_MAX)
                return NULL;
        return role_names[role];
}

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lf = strlen(suffix);
        return ls >= lf && strcmp(s + ls - lf, suffix) == 0;
}

tb_role tb_role_from_entry(const char *entry_id) {
        /* statereset before the others only matters if names overlapped; they do not. */
        for (int i = 0; i < _TB_ROLE_MAX; i++)
                if (startswith(entry_id, role_names[i]))
                        return (tb_role)i;
        return TB_ROLE_NONE;
}

const char *tb_role_sort_key(const char *entry_name) {
        static const char *const keys[_TB_ROLE_MAX] = { "0001", "0002", "0003", "0004" };

        /* Kairos tests "contains", in this order; "statereset" contains none of the others. */
        for (int i = 0; i < _TB_ROLE_MAX; i++)
                if (strstr(entry_name, role_names[i]))
                        return keys[i];
        return "0010";
}

int tb_role_title(tb_role role, const char *base_title, char **ret) {
        if (role < 0 || role >= _TB_ROLE_MAX)
                return -EINVAL;
        if (asprintf(ret, "%s%s", base_title, role_title_suffix[role]) < 0)
                return tb_log_oom();
        return 0;
}

/* The title without a role suffix, so that passive → active does not become "T (fallback)". */
static char *base_title(const char *title) {
        for (int i = 1; i < _TB_ROLE_MAX; i++)
                if (endswith(title, role_title_suffix[i]))
                        return strndup(title, strlen(title) - strlen(role_title_suffix[i]));
        return strdup(title);
}

/* "active+2-1.conf" → "active.conf" (the counter as bootentry.h parses it); other names as
 * they are. */
static char *strip_counter(const char *name) {
        _cleanup_(freep) char *base = NULL;
        int left;
        char *s;

        if (tb_loader_entry_parse_name(name, &base, &left, NULL) < 0 || left == TB_LOADER_ENTRY_COUNTER_NONE)
                return strdup(name);
        if (asprintf(&s, "%s.conf", base) < 0)
                return NULL;
        return s;
}

static bool has_counter(const char *name) {
        int left;
        return tb_loader_entry_parse_name(name, NULL, &left, NULL) == 0 && left != TB_LOADER_ENTRY_COUNTER_NONE;
}

static char *replace_prefix(const char *name, const char *from, const char *to) {
        char *s;
        if (asprintf(&s, "%s%s", to, name + strlen(from)) < 0)
                return NULL;
        return s;
}

static int read_text(const char *path, tb_buf *buf) {
        int r = tb_read_file(path, (size_t)64 << 10, buf);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        if ((r = tb_buf_append(buf, "", 1)) < 0)
                return r;
        return 0;
}

/* What an installed entry takes from the medium's besides title, sort-key and efi: what it
 * shows and how it is passed to the UKI, never what it boots. */
static const char *const copied_keys[] = { "version", "options", "machine-id", "architecture", "cmdline" };

static bool copied_key(const char *key) {
        for (size_t i = 0; i < ARRAY_SIZE(copied_keys); i++)
                if (strcmp(key, copied_keys[i]) == 0)
                        return true;
        return false;
}

static int conf_for(const char *conf, size_t len, const char *name, const char *efi_path, tb_buf *out) {
        _cleanup_(tb_loader_entry_donep) tb_loader_entry in = TB_LOADER_ENTRY_INIT, e = TB_LOADER_ENTRY_INIT;
        _cleanup_(freep) char *bt = NULL, *title = NULL;
        tb_role role = tb_role_from_entry(name);
        const char *t;
        int r;

        if ((r = tb_loader_entry_parse(conf, len, &in)) < 0)
                return r;
        t = tb_loader_entry_get(&in, "title") ?: "trustboot";
        if (!(bt = base_title(t)))
                return tb_log_oom();
        if (role == TB_ROLE_NONE)
                title = TAKE_PTR(bt);
        else if ((r = tb_role_title(role, bt, &title)) < 0)
                return r;
        if ((r = tb_loader_entry_add(&e, "title", title)) < 0 ||
            (r = tb_loader_entry_add(&e, "sort-key", tb_role_sort_key(name))) < 0 ||
            (r = tb_loader_entry_add(&e, "efi", efi_path)) < 0)
                return r;
        for (size_t i = 0; i < in.n; i++)
                if (copied_key(in.line[i].key) && (r = tb_loader_entry_add(&e, in.line[i].key, in.line[i].value)) < 0)
                        return r;
        return tb_loader_entry_format(&e, out);
}

int tb_bootentries_conf_for(const char *conf, size_t len, const char *name, const char *efi_path, tb_buf *out) {
        int r = conf_for(conf, len, name, efi_path, out);

        return r == -ENOMEM ? tb_log_oom() : r;
}

/* The efi path of entry E with its file name's prefix FROM replaced by TO. */
static int renamed_efi(const char *text, size_t len, const char *from, const char *to, char **ret) {
        _cleanup_(tb_loader_entry_donep) tb_loader_entry e = TB_LOADER_ENTRY_INIT;
        const char *efi, *slash, *base;
        int r;

        if ((r = tb_loader_entry_parse(text, len, &e)) < 0)
                return r == -ENOMEM ? tb_log_oom() : r;
        efi = tb_loader_entry_get(&e, "efi");
        if (!efi) {
                *ret = NULL;
                return 0;
        }
        slash = strrchr(efi, '/');
        base = slash ? slash + 1 : efi;
        if (!startswith(base, from))
                *ret = strdup(efi);
        else if (asprintf(ret, "%.*s%s%s", (int)(base - efi), efi, to, base + strlen(from)) < 0)
                *ret = NULL;
        return *ret ? 0 : tb_log_oom();
}

static int copy_entry(const char *src, const char *dst, const char *from, tb_role to) {
        _cleanup_(tb_buf_freep) tb_buf in = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(freep) char *efi = NULL, *name = NULL;
        const char *slash = strrchr(dst, '/');
        int r;

        if ((r = read_text(src, &in)) < 0)
                return r;
        if ((r = renamed_efi((const char *)in.data, in.len - 1, from, tb_role_to_string(to), &efi)) < 0)
                return r;
        if (!efi)
                return tb_fail(-EBADMSG, "%s: no efi line", src);
        name = strdup(slash ? slash + 1 : dst);
        if (!name)
                return tb_log_oom();
        r = tb_bootentries_conf_for((const char *)in.data, in.len - 1, name, efi, &out);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot rewrite", src);
        r = tb_write_file_atomic(dst, out.data, out.len, 0644, true);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", dst);
        return 0;
}

/* Calls FN for every regular, non-hidden file in ROOT/SUB (sorted, so results are stable). */
typedef int (*file_fn)(const char *dir, const char *name, void *userdata);

static int foreach_file(const char *root, const char *sub, file_fn fn, void *userdata) {
        _cleanup_(freep) char *dir = tb_path_join(root, sub);
        struct dirent **list = NULL;
        int n, r = 0;

        if (!dir)
                return tb_log_oom();
        n = scandir(dir, &list, NULL, alphasort);
        if (n < 0) {
                if (errno == ENOENT)
                        return 0;
                return tb_log_errno(negative_errno(), "%s: cannot list", dir);
        }
        for (int i = 0; i < n; i++) {
                if (r >= 0 && list[i]->d_name[0] != '.' &&
                    (list[i]->d_type == DT_REG || list[i]->d_type == DT_UNKNOWN))
                        r = fn(dir, list[i]->d_name, userdata);
                free(list[i]);
        }
        free(list);
        return r;
}

typedef struct copy_ctx {
        const char *from;
        tb_role to;
} copy_ctx;

static int copy_one(const char *dir, const char *name, void *userdata) {
        copy_ctx *c = userdata;
        _cleanup_(freep) char *plain = NULL, *newname = NULL, *src = NULL, *dst = NULL;

        if (!startswith(name, c->from))
                return 0;
        if (!(plain = strip_counter(name)) || !(newname = replace_prefix(plain, c->from, tb_role_to_string(c->to))) ||
            !(src = tb_path_join(dir, name)) || !(dst = tb_path_join(dir, newname)))
                return tb_log_oom();
        if (endswith(name, ".conf"))
                return copy_entry(src, dst, c->from, c->to);
        return tb_copy_file(src, dst, 0644, true);
}

int tb_bootentries_copy(const char *root, const char *from, tb_role to) {
        copy_ctx c = { from, to };
        int r;

        if (to < 0 || to >= _TB_ROLE_MAX)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
                if ((r = foreach_file(root, dirs[i], copy_one, &c)) < 0)
                        return r;
        return 0;
}

int tb_bootentries_fan_out(const char *root) {
        int r;
        for (int i = 0; i < _TB_ROLE_MAX; i++)
                if ((r = tb_bootentries_copy(root, TB_BOOT_NOROLE, (tb_role)i)) < 0)
                        return r;
        return 0;
}

static int remove_one(const char *dir, const char *name, void *userdata) {
        const char *prefix = ((const char **)userdata)[0];
        int *count = (int *)((const char **)userdata)[1];
        _cleanup_(freep) char *path = NULL;

        if (!startswith(name, prefix))
                return 0;
        if (!(path = tb_path_join(dir, name)))
                return tb_log_oom();
        if (unlink(path) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot remove", path);
        (*count)++;
        return 0;
}

int tb_bootentries_remove(const char *root, const char *prefix) {
        int count = 0, r;
        const char *ud[2] = { prefix, (const char *)&count };

        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
                if ((r = foreach_file(root, dirs[i], remove_one, ud)) < 0)
                        return r;
        return count;
}

static int finish_one(const char *dir, const char *name, void *userdata) {
        _cleanup_(tb_buf_freep) tb_buf in = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_loader_entry_donep) tb_loader_entry e = TB_LOADER_ENTRY_INIT;
        _cleanup_(freep) char *path = NULL, *newpath = NULL;
        int r;

        (void)userdata;
        if (!endswith(name, ".conf"))
                return 0;
        if (!(path = tb_path_join(dir, name)))
                return tb_log_oom();
        if ((r = read_text(path, &in)) < 0)
                return r;
        if ((r = tb_loader_entry_parse((const char *)in.data, in.len - 1, &e)) < 0 ||
            (r = tb_loader_entry_set(&e, "sort-key", tb_role_sort_key(name))) < 0 ||
            (r = tb_loader_entry_format(&e, &out)) < 0)
                return r == -ENOMEM ? tb_log_oom() : tb_log_errno(r, "%s: cannot rewrite", path);
        if (in.len - 1 != out.len || (out.len > 0 && memcmp(in.data, out.data, out.len) != 0)) {
                r = tb_write_file_atomic(path, out.data, out.len, 0644, true);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot write", path);
        }
        if (has_counter(name))
                return 0;
        if (asprintf(&newpath, "%s/%.*s+%d.conf", dir, (int)(strlen(name) - 5), name, TB_BOOT_TRIES) < 0)
                return tb_log_oom();
        if (rename(path, newpath) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot rename to %s", path, newpath);
        return tb_fsync_parent(newpath);
}

int tb_bootentries_finish_entries(const char *root) {
        return foreach_file(root, TB_BOOT_ENTRIES_DIR, finish_one, NULL);
}

typedef struct list_ctx {
        char **names;
        size_t n;
} list_ctx;

static int list_one(const char *dir, const char *name, void *userdata) {
        list_ctx *c = userdata;

        (void)dir;
        return tb_strv_push(&c->names, &c->n, name);
}

int tb_bootentries_list_ukis(const char *root, char ***ret) {
        list_ctx c = { NULL, 0 };
        int r = foreach_file(root, TB_BOOT_EFI_DIR, list_one, &c);

        if (r >= 0 && !c.names && !(c.names = calloc(1, sizeof(char *))))
                r = tb_log_oom();
        if (r < 0) {
                tb_strv_free(c.names);
                return r;
        }
        *ret = c.names;
        return 0;
}

typedef struct find_ctx {
        const char *role;
        char *found;
} find_ctx;

static int find_one(const char *dir, const char *name, void *userdata) {
        find_ctx *c = userdata;
        _cleanup_(freep) char *plain = strip_counter(name);

        (void)dir;
        if (!plain)
                return tb_log_oom();
        if (c->found || !endswith(plain, ".conf") || strlen(plain) != strlen(c->role) + 5 ||
            !startswith(plain, c->role))
                return 0;
        c->found = strdup(name);
        return c->found ? 0 : tb_log_oom();
}

int tb_bootentries_find(const char *root, tb_role role, char **ret) {
        find_ctx c = { tb_role_to_string(role), NULL };
        int r;

        if (!c.role)
                return -EINVAL;
        if ((r = foreach_file(root, TB_BOOT_ENTRIES_DIR, find_one, &c)) < 0) {
                free(c.found);
                return r;
        }
        if (!c.found)
                return -ENOENT;
        *ret = c.found;
        return 0;
}

/* ---- EFI variables ---- */

int tb_bootentries_select_oneshot(const char *root, const char *efivarfs, tb_role role) {
        _cleanup_(freep) char *name = NULL;
        int r = tb_bootentries_find(root, role, &name);
        if (r < 0)
                return tb_log_errno(r, "%s/%s: no %s entry", root, TB_BOOT_ENTRIES_DIR, tb_role_to_string(role));
        return tb_bootentry_select_next(efivarfs, root, name, NULL);
}
