/* bootentry.c — installed Type #1 entries and their boot counters (see bootentry.h). */
#include "node/bootentry.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boot/loader-entry.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strset.h"

#define CONF_MAX ((size_t)64 << 10)

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

/* The keys `bootentry --list` shows; the first occurrence wins, as in systemd-boot. */
static int conf_parse(tb_bootentry *e, const char *text, size_t len) {
        _cleanup_(tb_loader_entry_donep) tb_loader_entry le = TB_LOADER_ENTRY_INIT;
        struct {
                const char *key;
                char **slot;
        } keys[] = { { "title", &e->title }, { "efi", &e->efi }, { "sort-key", &e->sort_key }, { "version", &e->version } };
        int r;

        r = tb_loader_entry_parse(text, len, &le);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                const char *v = tb_loader_entry_get(&le, keys[i].key);

                if (v && !(*keys[i].slot = strdup(v)))
                        return tb_log_oom();
        }
        e->profile = tb_loader_entry_profile(&le);
        return 0;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const tb_bootentry *)a)->file, ((const tb_bootentry *)b)->file);
}

int tb_bootentry_list_load(const char *esp, tb_bootentry_list *ret) {
        _cleanup_(freep) char *dir = tb_path_join(esp, TB_LOADER_ENTRIES_DIR);
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (!dir)
                return tb_log_oom();
        d = opendir(dir);
        if (!d)
                return tb_log_errno(negative_errno(), "%s: cannot open", dir);
        while ((de = readdir(d))) {
                _cleanup_(tb_buf_freep) tb_buf text = TB_BUF_INIT;
                _cleanup_(freep) char *path = NULL;
                tb_bootentry e = { .profile = -1 }, *n;

                /* Hidden files are our temporary names (and systemd-boot's own rule). */
                if (de->d_name[0] == '.' || tb_loader_entry_parse_name(de->d_name, NULL, NULL, NULL) < 0)
                        continue;
                path = tb_path_join(dir, de->d_name);
                if (!path) {
                        r = tb_log_oom();
                        break;
                }
                r = tb_read_file(path, CONF_MAX, &text);
                if (r < 0) {
                        tb_log_errno(r, "%s: cannot read", path);
                        break;
                }
                e.file = strdup(de->d_name);
                /* The name was checked above: only an allocation can fail. */
                r = e.file && tb_loader_entry_parse_name(e.file, &e.base, &e.left, &e.done) >= 0 ? 0 : tb_log_oom();
                if (r >= 0 && (r = conf_parse(&e, (const char *)text.data, text.len)) < 0)
                        tb_log_errno(r, "%s: cannot parse", path);
                n = r >= 0 ? realloc(l.e, (l.n + 1) * sizeof(*n)) : NULL;
                if (!n) {
                        entry_done(&e);
                        r = r < 0 ? r : tb_log_oom();
                        break;
                }
                e.state = e.left == TB_LOADER_ENTRY_COUNTER_NONE ? TB_BOOTENTRY_GOOD
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

/* "active@1": profile 1 of the entries of "active" (its own, "active", or one named
 * "active-…", as the medium's per-profile entries are fanned out). */
static const tb_bootentry *find_profile(const tb_bootentry_list *l, const char *name) {
        const char *at = strrchr(name, '@');
        char *end;
        size_t len;
        long n;

        if (!at || at[1] < '0' || at[1] > '9')
                return NULL;
        n = strtol(at + 1, &end, 10);
        if (*end || n > INT_MAX)
                return NULL;
        len = (size_t)(at - name);
        for (size_t i = 0; i < l->n; i++) {
                const tb_bootentry *e = &l->e[i];
                int profile = e->profile < 0 ? 0 : e->profile;

                if (profile == n && strncmp(e->base, name, len) == 0 && (e->base[len] == 0 || e->base[len] == '-'))
                        return e;
        }
        return NULL;
}

const tb_bootentry *tb_bootentry_list_find(const tb_bootentry_list *l, const char *name) {
        _cleanup_(freep) char *aliased = NULL;

        if (strcmp(name, "cos") == 0 || strncmp(name, "cos@", 4) == 0) {
                if (asprintf(&aliased, "active%s", name + 3) < 0)
                        return NULL;
                name = aliased;
        } else if (strcmp(name, "fallback") == 0 || strncmp(name, "fallback@", 9) == 0) {
                if (asprintf(&aliased, "passive%s", name + 8) < 0)
                        return NULL;
                name = aliased;
        }
        if (strchr(name, '@'))
                return find_profile(l, name);
        for (size_t i = 0; i < l->n; i++)
                if (strcasecmp(l->e[i].file, name) == 0)
                        return &l->e[i];
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->e[i].base, name) == 0)
                        return &l->e[i];
        return NULL;
}

