/* fileio.h — reading whole files and writing outputs atomically (temp file, fsync, rename).
 *
 * Functions that take a path log nothing: they return a negative errno and the caller, who
 * knows what the file is for, logs "PATH: what failed: strerror" once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Reads all of PATH into OUT (appending). Fails with -EFBIG if it is larger than MAX bytes. */
int tb_read_file(const char *path, size_t max, tb_buf *out);

int tb_write_all(int fd, const void *data, size_t len);
int tb_read_full(int fd, void *data, size_t len); /* -EIO on short read (EOF) */
int tb_pread_full(int fd, void *data, size_t len, off_t off);

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

/* Writes DATA to PATH atomically with MODE. */
int tb_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, bool replace);

/* fsync the directory holding PATH, so that a rename in it is durable. */
int tb_fsync_parent(const char *path);

/* Joins DIR and NAME with one '/'; returns NULL on allocation failure. */
char *tb_path_join(const char *dir, const char *name);

bool tb_path_exists(const char *path);
