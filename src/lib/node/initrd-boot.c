/* initrd-boot.c — the API file systems PID 1 needs, and its way out when it cannot go on. */
#include "node/initrd-boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

bool tb_initrd_is_mountpoint(const char *path) {
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
        if (tb_initrd_is_mountpoint(where))
                return 0;
        if (mount(what, where, type, flags, data) < 0 && errno != EBUSY) {
                if (!required) {
                        tb_debug("%s: cannot mount %s: %m", where, type);
                        return 0;
                }
                return tb_log_errno(negative_errno(), "%s: cannot mount %s", where, type);
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

void tb_initrd_fail(const char *why) {
        fprintf(stderr, "trustboot init: FAILED: %s; powering off\n", why);
        sync();
        sleep(2);
        reboot(RB_POWER_OFF);
        for (;;)
                pause();
}
