/* sbat.c — SBAT text: lines and ukify's merge (see sbat.h). */
#include "pe/sbat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/strset.h"

static bool is_break(char c) {
        return c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' || c == '\x1e';
}

int tb_sbat_lines(const void *data, size_t len, char ***ret, size_t *ret_n) {
        _cleanup_(tb_strv_freep) char **l = NULL;
        const char *s = data, *end;
        size_t n = 0;
        int r;

        /* An empty section may have no data at all: NULL + 0 would be undefined. */
        while (len > 0 && s[len - 1] == '\0')
                len--;
        end = s ? s + len : s;
        for (const char *p = s; p && p < end;) {
                const char *e = p;
                _cleanup_(freep) char *line = NULL;

                while (e < end && !is_break(*e))
                        e++;
                line = strndup(p, (size_t)(e - p));
                if (!line)
                        return -ENOMEM;
                r = tb_strv_push(&l, &n, line);
                if (r < 0)
                        return r;
                if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
                        e++;
                p = e + 1;
        }
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        if (ret_n)
                *ret_n = n;
        *ret = TAKE_PTR(l);
        return 0;
}

bool tb_sbat_is_valid(const void *data, size_t len) {
        return data && len >= 5 && memcmp(data, "sbat,", 5) == 0;
}

int tb_sbat_merge(const tb_sbat_part *parts, size_t n_parts, tb_buf *out, size_t *ret_skipped) {
        size_t skipped = 0;
        bool first = true;
        int r;

        r = tb_buf_append(out, TB_SBAT_HEADER "\n", strlen(TB_SBAT_HEADER) + 1);
        for (size_t i = 0; r >= 0 && i < n_parts; i++) {
                _cleanup_(tb_strv_freep) char **l = NULL;
                size_t n;

                if (!tb_sbat_is_valid(parts[i].data, parts[i].len)) {
                        skipped++;
                        continue;
                }
                r = tb_sbat_lines(parts[i].data, parts[i].len, &l, &n);
                for (size_t j = 1; r >= 0 && j < n && l[j]; j++) {
                        if (!first)
                                r = tb_buf_append(out, "\n", 1);
                        if (r >= 0)
                                r = tb_buf_append(out, l[j], strlen(l[j]));
                        first = false;
                }
        }
        if (r >= 0)
                r = tb_buf_append(out, "\n", 2); /* "\n\0" */
        if (r < 0)
                return r;
        if (ret_skipped)
                *ret_skipped = skipped;
        return 0;
}
