/* bootentry.c — installed Type #1 entries and their boot counters (see bootentry.h). */
#include "node/bootentry.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "node/bootentries.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/log.h"

#define CONF_MAX ((size_t)64 << 10)

static bool all_digits(const char *p, size_t n) {
        if (n == 0 || n > 9)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)p[i]))
                        return false;
        return true;
}

int tb_bootentry_parse_name(const char *file, char **ret_base, int *ret_left, int *ret_done) {
        size_t len = strlen(file), stem;
        const char *plus, *dash;
        int left = TB_BOOTENTRY_COUNTER_NONE, done = TB_BOOTENTRY_COUNTER_NONE;

        if (len <= 5 || strcasecmp(file + len - 5, ".conf") != 0)
                return -EINVAL;
        stem = len - 5;
        plus = memrchr(file, '+', stem);
        if (plus) {
                const char *num = plus + 1, *end = file + stem;
                dash = memchr(num, '-', (size_t)(end - num));
                size_t nl = (size_t)((dash ? dash : end) - num);
                if (all_digits(num, nl) && (!dash || all_digits(dash + 1, (size_t)(end - dash - 1)))) {
                        left = atoi(num);
                        done = dash ? atoi(dash + 1) : 0;
                        stem = (size_t)(plus - file);
                }
        }
        if (ret_base) {
                *ret_base = strndup(file, stem);
                if (!*ret_base)
                        return -ENOMEM;
        }
        if (ret_left)
                *ret_left = left;
        if (ret_done)
                *ret_done = done;
        return 0;
}

const char *tb_bootentry_state_to_string(tb_bootentry_state s) {
        switch (s) {
        case TB_BOOTENTRY_GOOD:
                return "good";
        case TB_BOOTENTRY_INDETERMINATE:
                return "indeterminate";
        case TB_BOOTENTRY_BAD:
                return "bad";
        }
        return "?";
}

static void entry_done(tb_bootentry *e) {
        free(e->file);
        free(e->base);
        free(e->title);
        free(e->efi);
        free(e->sort_key);
        free(e->version);
}

void tb_bootentry_list_done(tb_bootentry_list *l) {
        for (size_t i = 0; i < l->n; i++)
                entry_done(&l->e[i]);
        free(l->e);
        l->e = NULL;
        l->n = 0;
}

/* "key value" lines; the first occurrence of a key wins, as in systemd-boot for single keys. */
static int conf_parse(tb_bootentry *e, const char *text, size_t len) {
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *k = p, *v;
                char **slot = NULL;
                p = nl ? nl + 1 : end;
                while (k < le && (*k == ' ' || *k == '\t'))
                        k++;
                if (k == le || *k == '#')
                        continue;
                v = k;
                while (v < le && *v != ' ' && *v != '\t')
                        v++;
                size_t kl = (size_t)(v - k);
                if (kl == 5 && memcmp(k, "title", 5) == 0)
                        slot = &e->title;
                else if (kl == 3 && (memcmp(k, "efi", 3) == 0 || memcmp(k, "uki", 3) == 0)) /* uki: sd-boot 259 */
                        slot = &e->efi;
                else if (kl == 8 && memcmp(k, "sort-key", 8) == 0)
                        slot = &e->sort_key;
                else if (kl == 7 && memcmp(k, "version", 7) == 0)
                        slot = &e->version;
                if (!slot || *slot)
                        continue;
                while (v < le && (*v == ' ' || *v == '\t'))
                        v++;
                const char *ve = le;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
                        ve--;
                *slot = strndup(v, (size_t)(ve - v));
                if (!*slot)
                        return -ENOMEM;
        }
        return 0;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const tb_bootentry *)a)->file, ((const tb_bootentry *)b)->file);
}

int tb_bootentry_list_load(const char *esp, tb_bootentry_list *ret) {
        _cleanup_(freep) char *dir = tb_path_join(esp, TB_BOOT_ENTRIES_DIR);
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return tb_log_errno(negative_errno(), "%s: cannot open", dir);
        while ((de = readdir(d))) {
                _cleanup_(tb_buf_freep) tb_buf text = TB_BUF_INIT;
                _cleanup_(freep) char *path = NULL;
                tb_bootentry e = { 0 }, *n;

                /* Hidden files are our temporary names (and systemd-boot's own rule). */
                if (de->d_name[0] == '.' || tb_bootentry_parse_name(de->d_name, NULL, NULL, NULL) < 0)
                        continue;
                path = tb_path_join(dir, de->d_name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                r = tb_read_file(path, CONF_MAX, &text);
                if (r < 0) {
                        tb_log_errno(r, "%s: cannot read", path);
                        break;
                }
                e.file = strdup(de->d_name);
                r = e.file ? tb_bootentry_parse_name(e.file, &e.base, &e.left, &e.done) : -ENOMEM;
                if (r >= 0)
                        r = conf_parse(&e, (const char *)text.data, text.len);
                n = r >= 0 ? realloc(l.e, (l.n + 1) * sizeof(*n)) : NULL;
                if (!n) {
                        entry_done(&e);
                        r = r < 0 ? r : -ENOMEM;
                        break;
                }
                e.state = e.left == TB_BOOTENTRY_COUNTER_NONE ? TB_BOOTENTRY_GOOD
                          : e.left == 0                       ? TB_BOOTENTRY_BAD
                                                              : TB_BOOTENTRY_INDETERMINATE;
                l.e = n;
                l.e[l.n++] = e;
        }
        closedir(d);
        if (r < 0)
                return r;
        if (l.n > 1)
                qsort(l.e, l.n, sizeof(*l.e), cmp_entry);
        *ret = l;
        l.e = NULL;
        l.n = 0;
        return 0;
}

const tb_bootentry *tb_bootentry_list_find(const tb_bootentry_list *l, const char *name) {
        if (strcmp(name, "cos") == 0)
                name = "active";
        else if (strcmp(name, "fallback") == 0)
                name = "passive";
        for (size_t i = 0; i < l->n; i++)
                if (strcasecmp(l->e[i].file, name) == 0)
                        return &l->e[i];
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->e[i].base, name) == 0)
                        return &l->e[i];
        return NULL;
}

