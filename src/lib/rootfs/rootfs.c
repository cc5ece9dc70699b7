#include "rootfs/rootfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/fileio.h"
#include "rootfs/imageref.h"
#include "rootfs/layer.h"
#include "util/log.h"
#include "rootfs/oci.h"
#include "util/safefs.h"

#define MAX_SYMLINK_HOPS 16
#define STORE_BUF ((size_t)1 << 20)

struct tb_rootfs {
        /* [0] is the tree (the dir: source itself, or the unpacked image), then the overlays,
         * each winning over the ones before it. */
        int fds[1 + TB_ROOTFS_MAX_OVERLAYS];
        size_t n;
        char *workarea; /* image sources only: removed on free */
};

/* ---- the work area and image sources ---- */

static int make_workarea(const tb_rootfs_options *opts, char **ret) {
        return tb_workdir_create(opts ? opts->workdir : NULL, "trustboot-rootfs", ret);
}

struct member {
        char *name;   /* normalized */
        char *target; /* symlink members: where they point */
        int index;    /* regular files: stored as archive/<index> */
};

struct archive_store {
        int dirfd;
        struct member *m;
        size_t n;
};

static void store_done(struct archive_store *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->m[i].name);
                free(s->m[i].target);
        }
        free(s->m);
        if (s->dirfd >= 0)
                close(s->dirfd);
}

static struct member *store_find(struct archive_store *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->m[i].name, name) == 0)
                        return &s->m[i];
        return NULL;
}

/* Joins a symlink target onto the directory of NAME, resolving ".." lexically; refuses to
 * climb above the archive root. */
