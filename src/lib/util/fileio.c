#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/macro.h"
#include "util/log.h"

/* Opens PATH for reading into *RET_FD (its stat in *RET_ST), refusing a directory and a regular
 * file larger than MAX: the checks both file readers make before reading a byte. */
static int open_bounded(const char *path, size_t max, int *ret_fd, struct stat *ret_st) {
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        if (fstat(fd, ret_st) < 0)
                return negative_errno();
        if (S_ISDIR(ret_st->st_mode))
                return -EISDIR;
        if (S_ISREG(ret_st->st_mode) && (uint64_t)ret_st->st_size > max)
                return -EFBIG;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int tb_read_fd(int fd, size_t max, tb_buf *out) {
        for (;;) {
                ssize_t n;
                int r = tb_buf_reserve(out, (size_t)64 * 1024);

                if (r < 0)
                        return r;
                n = read(fd, out->data + out->len, out->cap - out->len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return 0;
                out->len += (size_t)n;
                if (out->len > max)
                        return -EFBIG;
        }
}

int tb_read_file(const char *path, size_t max, tb_buf *out) {
        _cleanup_(closep) int fd = -1;
        struct stat st;
        int r;

        r = open_bounded(path, max, &fd, &st);
        if (r < 0)
                return r;
        return tb_read_fd(fd, max, out);
}

int tb_read_secret_file(const char *path, size_t max, tb_buf *out) {
        _cleanup_(closep) int fd = -1;
        struct stat st;
        size_t size;
        int r;

        if (out->data || max == SIZE_MAX)
                return -EINVAL; /* a fresh buffer: appending would realloc over a secret */
        r = open_bounded(path, max, &fd, &st);
        if (r < 0)
                return r;
        /* One allocation, never grown, so no realloc leaves copies of the secret in freed heap:
         * the file's size (plus one byte to notice growth), or MAX for a pipe, whose size is
         * unknown. The caller wipes it with tb_buf_wipe(). */
        size = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : max + 1;
        out->data = malloc(size);
        if (!out->data)
                return tb_log_oom();
        out->cap = size;
        while (out->len < out->cap) {
                ssize_t n = read(fd, out->data + out->len, out->cap - out->len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                out->len += (size_t)n;
        }
        if (out->len == out->cap)
                return S_ISREG(st.st_mode) ? -ESTALE /* it grew while being read */ : -EFBIG;
        return 0;
}

/* The one loop of the four whole-buffer calls below: EINTR and short transfers continue, an end
 * of file (or a write of nothing) is -EIO. OFF < 0: at the file position (read/write). */
static int io_all(int fd, void *buf, size_t len, off_t off, bool writing) {
        uint8_t *p = buf; /* written to only when reading */

        while (len > 0) {
                ssize_t n = writing ? (off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off))
                                    : (off < 0 ? read(fd, p, len) : pread(fd, p, len, off));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
                if (off >= 0)
                        off += n;
        }
        return 0;
}

int tb_write_all(int fd, const void *data, size_t len) {
        return io_all(fd, (void *)data, len, -1, true);
}

int tb_read_full(int fd, void *data, size_t len) {
        return io_all(fd, data, len, -1, false);
}

int tb_pread_full(int fd, void *data, size_t len, off_t off) {
        return off < 0 ? -EINVAL : io_all(fd, data, len, off, false);
}

int tb_pwrite_all(int fd, const void *data, size_t len, off_t off) {
        return off < 0 ? -EINVAL : io_all(fd, (void *)data, len, off, true);
}

char *tb_path_join(const char *dir, const char *name) {
        size_t dl = strlen(dir);
        char *p;

        while (dl > 1 && dir[dl - 1] == '/')
                dl--;
        if (asprintf(&p, "%.*s/%s", (int)dl, dir, name) < 0)
                return NULL;
        return p;
}

bool tb_path_exists(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0;
}

int tb_fsync_parent(const char *path) {
        _cleanup_(freep) char *copy = strdup(path);
        _cleanup_(closep) int dfd = -1;

        if (!copy)
                return tb_log_oom();
        dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (fsync(dfd) < 0 && errno != EINVAL)
                return negative_errno();
        return 0;
}

int tb_atomic_open(const char *path, mode_t mode, tb_atomic_file *af) {
        _cleanup_(freep) char *copy1 = strdup(path), *copy2 = strdup(path);
        _cleanup_(freep) char *tmp = NULL, *final = NULL;
        int fd;

        if (!copy1 || !copy2)
                return tb_log_oom();
        if (asprintf(&tmp, "%s/.%s.tmp.XXXXXX", dirname(copy1), basename(copy2)) < 0)
                return tb_log_oom();
        final = strdup(path);
        if (!final)
                return tb_log_oom();
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fchmod(fd, mode) < 0) {
                int r = negative_errno();

                close(fd);
                unlink(tmp);
                return r;
        }
        af->fd = fd;
        af->tmp_path = TAKE_PTR(tmp);
        af->final_path = TAKE_PTR(final);
        return 0;
}

static int atomic_finish(tb_atomic_file *af, bool replace) {
        int r;

        if (af->fd < 0)
                return -EBADF;
        if (fsync(af->fd) < 0) {
                r = negative_errno();
                tb_atomic_abort(af);
                return r;
        }
        close(af->fd);
        af->fd = -1;
        if (replace)
                r = rename(af->tmp_path, af->final_path) < 0 ? negative_errno() : 0;
        else
                r = renameat2(AT_FDCWD, af->tmp_path, AT_FDCWD, af->final_path, RENAME_NOREPLACE) < 0 ? negative_errno()
                                                                                                   : 0;
        if (r < 0) {
                tb_atomic_abort(af);
                return r;
        }
        r = tb_fsync_parent(af->final_path);
        free(af->tmp_path);
        free(af->final_path);
        af->tmp_path = af->final_path = NULL;
        return r;
}

int tb_atomic_commit(tb_atomic_file *af) {
        return atomic_finish(af, true);
}

int tb_atomic_commit_noreplace(tb_atomic_file *af) {
        return atomic_finish(af, false);
}

void tb_atomic_abort(tb_atomic_file *af) {
        if (af->fd >= 0)
                close(af->fd);
        af->fd = -1;
        if (af->tmp_path)
                unlink(af->tmp_path);
        free(af->tmp_path);
        free(af->final_path);
        af->tmp_path = af->final_path = NULL;
}

int tb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace) {
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        int r;

        r = tb_atomic_open(path, mode, &af);
        if (r < 0)
                return r;
        r = tb_write_all(af.fd, data, len);
        if (r < 0)
                return r;
        return replace ? tb_atomic_commit(&af) : tb_atomic_commit_noreplace(&af);
}

