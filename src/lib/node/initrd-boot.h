/* initrd-boot.h — what PID 1 in the UKI's initrd does with the kernel: API file systems, module
 * loading, and moving the root into a tmpfs before exec'ing the real init (shared/research/kairos.md
 * §3.1: immucore builds /sysroot in tmpfs, moves the mounts and chroots). */
#pragma once

#include <stdbool.h>

/* Mounts proc, sysfs, devtmpfs, securityfs, efivarfs, /run and /tmp (tmpfs) where they are not
 * mounted yet. Logs and returns the first failure of a required one (proc, sys, dev, run). */
int tb_initrd_mount_api(void);

/* Loads each module (absolute .ko path) listed in LIST, one a line, in order; already loaded
 * ones are fine. Returns the number loaded. */
int tb_initrd_load_modules(const char *list);

/* Copies / (the initramfs) into a tmpfs at DIR, moves the mounts (/proc, /sys, /dev, /run,
 * /tmp and each of EXTRA, NULL-terminated) into it, makes it the root and chroots into it.
 * On return the process runs in the new root. */
int tb_initrd_switch_root(const char *dir, const char *const *extra);
