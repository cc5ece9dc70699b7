/* fileio.h — reading whole files and writing outputs atomically (temp file, fsync, rename).
 *
 * Functions that take a path log nothing: they return a negative errno and the caller, who
 * knows what the file is for, logs "PATH: what failed: strerror" once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/progress.h"

/* Reads all of PATH into OUT (appending). Fails with -EFBIG if it is larger than MAX bytes. */
int tb_read_file(const char *path, size_t max, tb_buf *out);
/* Appends FD's bytes to its end to OUT; -EFBIG once OUT holds more than MAX. */
int tb_read_fd(int fd, size_t max, tb_buf *out);

/* Reads a secret (a private key, a PIN file) into the empty buffer OUT, allocated once with the
 * size fstat() reports (MAX for a pipe): no growing buffer leaves copies behind. -EFBIG over
 * MAX, -ESTALE if a file grows while read. Wipe OUT with tb_buf_wipe() on every path. */
int tb_read_secret_file(const char *path, size_t max, tb_buf *out);

int tb_write_all(int fd, const void *data, size_t len);
/* Copies IN from its position to its end into OUT, counting the bytes into PROGRESS (may be
 * NULL; see progress.h: a status line on a terminal only). */
int tb_copy_fd(int in, int out, tb_progress *progress);
/* tb_copy_fd() that adds what it copies to *TOTAL and stops with -EFBIG, before writing them,
 * at the bytes that would take *TOTAL past LIMIT (0: no limit; then TOTAL may be NULL). With a
 * limit the copy goes through user space: the kernel's copy would write before the check. */
int tb_copy_fd_limited(int in, int out, tb_progress *progress, uint64_t *total, uint64_t limit);
int tb_read_full(int fd, void *data, size_t len); /* -EIO on short read (EOF) */
int tb_pread_full(int fd, void *data, size_t len, off_t off);
int tb_pwrite_all(int fd, const void *data, size_t len, off_t off);

/* An output file being written: a hidden temp file next to the final path. */
typedef struct tb_atomic_file {
        int fd;
        char *tmp_path;
        char *final_path;
} tb_atomic_file;

#define TB_ATOMIC_FILE_INIT { -1, NULL, NULL }

/* Creates "DIR/.NAME.tmp.XXXXXX" with MODE (applied exactly, not through the umask). */
int tb_atomic_open(const char *path, mode_t mode, tb_atomic_file *af);
/* fsync, rename over the final path (replacing it), fsync the directory. */
int tb_atomic_commit(tb_atomic_file *af);
/* Like commit, but fails with -EEXIST instead of replacing an existing file. */
int tb_atomic_commit_noreplace(tb_atomic_file *af);
/* Removes the temp file; safe to call on an already committed or never opened file. */
void tb_atomic_abort(tb_atomic_file *af);

static inline void tb_atomic_abortp(tb_atomic_file *af) {
        tb_atomic_abort(af);
}

/* Copies SRC into a new temp file for DST with MODE, streaming (a UKI is hundreds of MiB), with a
 * progress line on a terminal, and fsyncs it; tb_atomic_commit() puts it in place. */
int tb_atomic_copy(const char *src, const char *dst, mode_t mode, tb_atomic_file *af);
/* Where work directories go by default: $TMPDIR, else /var/tmp if writable, else /tmp. */
const char *tb_tmpdir_default(void);
/* The one work-directory creator: a new private (0700) directory PARENT/NAME.XXXXXX (PARENT NULL:
 * tb_tmpdir_default()). Logs the failure with PARENT. Remove it with tb_rm_rf(). */
int tb_workdir_create(const char *parent, const char *name, char **ret);

/* The one file copy: SRC to DST with MODE through a temp file, fsynced, renamed into place
 * (REPLACE: over an existing DST; else DST must not exist). Logs the failure with both paths. */
int tb_copy_file(const char *src, const char *dst, mode_t mode, bool replace);
/* Writes DATA to PATH atomically with MODE. */
int tb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace);

/* fsync the directory holding PATH, so that a rename in it is durable. */
int tb_fsync_parent(const char *path);

/* Joins DIR and NAME with one '/'; returns NULL on allocation failure. */
char *tb_path_join(const char *dir, const char *name);

bool tb_path_exists(const char *path);

/* Removes PATH and, if it is a directory, everything below it (symlinks are not followed,
 * other file systems not entered). Best effort: errors are ignored. */
void tb_rm_rf(const char *path);

/* Creates PATH exclusively with MODE, writes DATA and fsyncs; removes it again on failure. */
int tb_write_file_new(const char *path, const void *data, size_t len, mode_t mode);

/* A set of files written together: into a staging directory first, then moved into TARGET_DIR
 * all at once, so that a failure half-way leaves nothing behind.
 *  - TARGET_DIR missing: the staging dir is a sibling and becomes TARGET_DIR by one rename
 *    (missing parents are created with DIR_MODE and removed again on abort).
 *  - TARGET_DIR present: the staging dir is inside it; commit renames each file out of it. */
typedef struct tb_stage {
        char *target;
        char *dir;             /* where to write the files */
        char *created_parent;  /* topmost parent directory we created, removed on abort */
        bool whole_dir;
} tb_stage;

#define TB_STAGE_INIT { NULL, NULL, NULL, false }

/* On failure S still records what was created: call tb_stage_abort() (use the cleanup helper). */
int tb_stage_begin(const char *target_dir, mode_t dir_mode, tb_stage *s);
/* Moves NAMES (files written in s->dir) into the target. Without REPLACE an existing file makes
 * it fail with -EEXIST and every file already moved is moved back. */
int tb_stage_commit(tb_stage *s, const char *const *names, size_t n_names, bool replace);
void tb_stage_abort(tb_stage *s);

static inline void tb_stage_abortp(tb_stage *s) {
        tb_stage_abort(s);
}
