#include "util/strset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tb_strset {
        char **slots;
        size_t cap; /* a power of two */
        size_t n;
};

static uint64_t hash(const char *s) {
        uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
        return h;
}

int tb_strset_new(tb_strset **ret) {
        tb_strset *set = calloc(1, sizeof(*set));

        if (!set)
                return -ENOMEM;
        set->cap = 64;
        set->slots = calloc(set->cap, sizeof(char *));
        if (!set->slots) {
                free(set);
                return -ENOMEM;
        }
        *ret = set;
        return 0;
}

static char **find_slot(char **slots, size_t cap, const char *s) {
        size_t i = (size_t)hash(s) & (cap - 1);

        while (slots[i] && strcmp(slots[i], s) != 0)
                i = (i + 1) & (cap - 1);
        return &slots[i];
}

static int grow(tb_strset *set) {
        size_t ncap = set->cap * 2;
        char **ns = calloc(ncap, sizeof(char *));

        if (!ns)
                return -ENOMEM;
        for (size_t i = 0; i < set->cap; i++)
                if (set->slots[i])
                        *find_slot(ns, ncap, set->slots[i]) = set->slots[i];
        free(set->slots);
        set->slots = ns;
        set->cap = ncap;
        return 0;
}

int tb_strset_add(tb_strset *set, const char *s) {
        char **slot;

        if ((set->n + 1) * 4 > set->cap * 3) {
                int r = grow(set);

                if (r < 0)
                        return r;
        }
        slot = find_slot(set->slots, set->cap, s);
        if (*slot)
                return 0;
        *slot = strdup(s);
        if (!*slot)
                return -ENOMEM;
        set->n++;
        return 1;
}

bool tb_strset_contains(const tb_strset *set, const char *s) {
        return *find_slot(set->slots, set->cap, s) != NULL;
}

size_t tb_strset_size(const tb_strset *set) {
        return set->n;
}

void tb_strset_free(tb_strset *set) {
        if (!set)
                return;
        for (size_t i = 0; i < set->cap; i++)
                free(set->slots[i]);
        free(set->slots);
        free(set);
}

void tb_strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

int tb_strv_push(char ***l, size_t *n, const char *s) {
        char **grown = realloc(*l, (*n + 2) * sizeof(char *));

        if (!grown)
                return -ENOMEM;
        *l = grown;
        if (!(grown[*n] = strdup(s)))
                return -ENOMEM;
        grown[++*n] = NULL;
        return 0;
}

int tb_strv_pushf(char ***l, size_t *n, const char *fmt, ...) {
        _cleanup_(freep) char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return tb_strv_push(l, n, s);
}
