/* blobcache.h — a content-addressed cache of registry blobs: DIR/blobs/sha256/HEX, as in an OCI
 * layout. A blob enters only after its digest was verified (written to a temp name beside it,
 * then renamed), so concurrent builds sharing the cache never see a partial or wrong blob; reads
 * are verified again by whoever consumes them. Least recently used blobs go first when trimmed. */
#pragma once

#include <stdint.h>

#include "util/fileio.h"
#include "util/macro.h"

typedef struct tb_blobcache tb_blobcache;

/* DIR NULL: $XDG_CACHE_HOME/trustboot, else ~/.cache/trustboot. Creates it (0700) if needed. */
int tb_blobcache_open(const char *dir, tb_blobcache **ret);
void tb_blobcache_free(tb_blobcache *c);
TB_DEFINE_CLEANUP(tb_blobcache *, tb_blobcache_free);
const char *tb_blobcache_dir(const tb_blobcache *c);

/* Opens the blob DIGEST if present with SIZE bytes (marking it used). 1: hit, 0: miss. */
int tb_blobcache_get(tb_blobcache *c, const char *digest, uint64_t size, int *ret_fd);

/* A temp file for DIGEST in the cache; tb_blobcache_commit() after the caller verified every
 * byte, tb_atomic_abort() otherwise. */
int tb_blobcache_begin(tb_blobcache *c, const char *digest, tb_atomic_file *af);
int tb_blobcache_commit(tb_blobcache *c, tb_atomic_file *af);

/* Removes the blob DIGEST (one that failed its check on reading). */
int tb_blobcache_remove(tb_blobcache *c, const char *digest);

/* Removes least recently used blobs until the cache holds at most MAX bytes (and temp files
 * a crashed run left more than a day ago). Returns the number of bytes freed. */
int64_t tb_blobcache_trim(tb_blobcache *c, uint64_t max);