int tb_atomic_copy(const char *src, const char *dst, mode_t mode, tb_atomic_file *af) {
        _cleanup_(closep) int in = open(src, O_RDONLY | O_CLOEXEC);
        tb_progress progress;
        int r;

        if (in < 0)
                return negative_errno();
        r = tb_atomic_open(dst, mode, af);
        if (r < 0)
                return r;
        tb_progress_begin(&progress, dst);
        r = tb_copy_fd(in, af->fd, &progress);
        if (r >= 0 && fsync(af->fd) < 0) /* on a slow medium the wait is in the fsync */
                r = negative_errno();
        tb_progress_end(&progress);
        return r < 0 ? r : 0;
}

const char *tb_tmpdir_default(void) {
        const char *tmp = getenv("TMPDIR");

        if (tmp && *tmp)
                return tmp;
        /* /var/tmp: images and UKIs can be large for a tmpfs /tmp; a minimal system may have no /var. */
        return access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp";
}

int tb_workdir_create(const char *parent, const char *name, char **ret) {
        char *p;

        if (!parent)
                parent = tb_tmpdir_default();
        if (asprintf(&p, "%s/%s.XXXXXX", parent, name) < 0)
                return tb_log_oom();
        if (!mkdtemp(p)) {
                int r = tb_log_errno(negative_errno(), "%s: cannot create a work directory", parent);

                free(p);
                return r;
        }
        *ret = p;
        return 0;
}

