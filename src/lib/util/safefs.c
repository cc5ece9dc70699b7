#include "util/safefs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/macro.h"
#include "util/log.h"

int tb_path_normalize(const char *name, char **ret) {
        size_t len = strlen(name);
        char *out, *o;
        const char *p = name;

        if (len == 0)
                return -EINVAL;
        if (name[0] == '/' || len >= PATH_MAX)
                return -EINVAL;
        out = malloc(len + 1);
        if (!out)
                return tb_log_oom();
        o = out;
        while (*p) {
                const char *e = strchrnul(p, '/');
                size_t n = (size_t)(e - p);

                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        return -EINVAL;
                }
                if (n > NAME_MAX) {
                        free(out);
                        return -EINVAL;
                }
                if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (o != out)
                                *o++ = '/';
                        memcpy(o, p, n);
                        o += n;
                }
                p = *e ? e + 1 : e;
        }
        *o = '\0';
        *ret = out;
        return 0;
}

int tb_openat_beneath(int dirfd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        if (path[0] == '\0')
                path = ".";
        do
                fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        while (fd < 0 && errno == EINTR);
        if (fd < 0)
                return negative_errno();
        return (int)fd;
}

int tb_mkdir_beneath(int rootfd, const char *path, int *ret_fd) {
        _cleanup_(closep) int fd = -1;
        const char *p = path;
        int r;

        /* Fast path: the directory usually exists already. */
        r = tb_openat_beneath(rootfd, path, O_PATH | O_DIRECTORY);
        if (r >= 0) {
                *ret_fd = r;
                return 0;
        }
        if (r != -ENOENT)
                return r;

        fd = tb_openat_beneath(rootfd, ".", O_PATH | O_DIRECTORY);
        if (fd < 0)
                return fd;
        while (*p) {
                const char *e = strchrnul(p, '/');
                char comp[NAME_MAX + 1];
                size_t n = (size_t)(e - p);
                int nfd;

                if (n == 0 || n > NAME_MAX)
                        return -EINVAL;
                memcpy(comp, p, n);
                comp[n] = '\0';
                nfd = tb_openat_beneath(fd, comp, O_PATH | O_DIRECTORY);
                if (nfd == -ENOENT) {
                        if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
                                return negative_errno();
                        nfd = tb_openat_beneath(fd, comp, O_PATH | O_DIRECTORY);
                }
                if (nfd < 0)
                        return nfd;
                close(fd);
                fd = nfd;
                p = *e ? e + 1 : e;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int tb_dir_foreach(int dir_fd, int (*fn)(int dfd, const char *name, void *userdata), void *userdata) {
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                close(fd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                r = fn(dirfd(d), de->d_name, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        return r < 0 ? r : 0;
}

static int rm_one(int dfd, const char *name, void *userdata) {
        (void)userdata;
        return tb_rm_rf_at(dfd, name);
}

int tb_rm_children_at(int dir_fd) {
        return tb_dir_foreach(dir_fd, rm_one, NULL);
}

int tb_rm_rf_at(int dirfd, const char *name) {
        struct stat st;

        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (S_ISDIR(st.st_mode)) {
                _cleanup_(closep) int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r;

                if (fd < 0)
                        return negative_errno();
                /* A directory without write permission (0555) must become writable to empty it. */
                if ((st.st_mode & 0300) != 0300)
                        (void)fchmod(fd, 0700);
                r = tb_rm_children_at(fd);
                if (r < 0)
                        return r;
                if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
                        return negative_errno();
                return 0;
        }
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int tb_path_split(const char *path, char **ret_dir, const char **ret_base) {
        const char *slash = strrchr(path, '/');
        char *dir;

        dir = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
        if (!dir)
                return tb_log_oom();
        *ret_dir = dir;
        *ret_base = slash ? slash + 1 : path;
        return 0;
}
