#include "medium/esp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/loader-entry.h"
#include "util/fileio.h"
#include "util/log.h"

struct tb_esp {
        tb_esp_entry *entries;
        size_t n;
        bool sorted;
};

int tb_esp_new(tb_esp **ret) {
        tb_esp *esp = calloc(1, sizeof(*esp));

        if (!esp)
                return tb_log_oom();
        *ret = esp;
        return 0;
}

void tb_esp_free(tb_esp *esp) {
        for (size_t i = 0; i < esp->n; i++) {
                free(esp->entries[i].path);
                free(esp->entries[i].src_path);
                tb_buf_free(&esp->entries[i].data);
        }
        free(esp->entries);
        free(esp);
}

/* A relative path without empty, "." or ".." components. */
static int check_path(const char *path) {
        const char *p = path;

        if (!*path || *path == '/')
                return -EINVAL;
        while (*p) {
                size_t len = strcspn(p, "/");

                if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                p += len;
                if (*p == '/')
                        p++;
        }
        return path[strlen(path) - 1] == '/' ? -EINVAL : 0;
}

static tb_esp_entry *find(tb_esp *esp, const char *path) {
        for (size_t i = 0; i < esp->n; i++)
                if (strcmp(esp->entries[i].path, path) == 0)
                        return &esp->entries[i];
        return NULL;
}

static int append(tb_esp *esp, const char *path, bool is_dir, tb_esp_entry **ret) {
        tb_esp_entry *e;
        int r;

        r = check_path(path);
        if (r < 0)
                return r;
        e = find(esp, path);
        if (e) {
                if (is_dir && e->is_dir) {
                        *ret = e;
                        return 0;
                }
                return -EEXIST;
        }
        /* Parents first, so that every writer finds them. */
        {
                _cleanup_(freep) char *parent = strdup(path);
                char *slash;

                if (!parent)
                        return tb_log_oom();
                slash = strrchr(parent, '/');
                if (slash) {
                        tb_esp_entry *pe;

                        *slash = '\0';
                        r = append(esp, parent, true, &pe);
                        if (r < 0)
                                return r == -EEXIST ? -ENOTDIR : r;
                }
        }
        e = realloc(esp->entries, (esp->n + 1) * sizeof(*e));
        if (!e)
                return tb_log_oom();
        esp->entries = e;
        e = &esp->entries[esp->n];
        *e = (tb_esp_entry){ .path = strdup(path), .is_dir = is_dir };
        if (!e->path)
                return tb_log_oom();
        esp->n++;
        esp->sorted = false;
        *ret = e;
        return 0;
}

int tb_esp_add_dir(tb_esp *esp, const char *path) {
        tb_esp_entry *e;

        return append(esp, path, true, &e);
}

int tb_esp_add_file(tb_esp *esp, const char *path, const char *src_path) {
        tb_esp_entry *e;
        int r;

        r = append(esp, path, false, &e);
        if (r < 0)
                return r;
        e->src_path = strdup(src_path);
        return e->src_path ? 0 : tb_log_oom();
}

int tb_esp_add_data(tb_esp *esp, const char *path, const void *data, size_t len) {
        tb_esp_entry *e;
        int r;

        r = append(esp, path, false, &e);
        if (r < 0)
                return r;
        return tb_buf_append(&e->data, data, len);
}

int tb_esp_add_producer(tb_esp *esp, const char *path, uint64_t size, tb_esp_write_fn fn, void *userdata) {
        tb_esp_entry *e;
        int r;

        r = append(esp, path, false, &e);
        if (r < 0)
                return r;
        e->write = fn;
        e->write_userdata = userdata;
        e->size = size;
        return 0;
}

int tb_esp_add_producer_in(tb_esp *esp, const char *path, uint64_t size, tb_esp_write_fn fn, void *userdata,
                           const char *prepared_path) {
        tb_esp_entry *e;
        int r;

        r = tb_esp_add_producer(esp, path, size, fn, userdata);
        if (r < 0)
                return r;
        e = find(esp, path);
        e->src_path = strdup(prepared_path);
        return e->src_path ? 0 : tb_log_oom();
}

static int cmp_entries(const void *a, const void *b) {
        return strcmp(((const tb_esp_entry *)a)->path, ((const tb_esp_entry *)b)->path);
}

size_t tb_esp_count(const tb_esp *esp) {
        return esp->n;
}

const tb_esp_entry *tb_esp_get(const tb_esp *esp, size_t i) {
        if (!esp->sorted) {
                /* Sorting is not a semantic change: a lazily sorted view keeps add_* cheap. */
                tb_esp *mut = (tb_esp *)esp;

                if (mut->n > 1)
                        qsort(mut->entries, mut->n, sizeof(*mut->entries), cmp_entries);
                mut->sorted = true;
        }
        return i < esp->n ? &esp->entries[i] : NULL;
}