int tb_copy_file(const char *src, const char *dst, mode_t mode, bool replace) {
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        int r;

        r = tb_atomic_copy(src, dst, mode, &af);
        if (r >= 0)
                r = replace ? tb_atomic_commit(&af) : tb_atomic_commit_noreplace(&af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot copy to %s", src, dst);
        return 0;
}

int tb_write_file_new(const char *path, const void *data, size_t len, mode_t mode) {
        int fd, r;

        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return negative_errno();
        r = fchmod(fd, mode) < 0 ? negative_errno() : 0; /* exact mode, whatever the umask */
        if (r >= 0)
                r = tb_write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        close(fd);
        if (r < 0)
                unlink(path);
        return r;
}

/* mkdir -p for the parents of PATH; remembers the topmost directory it had to create. */
static int mkdir_parents(const char *path, mode_t mode, char **ret_created) {
        _cleanup_(freep) char *copy = strdup(path);
        char *slash;

        if (!copy)
                return tb_log_oom();
        for (slash = strchr(copy + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
                *slash = '\0';
                if (mkdir(copy, mode) == 0) {
                        if (!*ret_created && !(*ret_created = strdup(copy)))
                                return tb_log_oom();
                } else if (errno != EEXIST)
                        return negative_errno();
                *slash = '/';
        }
        return 0;
}

int tb_stage_begin(const char *target_dir, mode_t dir_mode, tb_stage *s) {
        _cleanup_(freep) char *tmpl = NULL;
        struct stat st;
        size_t l;
        int r;

        /* On failure S keeps what was done so far; the caller's tb_stage_abort() undoes it. */
        s->target = strdup(target_dir);
        if (!s->target)
                return tb_log_oom();
        l = strlen(s->target);
        while (l > 1 && s->target[l - 1] == '/')
                s->target[--l] = '\0';

        if (stat(s->target, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                tmpl = tb_path_join(s->target, ".staging.XXXXXX");
                s->whole_dir = false;
        } else if (errno == ENOENT) {
                _cleanup_(freep) char *c1 = strdup(s->target), *c2 = strdup(s->target);

                if (!c1 || !c2)
                        return tb_log_oom();
                r = mkdir_parents(s->target, dir_mode, &s->created_parent);
                if (r < 0)
                        return r;
                if (asprintf(&tmpl, "%s/.%s.tmp.XXXXXX", dirname(c1), basename(c2)) < 0)
                        tmpl = NULL;
                s->whole_dir = true;
        } else
                return negative_errno();
        if (!tmpl)
                return tb_log_oom();
        if (!mkdtemp(tmpl))
                return negative_errno();
        s->dir = TAKE_PTR(tmpl);
        if (s->whole_dir && chmod(s->dir, dir_mode) < 0)
                return negative_errno();
        return 0;
}

int tb_stage_commit(tb_stage *s, const char *const *names, size_t n_names, bool replace) {
        size_t moved = 0;
        int r = 0;

        if (s->whole_dir) {
                if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->target, RENAME_NOREPLACE) < 0)
                        return negative_errno();
                free(s->dir);
                s->dir = NULL;
                free(s->created_parent);
                s->created_parent = NULL;
                return tb_fsync_parent(s->target);
        }

        for (; moved < n_names; moved++) {
                _cleanup_(freep) char *from = tb_path_join(s->dir, names[moved]);
                _cleanup_(freep) char *to = tb_path_join(s->target, names[moved]);

                if (!from || !to) {
                        r = tb_log_oom();
                        break;
                }
                if (replace ? rename(from, to) < 0
                            : renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0) {
                        r = negative_errno();
                        break;
                }
        }
        if (r < 0 && !replace) /* put back what we moved, so the target is as it was */
                while (moved-- > 0) {
                        _cleanup_(freep) char *from = tb_path_join(s->dir, names[moved]);
                        _cleanup_(freep) char *to = tb_path_join(s->target, names[moved]);

                        if (from && to)
                                (void)rename(to, from);
                }
        if (r < 0)
                return r;
        {
                _cleanup_(closep) int dfd = open(s->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (dfd >= 0)
                        (void)fsync(dfd);
        }
        tb_stage_abort(s); /* removes the now empty staging directory */
        return 0;
}

static void remove_tree_at(int parent_fd, const char *name, dev_t dev) {
        struct stat st;
        DIR *d;
        int fd;

        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return;
        if (!S_ISDIR(st.st_mode)) {
                (void)unlinkat(parent_fd, name, 0);
                return;
        }
        if (st.st_dev != dev)
                return; /* a mount point: never descend */
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        remove_tree_at(dirfd(d), de->d_name, dev);
        closedir(d);
        (void)unlinkat(parent_fd, name, AT_REMOVEDIR);
}

void tb_rm_rf(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return;
        remove_tree_at(AT_FDCWD, path, st.st_dev);
}

void tb_stage_abort(tb_stage *s) {
        if (s->dir)
                tb_rm_rf(s->dir); /* only what we wrote: the staging dir is ours */
        if (s->created_parent && s->target) {
                /* Remove the parents we created, deepest first, up to the topmost one we made. */
                _cleanup_(freep) char *p = strdup(s->target);
                size_t top = strlen(s->created_parent);
                char *slash;

                while (p && (slash = strrchr(p, '/')) && slash != p) {
                        *slash = '\0';
                        if (strlen(p) < top || rmdir(p) < 0)
                                break;
                }
        }
        free(s->target);
        free(s->dir);
        free(s->created_parent);
        *s = (tb_stage)TB_STAGE_INIT;
}

int tb_copy_fd(int in, int out, tb_progress *progress) {
        return tb_copy_fd_limited(in, out, progress, NULL, 0);
}

int tb_copy_fd_limited(int in, int out, tb_progress *progress, uint64_t *total, uint64_t limit) {
        uint8_t buf[65536];

        /* In the kernel first (no copy through user space; a reflink where the file system can),
         * in progress-sized steps; read/write where the pair of files does not support it. */
        while (limit == 0) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 8u << 20, 0);

                if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
                              errno == EBADF))
                        break;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 0;
                if (total)
                        *total += (uint64_t)n;
                if (progress)
                        tb_progress_add(progress, (uint64_t)n);
        }
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 0;
                if (total)
                        *total += (uint64_t)n;
                if (limit && *total > limit)
                        return -EFBIG;
                int r = tb_write_all(out, buf, (size_t)n);
                if (r < 0)
                        return r;
                if (progress)
                        tb_progress_add(progress, (uint64_t)n);
        }
}
