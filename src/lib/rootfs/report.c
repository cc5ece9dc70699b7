#include "rootfs/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "rootfs/initrd.h"
#include "util/log.h"
#include "util/strset.h"

/* The estimate compresses the head of every file (in one zstd stream, as the initrd is) and
 * scales it by the file's size. */
#define SAMPLE ((size_t)128 * 1024)

typedef struct walker {
        tb_report *rep;
        const tb_exclude *exclude;
        unsigned depth;
        int level;
        ZSTD_CCtx *cctx;
        uint8_t *in, *out;
        size_t out_cap;
        tb_strset *links;         /* dev:ino of multiply linked files seen */
        unsigned dropped_depth;   /* inside a left-out directory below this depth (0: not) */
        const char *dropped_group;
} walker;

static tb_report_row *row_for(walker *w, const char *path, size_t len) {
        tb_report *rep = w->rep;
        tb_report_row *rows;

        for (size_t i = rep->n; i-- > 0;) /* the walk is in order: the row is usually the last */
                if (strlen(rep->rows[i].path) == len && memcmp(rep->rows[i].path, path, len) == 0)
                        return &rep->rows[i];
        rows = realloc(rep->rows, (rep->n + 1) * sizeof(*rows));
        if (!rows)
                return NULL;
        rep->rows = rows;
        rows[rep->n] = (tb_report_row){ .path = strndup(path, len) };
        if (!rows[rep->n].path)
                return NULL;
        return &rows[rep->n++];
}

static int estimate(walker *w, const tb_rootfs_entry *e, uint64_t *ret) {
        _cleanup_(closep) int fd = -1;
        ssize_t n;
        size_t c = 0;

        if (e->st.st_size == 0) {
                *ret = 0;
                return 0;
        }
        fd = openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", e->path);
        n = read(fd, w->in, SAMPLE);
        if (n <= 0) {
                *ret = (uint64_t)e->st.st_size;
                return n < 0 ? tb_log_errno(negative_errno(), "%s: read error", e->path) : 0;
        }
        {
                ZSTD_inBuffer zin = { w->in, (size_t)n, 0 };
                ZSTD_outBuffer zout = { w->out, w->out_cap, 0 };
                size_t left;

                /* One stream over all samples, flushed per file: matches across files count, as
                 * in the initrd's single zstd stream. */
                do {
                        zout.pos = 0;
                        left = ZSTD_compressStream2(w->cctx, &zout, &zin, ZSTD_e_flush);
                        if (ZSTD_isError(left)) {
                                c = (size_t)n;
                                break;
                        }
                        c += zout.pos;
                } while (left > 0);
        }
        *ret = (uint64_t)((double)e->st.st_size * (double)c / (double)n);
        return 0;
}

static void add_group(tb_report *rep, const char *name, uint64_t raw) {
        for (size_t i = 0; i < rep->n_groups; i++)
                if (strcmp(rep->groups[i].name, name) == 0) {
                        rep->groups[i].raw += raw;
                        return;
                }
        if (rep->n_groups < ARRAY_SIZE(rep->groups)) {
                rep->groups[rep->n_groups].name = name;
                rep->groups[rep->n_groups++].raw = raw;
        }
}

static int visit(const tb_rootfs_entry *e, void *userdata) {
        walker *w = userdata;
        tb_report *rep = w->rep;
        bool is_dir = S_ISDIR(e->st.st_mode), dropped;
        const char *group = NULL, *cut, *last;
        uint64_t est = 0;
        size_t len;
        tb_report_row *row;
        int r;

        if (w->dropped_depth && e->depth <= w->dropped_depth)
                w->dropped_depth = 0; /* left the dropped directory */
        dropped = w->dropped_depth > 0;
        if (!dropped && tb_exclude_match(w->exclude, e->path, is_dir, &group) == TB_EXCLUDE_DROP) {
                dropped = true;
                if (is_dir) {
                        w->dropped_depth = e->depth;
                        w->dropped_group = group;
                }
        } else if (dropped)
                group = w->dropped_group;
        if (is_dir && e->depth == 1 && tb_initrd_empties(e->name))
                return TB_ROOTFS_SKIP; /* the initrd keeps the directory, not what is in it */
        if (!S_ISREG(e->st.st_mode))
                return 0;
        if (e->st.st_nlink > 1) {
                char key[64];

                snprintf(key, sizeof(key), "%llu:%llu", (unsigned long long)e->st.st_dev,
                         (unsigned long long)e->st.st_ino);
                r = tb_strset_add(w->links, key);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 0; /* its bytes are in the initrd once */
        }
        r = estimate(w, e, &est);
        if (r < 0)
                return r;
        /* The directory at the report's depth that holds the file (depth >= 1). */
        last = strrchr(e->path, '/');
        cut = e->path;
        for (unsigned d = 0; d < w->depth && cut; d++) {
                const char *slash = strchr(cut, '/');

                cut = slash ? slash + 1 : NULL;
        }
        len = cut ? (size_t)(cut - 1 - e->path) : last ? (size_t)(last - e->path) : 0;
        row = row_for(w, e->path, len);
        if (!row)
                return tb_log_oom();
        row->files++;
        row->raw += (uint64_t)e->st.st_size;
        row->estimate += est;
        rep->files++;
        rep->raw += (uint64_t)e->st.st_size;
        rep->estimate += est;
        if (dropped) {
                row->dropped += (uint64_t)e->st.st_size;
                rep->dropped += (uint64_t)e->st.st_size;
                rep->dropped_estimate += est;
                add_group(rep, group ? group : "--exclude", (uint64_t)e->st.st_size);
        }
        return 0;
}

static int cmp_rows(const void *a, const void *b) {
        const tb_report_row *x = a, *y = b;

        if (x->raw != y->raw)
                return x->raw > y->raw ? -1 : 1;
        return strcmp(x->path, y->path);
}

int tb_report_build(tb_rootfs *fs, const tb_exclude *exclude, unsigned depth, int level, tb_report *ret) {
        walker w = { .rep = ret, .exclude = exclude, .depth = depth ? depth : 1, .level = level };
        int r;

        *ret = (tb_report){};
        w.out_cap = ZSTD_compressBound(SAMPLE);
        w.cctx = ZSTD_createCCtx();
        if (w.cctx)
                ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, level);
        w.in = malloc(SAMPLE);
        w.out = malloc(w.out_cap);
        r = tb_strset_new(&w.links);
        if (r >= 0 && (!w.cctx || !w.in || !w.out))
                r = -ENOMEM;
        if (r >= 0)
                r = tb_rootfs_walk(fs, visit, &w);
        if (r >= 0 && ret->n > 1)
                qsort(ret->rows, ret->n, sizeof(*ret->rows), cmp_rows);
        ZSTD_freeCCtx(w.cctx);
        free(w.in);
        free(w.out);
        if (w.links)
                tb_strset_free(w.links);
        if (r < 0)
                tb_report_done(ret);
        return r;
}

void tb_report_done(tb_report *r) {
        for (size_t i = 0; i < r->n; i++)
                free(r->rows[i].path);
        free(r->rows);
        *r = (tb_report){};
}