int tb_bootentry_conf_for(const char *conf, size_t len, const char *name, const char *efi_path, tb_buf *out) {
        _cleanup_(freep) char *title = NULL, *new_title = NULL;
        tb_bootentry e = { 0 };
        const char *p = conf, *end = conf + len;
        int r;

        r = conf_parse(&e, conf, len);
        if (r < 0) {
                entry_done(&e);
                return r;
        }
        title = e.title ? strdup(e.title) : strdup("trustboot");
        entry_done(&e);
        if (!title)
                return -ENOMEM;
        if (tb_role_from_entry(name) == TB_ROLE_NONE)
                new_title = TAKE_PTR(title);
        else {
                r = tb_role_title(tb_role_from_entry(name), title, &new_title);
                if (r < 0)
                        return r;
        }

#define PUT(s) tb_buf_append(out, (s), strlen(s))
        if (PUT("title ") < 0 || PUT(new_title) < 0 || PUT("\nsort-key ") < 0 ||
            PUT(tb_role_sort_key(name)) < 0 || PUT("\nefi ") < 0 || PUT(efi_path) < 0 || PUT("\n") < 0)
                return -ENOMEM;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *k = p;
                size_t kl;
                p = nl ? nl + 1 : end;
                while (k < le && (*k == ' ' || *k == '\t'))
                        k++;
                kl = 0;
                while (k + kl < le && k[kl] != ' ' && k[kl] != '\t')
                        kl++;
                if (k == le || (kl == 5 && memcmp(k, "title", 5) == 0) || (kl == 8 && memcmp(k, "sort-key", 8) == 0) ||
                    (kl == 3 && (memcmp(k, "efi", 3) == 0 || memcmp(k, "uki", 3) == 0)))
                        continue;
                if (tb_buf_append(out, k, (size_t)(le - k)) < 0 || PUT("\n") < 0)
                        return -ENOMEM;
        }
#undef PUT
        return 0;
}

/* ---- blessing: systemd-bless-boot's rename (formats.md §8.4) ---- */

int tb_bootentry_marked_name(const char *count_path, bool good, char **ret_from, char **ret_to) {
        static const char dir[] = "\\loader\\entries\\";
        _cleanup_(freep) char *base = NULL, *from = NULL, *to = NULL;
        const char *name;
        int left, done, r;

        *ret_from = *ret_to = NULL;
        /* systemd-boot writes the path as it opened the file; FAT compares case-insensitively. */
        if (strncasecmp(count_path, dir, strlen(dir)) != 0)
                return -EINVAL;
        name = count_path + strlen(dir);
        if (!*name || name[0] == '.' || strpbrk(name, "\\/"))
                return -EINVAL;
        r = tb_bootentry_parse_name(name, &base, &left, &done);
        if (r < 0)
                return r;
        if (left == TB_BOOTENTRY_COUNTER_NONE)
                return 0;
        from = strdup(name);
        r = good ? asprintf(&to, "%s.conf", base) : asprintf(&to, "%s+0-%d.conf", base, done);
        if (!from || r < 0)
                return -ENOMEM;
        *ret_from = TAKE_PTR(from);
        *ret_to = TAKE_PTR(to);
        return 0;
}

int tb_bootentry_mark(const char *esp, const char *efivars, bool good, char **ret_from, char **ret_to) {
        _cleanup_(freep) char *count_path = NULL, *from = NULL, *to = NULL, *from_path = NULL, *to_path = NULL;
        int r;

        *ret_from = *ret_to = NULL;
        r = tb_efivar_read_string(efivars, "LoaderBootCountPath", &TB_GUID_LOADER, &count_path);
        if (r == -ENOENT)
                return 0; /* systemd-boot did not count this boot */
        if (r < 0)
                return tb_log_errno(r, "LoaderBootCountPath: cannot read");
        r = tb_bootentry_marked_name(count_path, good, &from, &to);
        if (r == -EINVAL)
                return tb_log_errno(r, "LoaderBootCountPath: \"%s\" is not an entry in \\loader\\entries\\", count_path);
        if (r < 0 || !from)
                return r;
        if (asprintf(&from_path, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, from) < 0 ||
            asprintf(&to_path, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, to) < 0)
                return -ENOMEM;
        if (rename(from_path, to_path) < 0) {
                r = negative_errno();
                if (r == -ENOENT && tb_path_exists(to_path))
                        goto done; /* marked already, by an earlier call */
                return tb_log_errno(r, "%s: cannot rename to %s", from_path, to);
        }
        r = tb_fsync_parent(to_path);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot sync", to_path);
done:
        *ret_from = TAKE_PTR(from);
        *ret_to = TAKE_PTR(to);
        return 0;
}
