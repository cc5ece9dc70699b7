#include "rootfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "layer.h"
#include "log.h"
#include "oci.h"
#include "safefs.h"

#define MAX_SYMLINK_HOPS 16

struct tb_rootfs {
        int base_fd;    /* the tree: the dir: source itself, or the unpacked image */
        int overlay_fd; /* or -1 */
        char *workarea; /* image sources only: removed on free */
};

/* ---- the work area and image sources ---- */

static int make_workarea(const tb_rootfs_options *opts, char **ret) {
        const char *parent = opts && opts->workdir ? opts->workdir : getenv("TMPDIR");
        char *p;

        if (!parent || !parent[0])
                parent = "/var/tmp";
        if (asprintf(&p, "%s/trustboot-rootfs.XXXXXX", parent) < 0)
                return -ENOMEM;
        if (!mkdtemp(p)) {
                int r = negative_errno();

                tb_log_errno(r, "%s: cannot create work area", parent);
                free(p);
                return r;
        }
        *ret = p;
        return 0;
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
                return -ENOMEM;
        out = calloc(1, strlen(joined) + 2);
        if (!out)
                return -ENOMEM;
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
                return -ENOMEM;
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
                return -ENOMEM;
        s->m = m;
        m = &s->m[s->n];
        *m = (struct member){ .name = strdup(name), .target = target ? strdup(target) : NULL, .index = index };
        if (!m->name || (target && !m->target)) {
                free(m->name);
                free(m->target);
                return -ENOMEM;
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
        buf = malloc(1 << 20);
        if (!a || !buf) {
                r = -ENOMEM;
                goto out;
        }
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, fd, 1 << 20) != ARCHIVE_OK) {
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
                        while ((k = archive_read_data(a, buf, 1 << 20)) > 0) {
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

static int apply_image(int rootfd, tb_oci_open_fn open_fn, void *userdata, const char *source, const char *tag) {
        _cleanup_(tb_oci_image_freep) tb_oci_image *img = NULL;
        int r;

        r = tb_oci_load(open_fn, userdata, tag, &img);
        if (r < 0)
                return r;
        for (size_t i = 0; i < img->n_layers; i++) {
                _cleanup_(closep) int fd = -1;
                const tb_oci_layer *l = &img->layers[i];
                tb_layer_source src = { .name = l->path, .digest = l->digest, .diff_id = l->diff_id, .size = l->size };

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

/* "PATH[:TAG]": PATH is the shortest prefix before a ':' that exists, so that both file names
 * and tags (docker's "repo:tag") may contain colons. */
static int split_tag(const char *arg, char **ret_path, char **ret_tag) {
        *ret_tag = NULL;
        for (const char *c = strchr(arg, ':'); c; c = strchr(c + 1, ':')) {
                _cleanup_(freep) char *p = strndup(arg, (size_t)(c - arg));

                if (!p)
                        return -ENOMEM;
                if (tb_path_exists(p)) {
                        *ret_tag = strdup(c + 1);
                        if (!*ret_tag)
                                return -ENOMEM;
                        *ret_path = TAKE_PTR(p);
                        return 0;
                }
        }
        *ret_path = strdup(arg);
        return *ret_path ? 0 : -ENOMEM;
}

static int open_image(tb_rootfs *fs, const char *source, const char *arg, bool archive,
                      const tb_rootfs_options *opts) {
        _cleanup_(freep) char *path = NULL, *tag = NULL;
        _cleanup_(closep) int wfd = -1;
        int r;

        r = split_tag(arg, &path, &tag);
        if (r < 0)
                return r;
        r = make_workarea(opts, &fs->workarea);
        if (r < 0)
                return r;
        wfd = open(fs->workarea, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (wfd < 0 || mkdirat(wfd, "rootfs", 0755) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot prepare work area", fs->workarea);
        fs->base_fd = openat(wfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fs->base_fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot prepare work area", fs->workarea);

        if (archive) {
                _cleanup_(store_done) struct archive_store store = { .dirfd = -1 };

                if (mkdirat(wfd, "archive", 0700) < 0 ||
                    (store.dirfd = openat(wfd, "archive", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot prepare work area", fs->workarea);
                r = store_fill(&store, path);
                if (r < 0)
                        return r;
                r = apply_image(fs->base_fd, store_open, &store, source, tag);
                (void)tb_rm_rf_at(wfd, "archive"); /* the blobs are no longer needed */
                return r;
        }

        _cleanup_(closep) int lfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lfd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open OCI layout", path);
        return apply_image(fs->base_fd, layout_open, &lfd, source, tag);
}

int tb_rootfs_open(const char *source, const tb_rootfs_options *opts, tb_rootfs **ret) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        int r = 0;

        fs = calloc(1, sizeof(*fs));
        if (!fs)
                return -ENOMEM;
        fs->base_fd = fs->overlay_fd = -1;

        if (strncmp(source, "dir:", 4) == 0) {
                fs->base_fd = open(source + 4, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fs->base_fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open directory", source + 4);
        } else if (strncmp(source, "ocifile:", 8) == 0)
                r = open_image(fs, source, source + 8, true, opts);
        else if (strncmp(source, "oci-layout:", 11) == 0)
                r = open_image(fs, source, source + 11, false, opts);
        else {
                tb_err("%s: unknown source; use dir:PATH, ocifile:FILE[:TAG] or oci-layout:PATH[:TAG]", source);
                return -EINVAL;
        }
        if (r < 0)
                return r;

        if (opts && opts->overlay) {
                fs->overlay_fd = open(opts->overlay, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fs->overlay_fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open overlay directory", opts->overlay);
        }
        *ret = TAKE_PTR(fs);
        return 0;
}

void tb_rootfs_free(tb_rootfs *fs) {
        if (!fs)
                return;
        if (fs->base_fd >= 0)
                close(fs->base_fd);
        if (fs->overlay_fd >= 0)
                close(fs->overlay_fd);
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

static int list_dir(int fd, struct names *out) {
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t cap = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return negative_errno();
        }
        while ((errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (out->n == cap) {
                        char **v = reallocarray(out->v, cap ? cap * 2 : 32, sizeof(char *));

                        if (!v) {
                                r = -ENOMEM;
                                break;
                        }
                        out->v = v;
                        cap = cap ? cap * 2 : 32;
                }
                out->v[out->n] = strdup(de->d_name);
                if (!out->v[out->n]) {
                        r = -ENOMEM;
                        break;
                }
                out->n++;
        }
        if (r == 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        if (r == 0 && out->n > 1)
                qsort(out->v, out->n, sizeof(char *), cmp_names);
        return r;
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
                        return -ENOMEM;
                w->path = p;
                w->path_cap = need * 2;
        }
        if (len)
                w->path[len++] = '/';
        memcpy(w->path + len, name, nl + 1);
        *ret_len = len + nl;
        return 0;
}

static int walk_dir(struct walk *w, int base_fd, int over_fd, size_t len, unsigned depth) {
        _cleanup_(names_done) struct names bn = {}, on = {};
        size_t i = 0, j = 0;
        int r;

        if (base_fd >= 0 && (r = list_dir(base_fd, &bn)) < 0)
                return tb_log_errno(r, "%s: cannot read directory", len ? w->path : "/");
        if (over_fd >= 0 && (r = list_dir(over_fd, &on)) < 0)
                return tb_log_errno(r, "overlay %s: cannot read directory", len ? w->path : "/");

        while (i < bn.n || j < on.n) {
                int c = i >= bn.n ? 1 : j >= on.n ? -1 : strcmp(bn.v[i], on.v[j]);
                const char *name = c <= 0 ? bn.v[i] : on.v[j];
                bool in_base = c <= 0, in_over = c >= 0;
                _cleanup_(closep) int cbase = -1, cover = -1;
                tb_rootfs_entry e = { .name = name, .depth = depth };
                int fd = in_over ? over_fd : base_fd;
                size_t nlen;

                r = path_push(w, len, name, &nlen);
                if (r < 0)
                        return r;
                e.path = w->path;
                e.dirfd = fd;
                if (fstatat(fd, name, &e.st, AT_SYMLINK_NOFOLLOW) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot stat", w->path);
                if (S_ISLNK(e.st.st_mode)) {
                        ssize_t n = readlinkat(fd, name, w->link, sizeof(w->link) - 1);

                        if (n < 0)
                                return tb_log_errno(negative_errno(), "%s: cannot read symlink", w->path);
                        w->link[n] = '\0';
                        e.link_target = w->link;
                }

                r = w->fn(&e, w->userdata);
                if (r < 0)
                        return r;
                if (r != TB_ROOTFS_SKIP && S_ISDIR(e.st.st_mode)) {
                        struct stat bst;

                        if (in_over)
                                cover = openat(over_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        /* A base directory shows through an overlay directory of the same name. */
                        if (in_base && (!in_over || (fstatat(base_fd, name, &bst, AT_SYMLINK_NOFOLLOW) == 0 &&
                                                     S_ISDIR(bst.st_mode))))
                                cbase = openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if ((in_over && cover < 0) || (in_base && !in_over && cbase < 0))
                                return tb_log_errno(negative_errno(), "%s: cannot open directory", w->path);
                        r = walk_dir(w, cbase, cover, nlen, depth + 1);
                        if (r < 0)
                                return r;
                }
                w->path[len] = '\0';
                if (in_base)
                        i++;
                if (in_over)
                        j++;
        }
        return 0;
}

int tb_rootfs_walk(tb_rootfs *fs, tb_rootfs_visit_fn fn, void *userdata) {
        struct walk w = { .fn = fn, .userdata = userdata };
        int r;

        w.path_cap = 256;
        w.path = calloc(1, w.path_cap);
        if (!w.path)
                return -ENOMEM;
        r = walk_dir(&w, fs->base_fd, fs->overlay_fd, 0, 1);
        free(w.path);
        return r;
}

/* ---- looking things up in the merged tree ---- */

/* Finds PATH (no symlinks on the way), overlay first; follows a final symlink inside the tree.
 * Returns an O_PATH fd and the resolved path. */
static int lookup(tb_rootfs *fs, const char *path, char **ret_path, int *ret_fd) {
        _cleanup_(freep) char *cur = strdup(path);

        if (!cur)
                return -ENOMEM;
        for (int hops = 0; hops < MAX_SYMLINK_HOPS; hops++) {
                int layers[2] = { fs->overlay_fd, fs->base_fd };
                int fd = -ENOENT;
                struct stat st;
                char target[PATH_MAX];
                ssize_t n;

                for (int k = 0; k < 2 && fd == -ENOENT; k++)
                        if (layers[k] >= 0)
                                fd = tb_openat_beneath(layers[k], cur, O_PATH | O_NOFOLLOW);
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

/* The names in DIR of the merged tree (overlay and base), for globbing. */
static int list_merged(tb_rootfs *fs, const char *dir, struct names *out) {
        int layers[2] = { fs->overlay_fd, fs->base_fd };

        for (int k = 0; k < 2; k++) {
                _cleanup_(closep) int fd = -1;
                int r;

                if (layers[k] < 0)
                        continue;
                fd = tb_openat_beneath(layers[k], dir, O_RDONLY | O_DIRECTORY);
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
                int fd;

                if (strncmp(n.v[i], prefix, strlen(prefix)) != 0)
                        continue;
                if (asprintf(&p, "%s/%s%s", dir, n.v[i], suffix) < 0)
                        return -ENOMEM;
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
