/* rootfs.h — a root file system source, seen as one sorted stream of entries.
 *
 * Sources: "dir:PATH" (read in place, never copied), "ocifile:FILE[:TAG]" (a docker save
 * tarball or an OCI archive, told apart by their contents), "oci-layout:PATH[:TAG]", and registry
 * images: "docker://REF", "oci:REF" or a bare REF that parses as an image reference (imageref.h).
 * Images are unpacked layer by layer into a private work area (removed by tb_rootfs_free());
 * overlay directories are merged while walking, their entries winning: a non-directory hides
 * what lies below it, directories of the same name are merged. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "rootfs/layer.h"
#include "rootfs/registry.h"
#include "util/macro.h"

typedef struct tb_rootfs tb_rootfs;

#define TB_ROOTFS_MAX_OVERLAYS 8

typedef struct tb_rootfs_options {
        const char *const *overlays; /* directories merged on top, each winning over the previous */
        size_t n_overlays;
        const char *workdir; /* where images are unpacked; NULL: $TMPDIR, else /var/tmp */
        uint64_t max_image_size;  /* uncompressed bytes of all layers; 0: TB_LAYER_DEFAULT_MAX_BYTES */
        const tb_registry_options *registry; /* for registry sources; NULL: defaults */
        tb_registry_summary *summary;        /* filled by a registry pull, or NULL */
} tb_rootfs_options;

/* Opens SOURCE; for images this unpacks every layer (verifying digests). Logs its errors. */
int tb_rootfs_open(const char *source, const tb_rootfs_options *opts, tb_rootfs **ret);
void tb_rootfs_free(tb_rootfs *fs);
TB_DEFINE_CLEANUP(tb_rootfs *, tb_rootfs_free);

typedef struct tb_rootfs_entry {
        const char *path;        /* relative, "usr/bin/ls"; the root itself is not visited */
        const char *name;        /* the last component of path */
        unsigned depth;          /* 1 for top-level entries */
        struct stat st;          /* lstat() of the entry */
        const char *link_target; /* symlinks only */
        int dirfd;               /* the directory holding it: openat(dirfd, name, ...) */
} tb_rootfs_entry;

#define TB_ROOTFS_SKIP 1 /* returned by a visitor: do not descend into this directory */

typedef int (*tb_rootfs_visit_fn)(const tb_rootfs_entry *e, void *userdata);

/* Visits every entry in path order: a directory right before its contents, the entries of a
 * directory sorted bytewise by name. A negative return from FN stops the walk and is returned. */
int tb_rootfs_walk(tb_rootfs *fs, tb_rootfs_visit_fn fn, void *userdata);

/* Finds the kernel: /boot/vmlinuz (a file, or a symlink resolved inside the tree), else the
 * newest /boot/vmlinuz-*, else the newest /usr/lib/modules/ * /vmlinuz. Returns its path
 * (relative) and an fd open for reading. -ENOENT (logged) if there is none. */
int tb_rootfs_find_kernel(tb_rootfs *fs, char **ret_path, int *ret_fd);

/* Opens the regular file PATH (relative) of the merged tree for reading, symlinks resolved
 * inside the tree. -ENOENT if there is none, -EISDIR if it is not a regular file. */
int tb_rootfs_open_file(tb_rootfs *fs, const char *path, int *ret_fd);
