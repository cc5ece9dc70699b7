#include "rootfs/report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "rootfs/initrd.h"
#include "util/json.h"
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
        bool is_dir = S_ISDIR(e->st.st_mode), dropped, above = false;
        const char *group = NULL, *cut;
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
        cut = e->path;
        for (unsigned d = 0; d < w->depth; d++) {
                const char *slash = strchr(cut, '/');

                if (!slash) {
                        above = true; /* the file is above the depth: its own directory */
                        break;
                }
                cut = slash + 1;
        }
        if (!above)
                len = (size_t)(cut - 1 - e->path);
        else {
                const char *last = strrchr(e->path, '/');

                len = last ? (size_t)(last - e->path) : 0;
        }
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

static void mib(char *buf, size_t size, uint64_t bytes) {
        snprintf(buf, size, "%.1f", (double)bytes / (1 << 20));
}

int tb_report_print_json(const tb_report *rep, FILE *out) {
        _cleanup_(json_object_putp) struct json_object *root = json_object_new_object();
        _cleanup_(tb_buf_freep) tb_buf text = TB_BUF_INIT;
        struct json_object *dirs = json_object_new_array(), *drop = json_object_new_object();
        int r;

        if (!root || !dirs || !drop) {
                json_object_put(dirs);
                json_object_put(drop);
                return tb_log_oom();
        }
        json_object_object_add(root, "files", json_object_new_int64((int64_t)rep->files));
        json_object_object_add(root, "raw", json_object_new_int64((int64_t)rep->raw));
        json_object_object_add(root, "estimate", json_object_new_int64((int64_t)rep->estimate));
        json_object_object_add(drop, "raw", json_object_new_int64((int64_t)rep->dropped));
        json_object_object_add(drop, "estimate", json_object_new_int64((int64_t)rep->dropped_estimate));
        for (size_t i = 0; i < rep->n_groups; i++)
                json_object_object_add(drop, rep->groups[i].name, json_object_new_int64((int64_t)rep->groups[i].raw));
        json_object_object_add(root, "excluded", drop);
        for (size_t i = 0; i < rep->n; i++) {
                struct json_object *d = json_object_new_object();

                if (!d) {
                        json_object_put(dirs);
                        return tb_log_oom();
                }
                json_object_object_add(d, "path", json_object_new_string(rep->rows[i].path));
                json_object_object_add(d, "files", json_object_new_int64((int64_t)rep->rows[i].files));
                json_object_object_add(d, "raw", json_object_new_int64((int64_t)rep->rows[i].raw));
                json_object_object_add(d, "estimate", json_object_new_int64((int64_t)rep->rows[i].estimate));
                json_object_object_add(d, "excluded", json_object_new_int64((int64_t)rep->rows[i].dropped));
                json_object_array_add(dirs, d);
        }
        json_object_object_add(root, "directories", dirs);
        r = tb_json_format(root, TB_JSON_PRETTY, &text);
        if (r < 0)
                return r;
        fwrite(text.data, 1, text.len, out);
        return 0;
}

/* Largest directories first; what the exclusion would leave out, per group, at the end. */
void tb_report_print_text(const tb_report *rep, bool excluding, FILE *out) {
        char a[32], b[32], c[32];

        fprintf(out, "%10s %10s %10s %8s  %s\n", "raw MiB", "est. MiB", "excl. MiB", "files", "directory");
        for (size_t i = 0; i < rep->n; i++) {
                const tb_report_row *row = &rep->rows[i];

                mib(a, sizeof(a), row->raw);
                mib(b, sizeof(b), row->estimate);
                mib(c, sizeof(c), row->dropped);
                fprintf(out, "%10s %10s %10s %8" PRIu64 "  /%s\n", a, b, row->dropped ? c : "-", row->files, row->path);
        }
        mib(a, sizeof(a), rep->raw);
        mib(b, sizeof(b), rep->estimate);
        fprintf(out, "%10s %10s %10s %8" PRIu64 "  total\n", a, b, "", rep->files);
        if (!excluding) {
                fprintf(out, "(--slim or --exclude with --report show what they would leave out)\n");
                return;
        }
        mib(a, sizeof(a), rep->dropped);
        mib(b, sizeof(b), rep->dropped_estimate);
        fprintf(out, "left out: %s MiB raw, ~%s MiB compressed", a, b);
        for (size_t i = 0; i < rep->n_groups; i++) {
                mib(a, sizeof(a), rep->groups[i].raw);
                fprintf(out, "%s %s %s MiB", i ? "," : ":", rep->groups[i].name, a);
        }
        fprintf(out, "\n");
}
