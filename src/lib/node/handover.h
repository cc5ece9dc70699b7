/* handover.h — giving the booted image to its own init, exactly as build-uki packed it.
 *
 * The kernel unpacked the newc archive into its rootfs keeping owners, groups, modes (setuid,
 * setgid, sticky, no umask), hardlinks, symlinks, device nodes, fifos, sockets and mtimes. So
 * nothing is copied: a bind mount of the rootfs becomes the root (the mounts init made move into
 * it), which costs no memory and keeps every inode as unpacked, and makes the root a mount with
 * a parent, so that pivot_root(2) works for container runtimes later (it refuses the rootfs
 * itself). docs/notes/boot.md has the measurements behind this choice. What newc cannot carry,
 * security.* extended attributes such as security.capability, build-uki records in a manifest
 * (rootfs/initrd.h, TB_INITRD_XATTR_MANIFEST) that is applied here before the real init runs. */
#pragma once

#include <stdint.h>

/* Checks that INIT (absolute, in the current root) exists and is executable. Logs a clear
 * refusal: the image has no init to hand over to. */
int tb_handover_check_init(const char *init);

/* Applies the extended attributes of the manifest PATH (TB_INITRD_XATTR_MANIFEST) to the
 * current root and removes it. Each attribute that cannot be set is named with the reason
 * (not fatal: the system runs, that file lacks its capability). Returns the number applied,
 * 0 without a manifest. */
int tb_handover_apply_xattrs(const char *path);

/* Makes a bind mount of / the root, with the API file systems (/proc, /sys, /dev, /run, /tmp)
 * and each mount point of EXTRA (NULL-terminated) moved into it, and chroots into it. */
int tb_handover_switch_root(const char *const *extra);

/* Bytes the root file system holds (statfs of "/"; 0 on a ramfs, which does not count). */
uint64_t tb_handover_root_bytes(void);

/* Memory in use (MemTotal - MemAvailable of /proc/meminfo), bytes; 0 if unknown. */
uint64_t tb_handover_mem_used(void);
