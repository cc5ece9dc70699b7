/* initrd.h — the whole root file system as a reproducible newc cpio, compressed, streamed.
 *
 * Entries come in tb_rootfs_walk() order; inode numbers are assigned in that order, hardlinks
 * share the first one's number (the data travels with the first name, later names are empty,
 * which the kernel, GNU cpio and libarchive all link up); owners and modes are kept; every mtime
 * is the given epoch. The contents of /boot /proc /sys /dev /run /tmp are left out, the
 * directories themselves kept. Every output byte is handed to an optional sink as it is
 * written, so a caller can hash the file in the same pass. */
#pragma once

/* Extended attributes newc cannot carry: every security.* attribute but security.selinux of the
 * regular files and directories (file capabilities: Debian's ping), as a text file at the end
 * of the archive, which `trustboot init` applies and removes before the image's init runs.
 * First line TB_INITRD_XATTR_MANIFEST_HEADER, then one line per attribute:
 * "HEX(path) NAME HEX(value)", path relative to the root. */
#define TB_INITRD_XATTR_MANIFEST "/.trustboot-xattrs"
#define TB_INITRD_XATTR_MANIFEST_HEADER "trustboot-xattrs 1"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rootfs/exclude.h"
#include "rootfs/rootfs.h"

typedef enum tb_initrd_compression {
        TB_INITRD_ZSTD,
        TB_INITRD_XZ,
        TB_INITRD_GZIP,
        TB_INITRD_NONE,
} tb_initrd_compression;

/* Called with each block of the (compressed) output, in order, after it was written. */
typedef int (*tb_initrd_sink_fn)(const void *data, size_t len, void *userdata);

typedef struct tb_initrd_options {
        tb_initrd_compression compression;
        int level;              /* -1: the default (zstd 6, xz 6, gzip 6) */
        unsigned threads;       /* 0: every online CPU (zstd only; xz stays single-threaded) */
        uint64_t mtime;         /* SOURCE_DATE_EPOCH */
        const char *init;       /* if set, /init is a symlink to this, replacing the tree's */
        const tb_exclude *exclude; /* paths left out (never read), or NULL */
        tb_initrd_sink_fn sink; /* may be NULL */
        void *sink_userdata;
} tb_initrd_options;

typedef struct tb_initrd_stats {
        uint64_t entries;
        uint64_t hardlinks; /* entries written as a further name of an earlier inode */
        uint64_t excluded;  /* entries left out by the exclude patterns (an excluded directory counts once) */
        uint64_t bytes_in;  /* uncompressed cpio size */
        uint64_t bytes_out; /* file size */
} tb_initrd_stats;

/* Defaults: zstd, level -1, all CPUs, mtime from $SOURCE_DATE_EPOCH (0 if unset).
 * -EINVAL (logged) if SOURCE_DATE_EPOCH is set but not a number. */
int tb_initrd_options_init(tb_initrd_options *o);

int tb_initrd_compression_from_string(const char *s, tb_initrd_compression *ret);
const char *tb_initrd_compression_to_string(tb_initrd_compression c);

/* Whether the top-level directory NAME goes into the initrd empty (boot, dev, proc, run, sys, tmp). */
bool tb_initrd_empties(const char *name);

/* An upper bound of the size tb_initrd_write() will write for FS with O, from one walk over the
 * tree (stat only, nothing is read): the place of what follows the initrd can be laid out
 * before it is compressed. Holds as long as the tree does not change. */
int tb_initrd_size_bound(tb_rootfs *fs, const tb_initrd_options *o, uint64_t *ret);

/* Writes the initrd of FS to FD (from its current offset). STATS may be NULL. Logs its errors. */
int tb_initrd_write(tb_rootfs *fs, int fd, const tb_initrd_options *o, tb_initrd_stats *stats);
