/* loader-entry.c — Type #1 entries and boot counters (see loader-entry.h). */
#include "boot/loader-entry.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

static int append_line(tb_loader_entry *e, const char *k, size_t kl, const char *v, size_t vl) {
        tb_loader_entry_line *l = realloc(e->line, (e->n + 1) * sizeof(*l));

        if (!l)
                return -ENOMEM;
        e->line = l;
        l[e->n].key = strndup(k, kl);
        l[e->n].value = strndup(v, vl);
        if (!l[e->n].key || !l[e->n].value) {
                free(l[e->n].key);
                free(l[e->n].value);
                return -ENOMEM;
        }
        e->n++;
        return 0;
}

int tb_loader_entry_parse(const char *text, size_t len, tb_loader_entry *ret) {
        _cleanup_(tb_loader_entry_donep) tb_loader_entry e = TB_LOADER_ENTRY_INIT;
        const char *p = text, *end = text + len;
        int r;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *k = p, *v, *vs, *ve;

                p = nl ? nl + 1 : end;
                while (k < le && is_blank(*k))
                        k++;
                if (k == le || *k == '#')
                        continue;
                v = k;
                while (v < le && !is_blank(*v))
                        v++;
                ve = le;
                while (ve > v && is_blank(ve[-1]))
                        ve--;
                vs = v;
                while (vs < ve && is_blank(*vs))
                        vs++;
                r = append_line(&e, k, (size_t)(v - k), vs, ve > vs ? (size_t)(ve - vs) : 0);
                if (r < 0)
                        return r;
        }
        *ret = e;
        e = TB_LOADER_ENTRY_INIT;
        return 0;
}

static tb_loader_entry_line *find(const tb_loader_entry *e, const char *key) {
        bool efi = strcmp(key, "efi") == 0;

        for (size_t i = 0; i < e->n; i++)
                if (strcmp(e->line[i].key, key) == 0 || (efi && strcmp(e->line[i].key, "uki") == 0))
                        return &e->line[i];
        return NULL;
}

const char *tb_loader_entry_get(const tb_loader_entry *e, const char *key) {
        const tb_loader_entry_line *l = find(e, key);

        return l ? l->value : NULL;
}

/* A profile number as systemd parses it: decimal digits, at most UINT_MAX; -1 otherwise. */
static int profile_number(const char *s, const char **ret_end) {
        long long v = 0;
        const char *p = s;

        while (*p >= '0' && *p <= '9' && v <= 4294967295LL)
                v = v * 10 + (*p++ - '0');
        if (p == s || v > 4294967295LL || v > INT_MAX)
                return -1;
        *ret_end = p;
        return (int)v;
}

int tb_loader_entry_profile(const tb_loader_entry *e) {
        const char *v = tb_loader_entry_get(e, "profile"), *end;
        int n;

        if (v) {
                n = profile_number(v, &end);
                return n >= 0 && *end == '\0' ? n : -1;
        }
        /* the stub's rule: "@N" followed by one space or the end */
        v = tb_loader_entry_get(e, "options");
        if (!v || v[0] != '@')
                return -1;
        n = profile_number(v + 1, &end);
        return n >= 0 && (*end == ' ' || *end == '\0') ? n : -1;
}

int tb_loader_entry_set(tb_loader_entry *e, const char *key, const char *value) {
        tb_loader_entry_line *l;
        char *v;

        if (strchr(value, '\n'))
                return -EINVAL;
        l = find(e, key);
        if (!l)
                return append_line(e, key, strlen(key), value, strlen(value));
        v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(l->value);
        l->value = v;
        return 0;
}

int tb_loader_entry_add(tb_loader_entry *e, const char *key, const char *value) {
        if (strchr(value, '\n') || strchr(key, '\n'))
                return -EINVAL;
        return append_line(e, key, strlen(key), value, strlen(value));
}

int tb_loader_entry_format(const tb_loader_entry *e, tb_buf *out) {
        int r;

        for (size_t i = 0; i < e->n; i++) {
                const tb_loader_entry_line *l = &e->line[i];

                if (strchr(l->value, '\n') || strchr(l->key, '\n'))
                        return -EINVAL;
                if ((r = tb_buf_append(out, l->key, strlen(l->key))) < 0 || (r = tb_buf_append(out, " ", 1)) < 0 ||
                    (r = tb_buf_append(out, l->value, strlen(l->value))) < 0 || (r = tb_buf_append(out, "\n", 1)) < 0)
                        return r;
        }
        return 0;
}

void tb_loader_entry_done(tb_loader_entry *e) {
        for (size_t i = 0; i < e->n; i++) {
                free(e->line[i].key);
                free(e->line[i].value);
        }
        free(e->line);
        *e = TB_LOADER_ENTRY_INIT;
}

static bool all_digits(const char *p, size_t n) {
        if (n == 0 || n > 9)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)p[i]))
                        return false;
        return true;
}

int tb_loader_entry_parse_name(const char *file, char **ret_base, int *ret_left, int *ret_done) {
        size_t len = strlen(file), stem;
        const char *plus;
        int left = TB_LOADER_ENTRY_COUNTER_NONE, done = TB_LOADER_ENTRY_COUNTER_NONE;

        if (len <= 5 || strcasecmp(file + len - 5, ".conf") != 0)
                return -EINVAL;
        stem = len - 5;
        plus = memrchr(file, '+', stem);
        if (plus) {
                const char *num = plus + 1, *end = file + stem, *dash = memchr(num, '-', (size_t)(end - num));
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
