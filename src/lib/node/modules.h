/* modules.h — kernel modules from the booted image, through libkmod: what the machine needs, the
 * way udev's coldplug finds it (every modalias file below /sys/devices resolved through the image's
 * modules.alias, dependencies and soft dependencies from modules.dep / modules.softdep), and
 * what init's own job needs, by name or alias ("dm_crypt", "fs-vfat", "crypto-xts").
 *
 * Compressed modules (.ko.xz, .ko.zst) are libkmod's business: libkmod 30 (bookworm)
 * decompresses them itself and hands the kernel the plain ELF through init_module(), so the
 * module signature appended to the uncompressed file is what the kernel checks under Secure
 * Boot lockdown (finit_module on the compressed file fails there with EKEYREJECTED). Newer
 * libkmod passes the fd with MODULE_INIT_COMPRESSED_FILE when the kernel decompresses itself. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/macro.h"

typedef struct tb_modules tb_modules;

typedef struct tb_modules_stats {
        unsigned loaded; /* modules inserted by us (dependencies included) */
        unsigned failed; /* modules that failed to load (each was named in a warning) */
        uint64_t usec;   /* time spent in tb_modules_coldplug() and tb_modules_load() */
        uint64_t walk_usec; /* of which reading the modalias files of the sysfs tree */
        unsigned passes; /* coldplug passes */
} tb_modules_stats;

/* DIRNAME: the modules directory (NULL: /lib/modules/`uname -r`); SYSFS: NULL for /sys. The
 * image's /etc/modprobe.d blacklists apply. */
int tb_modules_new(const char *dirname, const char *sysfs, tb_modules **ret);
void tb_modules_free(tb_modules *m);
TB_DEFINE_CLEANUP(tb_modules *, tb_modules_free);

/* One coldplug pass over SYSFS/devices: every modalias not seen in an earlier pass is looked up
 * and its modules (with dependencies) inserted. Drivers that bind create devices with new
 * aliases: call again until it returns 0 (that is what the wait loops for disks do). A module
 * that fails is named with the reason and skipped. Returns the number of modules inserted. */
int tb_modules_coldplug(tb_modules *m);

/* Inserts NAME (a module name or an alias) with its dependencies; one already loaded or built
 * into the kernel is fine. Failures are logged naming the module and the reason, as an error
 * when REQUIRED, else as a warning. Returns 0, or a negative errno (-ENOENT: no such module). */
int tb_modules_load(tb_modules *m, const char *name, bool required);

void tb_modules_get_stats(const tb_modules *m, tb_modules_stats *ret);

/* Calls FN for each modalias file's content below DIR (recursively, symlinks not followed), in
 * directory order. Stops at FN's first negative return. */
int tb_modules_foreach_modalias(const char *dir, int (*fn)(const char *modalias, void *userdata), void *userdata);