bool tb_bootentry_is_selected(const tb_bootentry *e, const char *selected) {
        _cleanup_(freep) char *base = NULL;

        if (!selected)
                return false;
        if (strcasecmp(selected, e->file) == 0)
                return true;
        return tb_loader_entry_parse_name(selected, &base, NULL, NULL) == 0 && strcasecmp(base, e->base) == 0;
}

const tb_bootentry *tb_bootentry_list_find_selected(const tb_bootentry_list *l, const char *selected) {
        for (size_t i = 0; i < l->n; i++)
                if (tb_bootentry_is_selected(&l->e[i], selected))
                        return &l->e[i];
        return NULL;
}

bool tb_bootentry_is_oneshot(const tb_bootentry *e, const char *oneshot) {
        if (!oneshot)
                return false;
        if (strcasecmp(oneshot, e->file) == 0)
                return true;
        return e->left != TB_LOADER_ENTRY_COUNTER_NONE && strncasecmp(oneshot, e->base, strlen(e->base)) == 0 &&
               strcasecmp(oneshot + strlen(e->base), ".conf") == 0;
}

/* ---- the id systemd-boot gives an entry ---- */

/* The first systemd-boot known to drop the counter from entry ids (bootentry.h). */
#define STRIPPING_MAJOR 257
#define STRIPPING_MINOR 13

/* "systemd-boot 257.13-1~deb13u1" → 257, 13; false if it does not name a systemd-boot version. */
static bool loader_version(const char *info, unsigned long *major, unsigned long *minor) {
        static const char prefix[] = "systemd-boot ";
        const char *p;
        char *end;

        if (!info || strncmp(info, prefix, strlen(prefix)) != 0)
                return false;
        p = info + strlen(prefix);
        if (*p < '0' || *p > '9')
                return false;
        *major = strtoul(p, &end, 10);
        *minor = 0;
        if (*end == '.' && end[1] >= '0' && end[1] <= '9')
                *minor = strtoul(end + 1, NULL, 10);
        return true;
}

static const char *published_find(char *const *published, const char *id) {
        for (char *const *p = published; p && *p; p++)
                if (strcasecmp(*p, id) == 0)
                        return *p;
        return NULL;
}

static bool published_has_counter(char *const *published) {
        for (char *const *p = published; p && *p; p++) {
                int left;
                if (tb_loader_entry_parse_name(*p, NULL, &left, NULL) == 0 && left != TB_LOADER_ENTRY_COUNTER_NONE)
                        return true;
        }
        return false;
}

/* "active+2-1.conf" → "active.conf"; NULL (in *RET) for a name without counter. */
static int counterless(const char *file, char **ret) {
        _cleanup_(freep) char *base = NULL;
        int left, r;

        *ret = NULL;
        r = tb_loader_entry_parse_name(file, &base, &left, NULL);
        if (r < 0 || left == TB_LOADER_ENTRY_COUNTER_NONE)
                return r;
        return asprintf(ret, "%s.conf", base) < 0 ? -ENOMEM : 0;
}

static bool listed(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (strcasecmp(*l, s) == 0)
                        return true;
        return false;
}

/* Step 3: a counted file on the ESP other than FILE whose counter-less form was published. */
static int published_strips(const char *file, char *const *esp_files, char *const *published, bool *ret) {
        *ret = false;
        for (char *const *g = esp_files; g && *g && !*ret; g++) {
                _cleanup_(freep) char *plain = NULL;
                int r;

                if (strcasecmp(*g, file) == 0)
                        continue;
                r = counterless(*g, &plain);
                if (r == -ENOMEM)
                        return r;
                *ret = plain && !listed(esp_files, plain) && published_find(published, plain);
        }
        return 0;
}

