/* handover.c — the rootfs as the root, in place (see handover.h). */
#include "node/handover.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "node/initrd-boot.h"
#include "rootfs/initrd.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* Where the bind mount of / is assembled; removed again from the new root. */
#define NEW_ROOT "/.trustboot-root"

static const char *const api_mounts[] = { "/proc", "/sys", "/dev", "/run", "/tmp" };

int tb_handover_check_init(const char *init) {
        struct stat st;

        if (stat(init, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: the image has no init to start (build the image with systemd, or "
                                    "give init= on the command line)", init);
        if (!S_ISREG(st.st_mode) || access(init, X_OK) < 0)
                return tb_log_errno(-EACCES, "%s: not an executable file, cannot start it as the image's init", init);
        return 0;
}

static int hex_bytes(const char *hex, uint8_t **ret, size_t *ret_len) {
        size_t n = strlen(hex);
        uint8_t *b;

        if (n % 2 || !(b = malloc(n / 2 + 1)))
                return -EINVAL;
        if (tb_hex_decode(hex, b, n / 2) < 0) {
                free(b);
                return -EINVAL;
        }
        b[n / 2] = 0;
        *ret = b;
        *ret_len = n / 2;
        return 0;
}

int tb_handover_apply_xattrs(const char *path) {
        _cleanup_(freep) char *line = NULL;
        size_t cap = 0;
        unsigned lineno = 0;
        int applied = 0;
        FILE *f = fopen(path, "re");

        if (!f)
                return errno == ENOENT ? 0 : tb_log_errno(negative_errno(), "%s: cannot read", path);
        while (getline(&line, &cap, f) > 0) {
                char hpath[8192], name[256], hval[16384];
                _cleanup_(freep) uint8_t *file = NULL, *value = NULL;
                size_t flen, vlen;

                lineno++;
                line[strcspn(line, "\n")] = 0;
                if (lineno == 1) {
                        if (strcmp(line, TB_INITRD_XATTR_MANIFEST_HEADER) != 0) {
                                tb_warn("%s: not a manifest of this version, ignored", path);
                                break;
                        }
                        continue;
                }
                if (sscanf(line, "%8191s %255s %16383s", hpath, name, hval) != 3 ||
                    hex_bytes(hpath, &file, &flen) < 0 || hex_bytes(hval, &value, &vlen) < 0 ||
                    strlen((char *)file) != flen || strncmp(name, "security.", 9) != 0) {
                        tb_warn("%s:%u: malformed line, ignored", path, lineno);
                        continue;
                }
                _cleanup_(freep) char *abs = tb_path_join("/", (char *)file);
                if (!abs)
                        break;
                if (lsetxattr(abs, name, value, vlen, 0) < 0)
                        tb_warn("%s: %s: cannot set: %m", abs, name);
                else
                        applied++;
        }
        fclose(f);
        if (unlink(path) < 0)
                tb_warn("%s: cannot remove: %m", path);
        return applied;
}

static int move_mount_into(const char *m) {
        _cleanup_(freep) char *t = tb_path_join(NEW_ROOT, m);

        if (!t)
                return tb_log_oom();
        if (!tb_initrd_is_mountpoint(m))
                return 0;
        /* The bind shows the same directories as /: M's directory is there already. */
        if (mkdir(t, 0755) < 0 && errno != EEXIST)
                return tb_log_errno(negative_errno(), "%s: cannot create", t);
        if (mount(m, t, NULL, MS_MOVE, NULL) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot move to %s", m, t);
        return 0;
}

int tb_handover_switch_root(const char *const *extra) {
        int r;

        if (mkdir(NEW_ROOT, 0700) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create (does the image carry it?)", NEW_ROOT);
        if (mount("/", NEW_ROOT, NULL, MS_BIND, NULL) < 0)
                return tb_log_errno(negative_errno(), "/: cannot bind-mount to %s", NEW_ROOT);
        for (size_t i = 0; i < ARRAY_SIZE(api_mounts); i++)
                if ((r = move_mount_into(api_mounts[i])) < 0)
                        return r;
        for (size_t i = 0; extra && extra[i]; i++)
                if ((r = move_mount_into(extra[i])) < 0)
                        return r;
        if (chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
                return tb_log_errno(negative_errno(), "%s: cannot make it the root", NEW_ROOT);
        /* In the new root it is a plain, empty directory of the image's file system again. */
        if (rmdir(NEW_ROOT) < 0)
                tb_warn("%s: cannot remove: %m", NEW_ROOT);
        return 0;
}

uint64_t tb_handover_root_bytes(void) {
        struct statfs s;

        if (statfs("/", &s) < 0)
                return 0;
        return (uint64_t)(s.f_blocks - s.f_bfree) * (uint64_t)s.f_bsize;
}

uint64_t tb_handover_mem_used(void) {
        FILE *f = fopen("/proc/meminfo", "re");
        char line[256];
        uint64_t total = 0, avail = 0, v;

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "MemTotal: %" SCNu64 " kB", &v) == 1)
                        total = v;
                else if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &v) == 1)
                        avail = v;
        }
        fclose(f);
        return total > avail ? (total - avail) * 1024 : 0;
}
