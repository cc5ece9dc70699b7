/* initrd-boot.c — API mounts, finit_module, and the tmpfs root. */
#include "node/initrd-boot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static const char *const api_mounts[] = { "/proc", "/sys", "/dev", "/run", "/tmp" };

static bool is_mountpoint(const char *path) {
        struct stat a, b;
        _cleanup_(freep) char *parent = NULL;

        if (stat(path, &a) < 0)
                return false;
        if (asprintf(&parent, "%s/..", path) < 0 || stat(parent, &b) < 0)
                return false;
        return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

static int mount_one(const char *what, const char *where, const char *type, unsigned long flags, const char *data,
                     bool required) {
        (void)mkdir(where, 0755);
        if (is_mountpoint(where))
                return 0;
        if (mount(what, where, type, flags, data) < 0 && errno != EBUSY) {
                if (!required) {
                        tb_debug("%s: cannot mount %s: %m", where, type);
                        return 0;
                }
                return tb_log_errno(-errno, "%s: cannot mount %s", where, type);
        }
        return 0;
}

int tb_initrd_mount_api(void) {
        int r;

        if ((r = mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true)) < 0 ||
            (r = mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true)) < 0 ||
            (r = mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", true)) < 0 ||
            (r = mount_one("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", true)) < 0 ||
            (r = mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false)) < 0)
                return r;
        (void)mount_one("securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false);
        (void)mount_one("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                        false);
        return 0;
}

int tb_initrd_load_modules(const char *list) {
        FILE *f = fopen(list, "re");
        char line[512];
        int n = 0;

        if (!f)
                return errno == ENOENT ? 0 : tb_log_errno(-errno, "%s: cannot read", list);
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (!*line || *line == '#')
                        continue;
                int fd = open(line, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        tb_warn("%s: cannot open: %m", line);
                        continue;
                }
                if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
                        tb_warn("%s: cannot load: %m", line);
                else
                        n++;
                close(fd);
        }
        fclose(f);
        /* efivarfs may have just arrived as a module */
        (void)mount_one("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                        false);
        return n;
}

static bool skipped(const char *path, const char *dir, const char *const *extra) {
        if (strcmp(path, dir) == 0)
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(api_mounts); i++)
                if (strcmp(path, api_mounts[i]) == 0)
                        return true;
        for (size_t i = 0; extra && extra[i]; i++)
                if (strcmp(path, extra[i]) == 0)
                        return true;
        return false;
}

/* Copies SRC (a directory of the initramfs) to DST; mount points of the list stay empty dirs. */
static int copy_dir(const char *src, const char *dst, const char *root, const char *const *extra) {
        DIR *d = opendir(src);
        struct dirent *de;
        int r = 0;

        if (!d)
                return tb_log_errno(-errno, "%s: cannot list", src);
        while (r >= 0 && (de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_(freep) char *s = NULL, *t = NULL;
                struct stat st;
                if (asprintf(&s, "%s/%s", strcmp(src, "/") == 0 ? "" : src, de->d_name) < 0 ||
                    !(t = tb_path_join(dst, de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                if (lstat(s, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (mkdir(t, st.st_mode & 07777) < 0 && errno != EEXIST)
                                r = tb_log_errno(-errno, "%s: cannot create", t);
                        else if (!skipped(s, root, extra))
                                r = copy_dir(s, t, root, extra);
                } else if (S_ISLNK(st.st_mode)) {
                        char link[4096];
                        ssize_t n = readlink(s, link, sizeof(link) - 1);
                        if (n >= 0) {
                                link[n] = 0;
                                if (symlink(link, t) < 0)
                                        r = tb_log_errno(-errno, "%s: cannot create", t);
                        }
                } else if (S_ISREG(st.st_mode)) {
                        _cleanup_(closep) int in = open(s, O_RDONLY | O_CLOEXEC);
                        _cleanup_(closep) int out = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
                        char buf[65536];
                        ssize_t n;
                        if (in < 0 || out < 0) {
                                r = tb_log_errno(-errno, "%s: cannot copy", s);
                                break;
                        }
                        while ((n = read(in, buf, sizeof(buf))) > 0)
                                if ((r = tb_write_all(out, buf, (size_t)n)) < 0)
                                        break;
                        /* The initramfs is RAM: drop each file once copied to keep the peak low. */
                        if (r >= 0)
                                (void)unlink(s);
                }
        }
        closedir(d);
        return r;
}

int tb_initrd_switch_root(const char *dir, const char *const *extra) {
        int r;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return tb_log_errno(-errno, "%s: cannot create", dir);
        if (mount("tmpfs", dir, "tmpfs", 0, "mode=0755") < 0)
                return tb_log_errno(-errno, "%s: cannot mount tmpfs", dir);
        if ((r = copy_dir("/", dir, dir, extra)) < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(api_mounts) + 8; i++) {
                const char *m = i < ARRAY_SIZE(api_mounts) ? api_mounts[i] : extra ? extra[i - ARRAY_SIZE(api_mounts)] : NULL;
                if (!m)
                        break;
                _cleanup_(freep) char *t = tb_path_join(dir, m);
                if (!t)
                        return -ENOMEM;
                if (!is_mountpoint(m))
                        continue;
                (void)mkdir(t, 0755);
                if (mount(m, t, NULL, MS_MOVE, NULL) < 0)
                        return tb_log_errno(-errno, "%s: cannot move to %s", m, t);
        }
        if (chdir(dir) < 0 || mount(dir, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return tb_log_errno(-errno, "%s: cannot make it the root", dir);
        return 0;
}