int tb_bootentry_loader_id(const char *file, char *const *esp_files, char *const *published, const char *loader_info,
                           char **ret) {
        _cleanup_(freep) char *stripped = NULL;
        unsigned long major, minor;
        const char *found;
        bool strip;
        int r;

        r = counterless(file, &stripped);
        if (r < 0)
                return r;
        if (!stripped || published_find(published, file) || published_has_counter(published))
                return (*ret = strdup(file)) ? 0 : -ENOMEM;
        r = published_strips(file, esp_files, published, &strip);
        if (r < 0)
                return r;
        if (!strip && loader_version(loader_info, &major, &minor))
                strip = major > STRIPPING_MAJOR || (major == STRIPPING_MAJOR && minor >= STRIPPING_MINOR);
        else if (!strip)
                strip = published_find(published, stripped);
        if (!strip)
                return (*ret = strdup(file)) ? 0 : -ENOMEM;
        /* The loader's own spelling where it published one (it lowercases ids). */
        found = published_find(published, stripped);
        *ret = strdup(found ?: stripped);
        return *ret ? 0 : -ENOMEM;
}

int tb_bootentry_oneshot_id(const char *efivars, const char *esp, const char *file, char **ret) {
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        _cleanup_(tb_strv_freep) char **published = NULL;
        _cleanup_(freep) char **files = NULL;
        _cleanup_(freep) char *info = NULL;
        int r;

        /* Absent (not booted by systemd-boot) or unreadable: unknown, the rule's next step decides. */
        if (tb_efivar_read_string_list(efivars, TB_LOADER_ENTRIES, &TB_GUID_LOADER, &published) < 0)
                published = NULL;
        if (tb_efivar_read_string(efivars, TB_LOADER_INFO, &TB_GUID_LOADER, &info) < 0)
                info = NULL;
        r = tb_bootentry_list_load(esp, &l);
        if (r < 0)
                return r;
        files = calloc(l.n + 1, sizeof(char *));
        if (!files)
                return tb_log_oom();
        for (size_t i = 0; i < l.n; i++)
                files[i] = l.e[i].file;
        r = tb_bootentry_loader_id(file, files, published, info, ret);
        if (r == -ENOMEM)
                return tb_log_oom();
        if (r < 0)
                return tb_log_errno(r, "%s: not a boot entry file name", file);
        return 0;
}

int tb_bootentry_select_next(const char *efivars, const char *esp, const char *file, char **ret_id) {
        _cleanup_(freep) char *id = NULL;
        int r;

        r = tb_bootentry_oneshot_id(efivars, esp, file, &id);
        if (r < 0)
                return r;
        r = tb_efivar_write_string(efivars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, id);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = TAKE_PTR(id);
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
        r = tb_loader_entry_parse_name(name, &base, &left, &done);
        if (r < 0)
                return r;
        if (left == TB_LOADER_ENTRY_COUNTER_NONE)
                return 0;
        from = strdup(name);
        r = good ? asprintf(&to, "%s.conf", base) : asprintf(&to, "%s+0-%d.conf", base, done);
        if (!from || r < 0)
                return tb_log_oom();
        *ret_from = TAKE_PTR(from);
        *ret_to = TAKE_PTR(to);
        return 0;
}

int tb_bootentry_mark(const char *esp, const char *efivars, bool good, char **ret_from, char **ret_to) {
        _cleanup_(freep) char *count_path = NULL, *from = NULL, *to = NULL, *from_path = NULL, *to_path = NULL;
        int r;

        *ret_from = *ret_to = NULL;
        r = tb_efivar_read_string(efivars, TB_LOADER_BOOT_COUNT_PATH, &TB_GUID_LOADER, &count_path);
        if (r == -ENOENT)
                return 0; /* systemd-boot did not count this boot */
        if (r < 0)
                return tb_log_errno(r, "LoaderBootCountPath: cannot read");
        r = tb_bootentry_marked_name(count_path, good, &from, &to);
        if (r == -EINVAL)
                return tb_log_errno(r, "LoaderBootCountPath: \"%s\" is not an entry in \\loader\\entries\\", count_path);
        if (r < 0 || !from)
                return r;
        if (asprintf(&from_path, "%s/%s/%s", esp, TB_LOADER_ENTRIES_DIR, from) < 0 ||
            asprintf(&to_path, "%s/%s/%s", esp, TB_LOADER_ENTRIES_DIR, to) < 0)
                return tb_log_oom();
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