static int resolve_relative(const char *name, const char *target, char **ret) {
        _cleanup_(freep) char *joined = NULL;
        char *out, *o, *p, *save = NULL;
        const char *slash = strrchr(name, '/');

        if (target[0] == '/')
                joined = strdup(target + 1);
        else if (asprintf(&joined, "%.*s/%s", slash ? (int)(slash - name) : 0, name, target) < 0)
                joined = NULL;
        if (!joined)
                return tb_log_oom();
        out = calloc(1, strlen(joined) + 2);
        if (!out)
                return tb_log_oom();
        o = out;
        for (p = strtok_r(joined, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (strcmp(p, ".") == 0)
                        continue;
                if (strcmp(p, "..") == 0) {
                        char *last = strrchr(out, '/');

                        if (o == out) {
                                free(out);
                                return -EXDEV;
                        }
                        o = last ? last : out;
                        *o = '\0';
                        continue;
                }
                if (o != out)
                        *o++ = '/';
                o = stpcpy(o, p);
        }
        *ret = out;
        return 0;
}

static int store_open(void *userdata, const char *path, int *ret_fd) {
        struct archive_store *s = userdata;
        _cleanup_(freep) char *cur = strdup(path);
        char idx[32];
        int fd;

        if (!cur)
                return tb_log_oom();
        for (int hops = 0; hops < MAX_SYMLINK_HOPS; hops++) {
                _cleanup_(freep) char *norm = NULL;
                struct member *m;
                int r = tb_path_normalize(cur, &norm);

                if (r < 0)
                        return r;
                m = store_find(s, norm);
                if (!m)
                        return -ENOENT;
                if (!m->target) {
                        snprintf(idx, sizeof(idx), "%d", m->index);
                        fd = openat(s->dirfd, idx, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return negative_errno();
                        *ret_fd = fd;
                        return 0;
                }
                free(cur);
                r = resolve_relative(norm, m->target, &cur);
                if (r < 0)
                        return r;
        }
        return -ELOOP;
}

static int store_add(struct archive_store *s, const char *name, const char *target, int index) {
        struct member *m = reallocarray(s->m, s->n + 1, sizeof(*m));

        if (!m)
                return tb_log_oom();
        s->m = m;
        m = &s->m[s->n];
        *m = (struct member){ .name = strdup(name), .target = target ? strdup(target) : NULL, .index = index };
        if (!m->name || (target && !m->target)) {
                free(m->name);
                free(m->target);
                return tb_log_oom();
        }
        s->n++;
        return 0;
}

/* Unpacks the outer tarball's files (blobs, JSON) under numbers, so that nothing in the
 * archive chooses a file name on our side. */
static int store_fill(struct archive_store *s, const char *file) {
        _cleanup_(closep) int fd = -1;
        struct archive *a;
        struct archive_entry *e;
        uint8_t *buf = NULL;
        int r = 0, n = 0;

        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", file);
        a = archive_read_new();
        buf = malloc(STORE_BUF);
        if (!a || !buf) {
                r = tb_log_oom();
                goto out;
        }
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, fd, STORE_BUF) != ARCHIVE_OK) {
                tb_err("%s: %s", file, archive_error_string(a) ?: "not a tar archive");
                r = -EBADMSG;
                goto out;
        }
        for (;;) {
                _cleanup_(freep) char *name = NULL;
                const char *raw;
                int x = archive_read_next_header(a, &e);

                if (x == ARCHIVE_EOF)
                        break;
                if (x < ARCHIVE_WARN) {
                        tb_err("%s: %s", file, archive_error_string(a) ?: "bad tar header");
                        r = -EBADMSG;
                        goto out;
                }
                raw = archive_entry_pathname(e);
                if (!raw || tb_path_normalize(raw, &name) < 0) {
                        tb_err("%s: %s: invalid member name", file, raw ?: "(none)");
                        r = -EBADMSG;
                        goto out;
                }
                if (archive_entry_filetype(e) == AE_IFDIR || name[0] == '\0')
                        continue;
                if (store_find(s, name)) {
                        tb_err("%s: %s: duplicate member", file, raw);
                        r = -EBADMSG;
                        goto out;
                }
                if (archive_entry_hardlink(e)) {
                        _cleanup_(freep) char *t = NULL;
                        struct member *m;

                        if (tb_path_normalize(archive_entry_hardlink(e), &t) < 0 || !(m = store_find(s, t)) || m->target) {
                                tb_err("%s: %s: hardlink to a missing member", file, raw);
                                r = -EBADMSG;
                                goto out;
                        }
                        r = store_add(s, name, NULL, m->index);
                } else if (archive_entry_filetype(e) == AE_IFLNK) {
                        r = store_add(s, name, archive_entry_symlink(e) ?: "", -1);
                } else if (archive_entry_filetype(e) == AE_IFREG) {
                        _cleanup_(closep) int out_fd = -1;
                        char idx[32];
                        la_ssize_t k;

                        snprintf(idx, sizeof(idx), "%d", n);
                        out_fd = openat(s->dirfd, idx, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                        if (out_fd < 0) {
                                r = tb_log_errno(negative_errno(), "%s: cannot store member", raw);
                                goto out;
                        }
                        while ((k = archive_read_data(a, buf, STORE_BUF)) > 0) {
                                r = tb_write_all(out_fd, buf, (size_t)k);
                                if (r < 0) {
                                        tb_log_errno(r, "%s: cannot store member", raw);
                                        goto out;
                                }
                        }
                        if (k < 0) {
                                tb_err("%s: %s: %s", file, raw, archive_error_string(a) ?: "read error");
                                r = -EBADMSG;
                                goto out;
                        }
                        r = store_add(s, name, NULL, n++);
                }
                if (r < 0)
                        goto out;
        }
out:
        free(buf);
        if (a)
                archive_read_free(a);
        return r;
}

static int layout_open(void *userdata, const char *path, int *ret_fd) {
        int fd = tb_openat_beneath(*(int *)userdata, path, O_RDONLY);

        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

static int apply_image(int rootfd, tb_oci_open_fn open_fn, void *userdata, const char *source, const char *tag,
                       tb_layer_budget *budget) {
        _cleanup_(tb_oci_image_freep) tb_oci_image *img = NULL;
        int r;

        r = tb_oci_load(open_fn, userdata, tag, &img);
        if (r < 0)
                return r;
        for (size_t i = 0; i < img->n_layers; i++) {
                _cleanup_(closep) int fd = -1;
                const tb_oci_layer *l = &img->layers[i];
                tb_layer_source src = { .name = l->path, .digest = l->digest, .diff_id = l->diff_id, .size = l->size,
                                        .budget = budget };

                tb_debug("%s: layer %zu/%zu: %s", source, i + 1, img->n_layers, l->path);
                r = open_fn(userdata, l->path, &fd);
                if (r < 0)
                        return tb_log_errno(r, "%s: %s: cannot open layer", source, l->path);
                r = tb_layer_apply(rootfd, fd, &src);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "PATH[:TAG]": all of it if that exists, else PATH is the shortest prefix before a ':' that
 * exists, so that both file names and tags (docker's "repo:tag") may contain colons. */
static int split_tag(const char *arg, char **ret_path, char **ret_tag) {
        *ret_tag = NULL;
        for (const char *c = tb_path_exists(arg) ? NULL : strchr(arg, ':'); c; c = strchr(c + 1, ':')) {
                _cleanup_(freep) char *p = strndup(arg, (size_t)(c - arg));

                if (!p)
                        return tb_log_oom();
                if (tb_path_exists(p)) {
                        *ret_tag = strdup(c + 1);
                        if (!*ret_tag)
                                return tb_log_oom();
                        *ret_path = TAKE_PTR(p);
                        return 0;
                }
        }
        *ret_path = strdup(arg);
        return *ret_path ? 0 : tb_log_oom();
}

/* The work area of an image source, with the empty directory its layers unpack into open as
 * FS's only tree; *RET_WFD is the work area itself. */
static int open_workarea(tb_rootfs *fs, const tb_rootfs_options *opts, int *ret_wfd) {
        _cleanup_(closep) int wfd = -1;
        int r;

        r = make_workarea(opts, &fs->workarea);
        if (r < 0)
                return r;
        wfd = open(fs->workarea, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (wfd < 0 || mkdirat(wfd, "rootfs", 0755) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot prepare work area", fs->workarea);
        fs->fds[0] = openat(wfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fs->fds[0] < 0)
                return tb_log_errno(negative_errno(), "%s: cannot prepare work area", fs->workarea);
        *ret_wfd = TAKE_FD(wfd);
        return 0;
}

static int open_image(tb_rootfs *fs, const char *source, const char *arg, bool archive,
                      const tb_rootfs_options *opts) {
        _cleanup_(freep) char *path = NULL, *tag = NULL;
        _cleanup_(closep) int wfd = -1;
        tb_layer_budget budget;
        int r;

        tb_layer_budget_init(&budget, opts ? opts->max_image_size : 0, 0);
        r = split_tag(arg, &path, &tag);
        if (r < 0)
                return r;
        r = open_workarea(fs, opts, &wfd);
        if (r < 0)
                return r;

        if (archive) {
                _cleanup_(store_done) struct archive_store store = { .dirfd = -1 };

                if (mkdirat(wfd, "archive", 0700) < 0 ||
                    (store.dirfd = openat(wfd, "archive", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot prepare work area", fs->workarea);
                r = store_fill(&store, path);
                if (r < 0)
                        return r;
                r = apply_image(fs->fds[0], store_open, &store, source, tag, &budget);
                (void)tb_rm_rf_at(wfd, "archive"); /* the blobs are no longer needed */
                return r;
        }

        _cleanup_(closep) int lfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open OCI layout", path);
        return apply_image(fs->fds[0], layout_open, &lfd, source, tag, &budget);
}

/* A registry image: pulled layer by layer straight into the work area's tree. */
static int open_registry(tb_rootfs *fs, const tb_imageref *ref, const tb_rootfs_options *opts) {
        static const tb_registry_options defaults = { 0 };
        _cleanup_(closep) int wfd = -1;
        tb_layer_budget budget;
        int r;

        tb_layer_budget_init(&budget, opts ? opts->max_image_size : 0, 0);
        r = open_workarea(fs, opts, &wfd);
        if (r < 0)
                return r;
        return tb_registry_pull(ref, opts && opts->registry ? opts->registry : &defaults, fs->fds[0], &budget,
                                opts ? opts->summary : NULL);
}

int tb_rootfs_open(const char *source, const tb_rootfs_options *opts, tb_rootfs **ret) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(tb_imageref_freep) tb_imageref *ref = NULL;
        int r = 0;

        fs = calloc(1, sizeof(*fs));
        if (!fs)
                return tb_log_oom();
        fs->fds[0] = -1;
        fs->n = 1;

        if (strncmp(source, "dir:", 4) == 0) {
                fs->fds[0] = open(source + 4, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fs->fds[0] < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open directory", source + 4);
        } else if (strncmp(source, "ocifile:", 8) == 0)
                r = open_image(fs, source, source + 8, true, opts);
        else if (strncmp(source, "oci-layout:", 11) == 0)
                r = open_image(fs, source, source + 11, false, opts);
        else if ((r = tb_imageref_from_source(source, &ref)) > 0)
                r = open_registry(fs, ref, opts);
        else if (r == 0) {
                tb_err("%s: unknown source; use dir:PATH, ocifile:FILE[:TAG], oci-layout:PATH[:TAG] or an image "
                       "reference (REGISTRY/REPO:TAG, docker://REF, oci:REF)", source);
                return -EINVAL;
        }
        if (r < 0)
                return r;

        for (size_t i = 0; opts && i < opts->n_overlays; i++) {
                if (fs->n > TB_ROOTFS_MAX_OVERLAYS) {
                        tb_err("more than %d overlays", TB_ROOTFS_MAX_OVERLAYS);
                        return -E2BIG;
                }
                fs->fds[fs->n] = open(opts->overlays[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fs->fds[fs->n] < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open overlay directory", opts->overlays[i]);
                fs->n++;
        }
        *ret = TAKE_PTR(fs);
        return 0;
}

void tb_rootfs_free(tb_rootfs *fs) {
        if (!fs)
                return;
        for (size_t i = 0; i < fs->n; i++)
                if (fs->fds[i] >= 0)
                        close(fs->fds[i]);
        if (fs->workarea) {
                int r = tb_rm_rf_at(AT_FDCWD, fs->workarea);

                if (r < 0)
                        tb_log_errno(r, "%s: cannot remove work area", fs->workarea);
                free(fs->workarea);
        }
        free(fs);
}

/* ---- walking ---- */

struct names {
        char **v;
        size_t n;
};

static void names_done(struct names *n) {
        for (size_t i = 0; i < n->n; i++)
                free(n->v[i]);
        free(n->v);
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names_collect {
        struct names *out;
        size_t cap;
};

static int collect_name(int dfd, const char *name, void *userdata) {
        struct names_collect *c = userdata;
        struct names *out = c->out;
        (void)dfd;

        if (out->n == c->cap) {
                size_t ncap = c->cap ? c->cap * 2 : 32;
                char **v = reallocarray(out->v, ncap, sizeof(char *));

                if (!v)
                        return tb_log_oom();
                out->v = v;
                c->cap = ncap;
        }
        out->v[out->n] = strdup(name);
        if (!out->v[out->n])
                return tb_log_oom();
        out->n++;
        return 0;
}

/* Appends the names in directory FD to OUT and sorts them all. */
static int list_dir(int fd, struct names *out) {
        struct names_collect c = { .out = out, .cap = out->n };
        int r = tb_dir_foreach(fd, collect_name, &c);

        if (r < 0)
                return r;
        if (out->n > 1)
                qsort(out->v, out->n, sizeof(char *), cmp_names);
        return 0;
}

struct walk {
        tb_rootfs_visit_fn fn;
        void *userdata;
        char *path; /* grows with depth */
        size_t path_cap;
        char link[PATH_MAX];
};

static int path_push(struct walk *w, size_t len, const char *name, size_t *ret_len) {
        size_t nl = strlen(name), need = len + (len ? 1 : 0) + nl + 1;

        if (need > w->path_cap) {
                char *p = realloc(w->path, need * 2);

                if (!p)
                        return tb_log_oom();
                w->path = p;
                w->path_cap = need * 2;
        }
        if (len)
                w->path[len++] = '/';
        memcpy(w->path + len, name, nl + 1);
        *ret_len = len + nl;
        return 0;
}

static void close_all(int *fds, size_t n) {
        for (size_t k = 0; k < n; k++)
                if (fds[k] >= 0)
                        close(fds[k]);
}

/* FDS[k] is the directory in layer k, or -1; the highest layer that has a name defines it. */
static int walk_dir(struct walk *w, const int *fds, size_t n, size_t len, unsigned depth) {
        struct names lists[1 + TB_ROOTFS_MAX_OVERLAYS] = {};
        size_t idx[1 + TB_ROOTFS_MAX_OVERLAYS] = {};
        int r = 0;

        for (size_t k = 0; k < n && r >= 0; k++)
                if (fds[k] >= 0 && (r = list_dir(fds[k], &lists[k])) < 0)
                        tb_log_errno(r, "%s: cannot read directory%s", len ? w->path : "/", k ? " (overlay)" : "");

        while (r >= 0) {
                int child[1 + TB_ROOTFS_MAX_OVERLAYS];
                bool have[1 + TB_ROOTFS_MAX_OVERLAYS];
                tb_rootfs_entry e = { .depth = depth };
                const char *name = NULL;
                size_t top = 0, nlen = 0;

                for (size_t k = 0; k < n; k++)
                        if (idx[k] < lists[k].n && (!name || strcmp(lists[k].v[idx[k]], name) < 0))
                                name = lists[k].v[idx[k]];
                if (!name)
                        break;
                for (size_t k = 0; k < n; k++) {
                        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): collect_name stores no NULL */
                        have[k] = idx[k] < lists[k].n && strcmp(lists[k].v[idx[k]], name) == 0;
                        if (have[k])
                                top = k;
                }

                r = path_push(w, len, name, &nlen);
                if (r < 0)
                        break;
                e.path = w->path;
                e.name = name;
                e.dirfd = fds[top];
                if (fstatat(fds[top], name, &e.st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = tb_log_errno(negative_errno(), "%s: cannot stat", w->path);
                        break;
                }
                if (S_ISLNK(e.st.st_mode)) {
                        ssize_t l = readlinkat(fds[top], name, w->link, sizeof(w->link) - 1);

                        if (l < 0) {
                                r = tb_log_errno(negative_errno(), "%s: cannot read symlink", w->path);
                                break;
                        }
                        if ((size_t)l >= sizeof(w->link) - 1) {
                                tb_err("%s: symlink target too long", w->path);
                                r = -ENAMETOOLONG;
                                break;
                        }
                        w->link[l] = '\0';
                        e.link_target = w->link;
                }

                r = w->fn(&e, w->userdata);
                if (r >= 0 && r != TB_ROOTFS_SKIP && S_ISDIR(e.st.st_mode)) {
                        /* Lower directories of the same name show through, down to the first
                         * layer where the name is not a directory. */
                        for (size_t k = 0; k < n; k++)
                                child[k] = -1;
                        for (size_t k = top + 1; k-- > 0;) {
                                struct stat st;

                                if (!have[k])
                                        continue;
                                if (k != top && (fstatat(fds[k], name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)))
                                        break;
                                child[k] = openat(fds[k], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (child[k] < 0) {
                                        r = tb_log_errno(negative_errno(), "%s: cannot open directory", w->path);
                                        break;
                                }
                        }
                        if (r >= 0)
                                r = walk_dir(w, child, n, nlen, depth + 1);
                        close_all(child, n);
                }
                w->path[len] = '\0';
                for (size_t k = 0; k < n; k++)
                        idx[k] += have[k];
        }
        for (size_t k = 0; k < n; k++)
                names_done(&lists[k]);
        return r < 0 ? r : 0;
}

int tb_rootfs_walk(tb_rootfs *fs, tb_rootfs_visit_fn fn, void *userdata) {
        struct walk w = { .fn = fn, .userdata = userdata };
        int r;

        w.path_cap = 256;
        w.path = calloc(1, w.path_cap);
        if (!w.path)
                return tb_log_oom();
        r = walk_dir(&w, fs->fds, fs->n, 0, 1);
        free(w.path);
        return r;
}

/* ---- looking things up in the merged tree ---- */

/* Finds PATH (no symlinks on the way), top layer first; follows a final symlink inside the tree.
 * Returns an O_PATH fd and the resolved path. */
static int lookup(tb_rootfs *fs, const char *path, char **ret_path, int *ret_fd) {
        _cleanup_(freep) char *cur = strdup(path);

        if (!cur)
                return tb_log_oom();
        for (int hops = 0; hops < MAX_SYMLINK_HOPS; hops++) {
                int fd = -ENOENT;
                struct stat st;
                char target[PATH_MAX];
                ssize_t n;

                for (size_t k = fs->n; k-- > 0 && fd == -ENOENT;)
                        fd = tb_openat_beneath(fs->fds[k], cur, O_PATH | O_NOFOLLOW);
                if (fd < 0)
                        return fd;
                if (fstat(fd, &st) < 0 || !S_ISLNK(st.st_mode)) {
                        *ret_fd = fd;
                        *ret_path = TAKE_PTR(cur);
                        return 0;
                }
                n = readlinkat(fd, "", target, sizeof(target) - 1);
                close(fd);
                if (n < 0)
                        return negative_errno();
                target[n] = '\0';
                char *next;
                int r = resolve_relative(cur, target, &next);
                if (r < 0)
                        return r;
                free(cur);
                cur = next;
        }
        return -ELOOP;
}

static int open_regular(tb_rootfs *fs, const char *path, char **ret_path, int *ret_fd) {
        _cleanup_(freep) char *resolved = NULL;
        _cleanup_(closep) int pfd = -1;
        char proc[64];
        struct stat st;
        int fd, r;

        r = lookup(fs, path, &resolved, &pfd);
        if (r < 0)
                return r;
        if (fstat(pfd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EISDIR;
        /* Reopen the O_PATH fd for reading without another path walk. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
        fd = open(proc, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        *ret_path = TAKE_PTR(resolved);
        return 0;
}

/* The names in DIR in every layer, for globbing. */
static int list_merged(tb_rootfs *fs, const char *dir, struct names *out) {
        for (size_t k = 0; k < fs->n; k++) {
                _cleanup_(closep) int fd = -1;
                int r;

                fd = tb_openat_beneath(fs->fds[k], dir, O_RDONLY | O_DIRECTORY);
                if (fd == -ENOENT || fd == -ENOTDIR)
                        continue;
                if (fd < 0)
                        return fd;
                r = list_dir(fd, out);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The candidate in DIR with the highest version after PREFIX, whose SUFFIX file opens. */
static int newest(tb_rootfs *fs, const char *dir, const char *prefix, const char *suffix, char **ret_path, int *ret_fd) {
        _cleanup_(names_done) struct names n = {};
        _cleanup_(freep) char *best = NULL;
        int best_fd = -1, r;

        r = list_merged(fs, dir, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n.n; i++) {
                _cleanup_(freep) char *p = NULL, *resolved = NULL;
                int fd = -1;

                if (strncmp(n.v[i], prefix, strlen(prefix)) != 0)
                        continue;
                if (asprintf(&p, "%s/%s%s", dir, n.v[i], suffix) < 0)
                        return tb_log_oom();
                if (open_regular(fs, p, &resolved, &fd) < 0)
                        continue;
                if (best && strverscmp(p, best) <= 0) {
                        close(fd);
                        continue;
                }
                if (best_fd >= 0)
                        close(best_fd);
                free(best);
                best = TAKE_PTR(p);
                best_fd = fd;
        }
        if (!best)
                return -ENOENT;
        *ret_path = TAKE_PTR(best);
        *ret_fd = best_fd;
        return 0;
}

int tb_rootfs_find_kernel(tb_rootfs *fs, char **ret_path, int *ret_fd) {
        if (open_regular(fs, "boot/vmlinuz", ret_path, ret_fd) == 0)
                return 0;
        if (newest(fs, "boot", "vmlinuz-", "", ret_path, ret_fd) == 0)
                return 0;
        if (newest(fs, "usr/lib/modules", "", "/vmlinuz", ret_path, ret_fd) == 0)
                return 0;
        tb_err("no kernel found: none of /boot/vmlinuz, /boot/vmlinuz-*, /usr/lib/modules/*/vmlinuz is a file");
        return -ENOENT;
}

int tb_rootfs_open_file(tb_rootfs *fs, const char *path, int *ret_fd) {
        _cleanup_(freep) char *resolved = NULL;

        return open_regular(fs, path, &resolved, ret_fd);
}
