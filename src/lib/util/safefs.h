/* safefs.h — file system access that cannot be steered out of a directory by hostile names.
 *
 * Everything that unpacks untrusted archives goes through here: names are checked before use,
 * lookups are confined with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 * and removal never follows a symlink. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Turns an archive member name into a clean relative path: leading "./" and repeated or
 * trailing '/' dropped, "." components dropped. Refuses (-EINVAL) absolute names, "..",
 * NUL-free but empty results and names longer than PATH_MAX. The root itself ("./") gives "".
 * RET is a new string. */
int tb_path_normalize(const char *name, char **ret);

/* openat2() confined beneath DIRFD, no symlinks followed at all. FLAGS as for openat().
 * Returns the fd or a negative errno (-ELOOP for a symlink on the way, -EXDEV for an escape). */
int tb_openat_beneath(int dirfd, const char *path, int flags);

/* Opens the directory PATH (normalized, relative) under ROOTFD as an O_PATH fd, creating
 * missing components with mode 0755. A symlink or a non-directory on the way is an error
 * (-ELOOP / -ENOTDIR); "" gives a new fd for ROOTFD itself. */
int tb_mkdir_beneath(int rootfd, const char *path, int *ret_fd);

/* Removes NAME in DIRFD, recursively if it is a directory; never follows symlinks.
 * A missing NAME is not an error. */
int tb_rm_rf_at(int dirfd, const char *name);

/* Calls FN for every entry of the directory DIRFD except "." and "..", with an fd for the
 * directory; the first negative return stops the loop and is returned. */
int tb_dir_foreach(int dirfd, int (*fn)(int dfd, const char *name, void *userdata), void *userdata);

/* Removes everything inside the directory DIRFD, leaving it empty. */
int tb_rm_children_at(int dirfd);

/* Splits a normalized path into its directory part (new string, "" for top level) and a
 * pointer to the last component inside PATH. */
int tb_path_split(const char *path, char **ret_dir, const char **ret_base);
