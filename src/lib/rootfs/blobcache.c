#include "rootfs/blobcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rootfs/oci.h"
#include "util/log.h"

#define STALE_TEMP_SECONDS ((time_t)24 * 3600)

struct tb_blobcache {
        char *dir;   /* the cache root */
        char *blobs; /* DIR/blobs/sha256 */
        int blobs_fd;
};

void tb_blobcache_free(tb_blobcache *c) {
        if (!c)
                return;
        if (c->blobs_fd >= 0)
                close(c->blobs_fd);
        free(c->dir);
        free(c->blobs);
        free(c);
}

static int mkdir_p(char *path, mode_t mode) {
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(path, mode) < 0 && errno != EEXIST) {
                        int r = negative_errno();

                        *p = '/';
                        return r;
                }
                *p = '/';
        }
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

int tb_blobcache_open(const char *dir, tb_blobcache **ret) {
        _cleanup_(tb_blobcache_freep) tb_blobcache *c = calloc(1, sizeof(*c));
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        int r;

        if (!c)
                return tb_log_oom();
        c->blobs_fd = -1;
        if (dir)
                c->dir = strdup(dir);
        else if (xdg && xdg[0] == '/')
                c->dir = tb_path_join(xdg, "trustboot");
        else if (home && home[0] == '/')
                c->dir = tb_path_join(home, ".cache/trustboot");
        else {
                tb_err("no cache directory: set $XDG_CACHE_HOME or $HOME, give --cache DIR or --no-cache");
                return -ENOENT;
        }
        if (!c->dir || asprintf(&c->blobs, "%s/blobs/sha256", c->dir) < 0)
                return tb_log_oom();
        r = mkdir_p(c->blobs, 0700);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create blob cache", c->dir);
        c->blobs_fd = open(c->blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->blobs_fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open blob cache", c->blobs);
        *ret = TAKE_PTR(c);
        return 0;
}

const char *tb_blobcache_dir(const tb_blobcache *c) {
        return c->dir;
}

int tb_blobcache_get(tb_blobcache *c, const char *digest, uint64_t size, int *ret_fd) {
        struct stat st;
        int fd;

        if (!tb_oci_digest_valid(digest))
                return -EINVAL;
        fd = openat(c->blobs_fd, digest + 7, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size != UINT64_MAX && (uint64_t)st.st_size != size)) {
                close(fd);
                return 0;
        }
        /* The mtime is the "last used" clock for trimming (atime is often not kept). */
        (void)futimens(fd, NULL);
        *ret_fd = fd;
        return 1;
}

int tb_blobcache_begin(tb_blobcache *c, const char *digest, tb_atomic_file *af) {
        _cleanup_(freep) char *path = NULL;

        if (!tb_oci_digest_valid(digest))
                return -EINVAL;
        path = tb_path_join(c->blobs, digest + 7);
        if (!path)
                return tb_log_oom();
        return tb_atomic_open(path, 0644, af);
}

int tb_blobcache_commit(tb_blobcache *c, tb_atomic_file *af) {
        (void)c;
        /* Another build may have put the same blob in place meanwhile: same bytes, replace. */
        return tb_atomic_commit(af);
}

int tb_blobcache_remove(tb_blobcache *c, const char *digest) {
        if (!tb_oci_digest_valid(digest))
                return -EINVAL;
        if (unlinkat(c->blobs_fd, digest + 7, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

struct entry {
        char name[80];
        uint64_t size;
        struct timespec used;
};

static int cmp_used(const void *a, const void *b) {
        const struct entry *x = a, *y = b;

        if (x->used.tv_sec != y->used.tv_sec)
                return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
        if (x->used.tv_nsec != y->used.tv_nsec)
                return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
        return strcmp(x->name, y->name);
}

int64_t tb_blobcache_trim(tb_blobcache *c, uint64_t max) {
        _cleanup_(freep) struct entry *v = NULL;
        size_t n = 0, cap = 0;
        uint64_t total = 0;
        int64_t freed = 0;
        int dfd = dup(c->blobs_fd);
        DIR *d;
        struct dirent *de;
        time_t now = time(NULL);

        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return negative_errno();
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                struct stat st;

                if (fstatat(c->blobs_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (de->d_name[0] == '.') {
                        if (strstr(de->d_name, ".tmp.") && now - st.st_mtime > STALE_TEMP_SECONDS &&
                            unlinkat(c->blobs_fd, de->d_name, 0) == 0)
                                freed += st.st_size;
                        continue;
                }
                if (strlen(de->d_name) != 64)
                        continue;
                if (n == cap) {
                        struct entry *nv = reallocarray(v, cap ? cap * 2 : 64, sizeof(*v));

                        if (!nv) {
                                closedir(d);
                                return tb_log_oom();
                        }
                        v = nv;
                        cap = cap ? cap * 2 : 64;
                }
                snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
                v[n].size = (uint64_t)st.st_size;
                v[n].used = st.st_mtim;
                total += v[n].size;
                n++;
        }
        closedir(d);
        if (n > 1)
                qsort(v, n, sizeof(*v), cmp_used);
        for (size_t i = 0; i < n && total > max; i++) {
                if (unlinkat(c->blobs_fd, v[i].name, 0) < 0)
                        continue;
                tb_debug("blob cache: evicted sha256:%s (%llu bytes)", v[i].name, (unsigned long long)v[i].size);
                total -= v[i].size;
                freed += (int64_t)v[i].size;
        }
        return freed;
}