int tb_esp_entry_size(const tb_esp_entry *e, uint64_t *ret) {
        struct stat st;

        if (e->is_dir) {
                *ret = 0;
                return 0;
        }
        if (e->write) {
                *ret = e->size;
                return 0;
        }
        if (!e->src_path) {
                *ret = e->data.len;
                return 0;
        }
        if (stat(e->src_path, &st) < 0)
                return negative_errno();
        *ret = (uint64_t)st.st_size;
        return 0;
}

static int produce_file(const tb_esp_entry *e, const char *dst) {
        _cleanup_(closep) int out = -1;
        int r;

        /* A prepared file (part of the bytes already in place) becomes the entry; the producer
         * writes the rest into it. Same file system: the work directory is in the output's. */
        if (e->src_path && rename(e->src_path, dst) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot move into place", dst);
        out = open(dst, e->src_path ? O_RDWR | O_CLOEXEC : O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (out < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", dst);
        r = e->write(out, 0, e->write_userdata);
        if (r < 0)
                return r;
        if (fsync(out) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot write", dst);
        return 0;
}

int tb_esp_write_tree(const tb_esp *esp, const char *dir) {
        _cleanup_(tb_stage_abortp) tb_stage stage = TB_STAGE_INIT;
        int r;

        const char *top[64];
        size_t n_top = 0;

        r = tb_stage_begin(dir, 0755, &stage);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", dir);
        for (size_t i = 0; i < tb_esp_count(esp); i++) {
                const tb_esp_entry *e = tb_esp_get(esp, i);
                _cleanup_(freep) char *p = tb_path_join(stage.dir, e->path);

                if (!p)
                        return tb_log_oom();
                if (!strchr(e->path, '/')) {
                        if (n_top >= ARRAY_SIZE(top))
                                return -E2BIG;
                        top[n_top++] = e->path;
                }
                if (e->is_dir)
                        r = mkdir(p, 0755) < 0 ? tb_log_errno(negative_errno(), "%s: cannot create", p) : 0;
                else if (e->write)
                        r = produce_file(e, p);
                else if (e->src_path)
                        r = tb_copy_file(e->src_path, p, 0644, false);
                else {
                        r = tb_write_file_new(p, e->data.data, e->data.len, 0644);
                        if (r < 0)
                                tb_log_errno(r, "%s: cannot write", p);
                }
                if (r < 0)
                        return r;
        }
        /* Into a new directory as a whole; into an existing one top-level entry by top-level
         * entry, refusing to replace anything that is there. */
        r = tb_stage_commit(&stage, top, n_top, false);
        if (r == -EEXIST)
                return tb_log_errno(r, "%s: already holds an ESP tree (EFI/ or loader/)", dir);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot move into place", dir);
        return 0;
}

/* ---- configuration ---- */

static const char *const enroll_names[] = {
        [TB_ENROLL_OFF] = "off",
        [TB_ENROLL_MANUAL] = "manual",
        [TB_ENROLL_IF_SAFE] = "if-safe",
        [TB_ENROLL_FORCE] = "force",
};

int tb_enroll_from_string(const char *s, tb_enroll *ret) {
        for (size_t i = 0; i < ARRAY_SIZE(enroll_names); i++)
                if (strcmp(s, enroll_names[i]) == 0) {
                        *ret = (tb_enroll)i;
                        return 0;
                }
        return -EINVAL;
}

const char *tb_enroll_to_string(tb_enroll e) {
        return (size_t)e < ARRAY_SIZE(enroll_names) ? enroll_names[e] : NULL;
}

static int append_kv(tb_buf *out, const char *key, const char *value) {
        int r;

        if (strchr(value, '\n'))
                return -EINVAL;
        if ((r = tb_buf_append_str(out, key)) < 0 || (r = tb_buf_append_str(out, " ")) < 0 || (r = tb_buf_append_str(out, value)) < 0)
                return r;
        return tb_buf_append_str(out, "\n");
}

int tb_esp_loader_conf(tb_enroll enroll, tb_buf *out) {
        int r;

        if ((r = append_kv(out, "timeout", "5")) < 0 || (r = append_kv(out, "console-mode", "max")) < 0 ||
            (r = append_kv(out, "editor", "no")) < 0)
                return r;
        return append_kv(out, "secure-boot-enroll", tb_enroll_to_string(enroll));
}

int tb_esp_entry_conf(const tb_esp_boot_entry *e, tb_buf *out) {
        _cleanup_(tb_loader_entry_donep) tb_loader_entry le = TB_LOADER_ENTRY_INIT;
        const struct {
                const char *key, *value;
        } kv[] = { { "title", e->title }, { "sort-key", e->sort_key }, { "efi", e->efi },
                   { "options", e->options }, { "version", e->version }, { "cmdline", e->cmdline } };
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(kv); i++)
                if (kv[i].value && (r = tb_loader_entry_add(&le, kv[i].key, kv[i].value)) < 0)
                        return r;
        return tb_loader_entry_format(&le, out);
}