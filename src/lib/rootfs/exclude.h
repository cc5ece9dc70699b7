/* exclude.h — which paths of a root file system stay out of the initrd: gitignore-style patterns
 * (--exclude) and the --slim preset, matched while the tree is walked, so nothing excluded is
 * ever opened or read.
 *
 * Pattern rules (gitignore(5)): a pattern without a '/' (other than a trailing one) matches a
 * name at any depth; with one it is anchored at the root (a leading '/' is allowed); a trailing
 * '/' matches directories only; '*', '?' and '[...]' match within one component, a component
 * '**' matches any number of components; a leading '!' takes a path back in. The last matching
 * pattern decides. An excluded directory is left out with everything below it, so a '!' cannot
 * bring back something inside it (as in git). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rootfs/rootfs.h"

typedef struct tb_exclude tb_exclude;

int tb_exclude_new(tb_exclude **ret);
void tb_exclude_free(tb_exclude *x);
TB_DEFINE_CLEANUP(tb_exclude *, tb_exclude_free);

/* Adds PATTERN. -EINVAL for a malformed one; *RET_WHY (static) then says what is wrong. */
int tb_exclude_add(tb_exclude *x, const char *pattern, const char **ret_why);

/* The --slim preset: documentation, man and info pages, locales other than the ones FS
 * configures (/etc/locale.conf, /etc/default/locale; none: all go), static libraries and
 * headers, package-manager caches. */
int tb_exclude_add_slim(tb_exclude *x, tb_rootfs *fs);

typedef enum tb_exclude_result {
        TB_EXCLUDE_KEEP = 0,
        TB_EXCLUDE_DROP = 1,
} tb_exclude_result;

/* Whether PATH (relative, '/'-separated, as tb_rootfs_entry.path) is excluded. If RET_GROUP is
 * not NULL it gets the --slim group of the deciding pattern ("documentation", "man/info pages",
 * "locales", "static libraries and headers", "package-manager caches"), or NULL. */
tb_exclude_result tb_exclude_match(const tb_exclude *x, const char *path, bool is_dir, const char **ret_group);

size_t tb_exclude_count(const tb_exclude *x);

/* What --slim and --exclude ask for, in that order (so that a user's '!' can take back what
 * --slim drops). *RET is NULL when there is nothing to exclude. Logs a malformed pattern. */
int tb_exclude_from_options(tb_rootfs *fs, const char *const *patterns, size_t n, bool slim, tb_exclude **ret);

/* The --slim patterns (before the locales kept are known), NULL-terminated, for documentation. */
extern const char *const tb_exclude_slim_patterns[];
