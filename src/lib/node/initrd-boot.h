/* initrd-boot.h — what PID 1 in the UKI's initrd needs from the kernel first: the API file
 * systems; and how it stops when it cannot go on (PID 1 must not exit). */
#pragma once

#include <stdbool.h>

/* Mounts proc, sysfs, devtmpfs, securityfs, efivarfs, /run and /tmp (tmpfs) where they are not
 * mounted yet. Logs and returns the first failure of a required one (proc, sys, dev, run).
 * Again after efivarfs arrived as a module: what is mounted already is left alone. */
int tb_initrd_mount_api(void);
/* Whether PATH is a mount point (its device differs from its parent's, or it is /). */
bool tb_initrd_is_mountpoint(const char *path);

/* Says "trustboot init: FAILED: WHY; powering off" on the console, syncs and powers off. */
_Noreturn void tb_initrd_fail(const char *why);
