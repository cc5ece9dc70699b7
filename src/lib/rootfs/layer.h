/* layer.h — applying one image layer (a tar stream, gzip/zstd/uncompressed) onto a directory.
 *
 * The tar is hostile input. Every member name is normalized (no "..", no absolute names),
 * looked up beneath the root without following any symlink (a path through a symlink or a
 * non-directory is refused), and an error names the member. OCI whiteouts (".wh.NAME",
 * ".wh..wh..opq") remove what earlier layers made. Owners, modes (with setuid/setgid/sticky),
 * symlinks, hardlinks (inside the root only), device nodes and fifos are created as given;
 * the security.* xattrs the initrd carries (rootfs/xattr.h: file capabilities) are set on files
 * and directories; mtimes are ignored (the initrd has none). */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Reads up to LEN bytes of the blob: > 0 bytes, 0 at its end, or a negative errno that the
 * reader has already logged (a download that failed says why itself; the layer says nothing). */
typedef ssize_t (*tb_layer_read_fn)(void *userdata, void *buf, size_t len);

/* What all layers of one image may add up to: hostile images are often small blobs that
 * decompress to far more than any disk holds, or to millions of empty files. */
typedef struct tb_layer_budget {
        uint64_t bytes;   /* uncompressed tar bytes left */
        uint64_t entries; /* tar members left */
        uint64_t max_bytes, max_entries; /* the limits, for messages */
} tb_layer_budget;

#define TB_LAYER_DEFAULT_MAX_BYTES ((uint64_t)32 << 30) /* 32 GiB uncompressed */
#define TB_LAYER_DEFAULT_MAX_ENTRIES ((uint64_t)8 << 20)

void tb_layer_budget_init(tb_layer_budget *b, uint64_t max_bytes, uint64_t max_entries);

typedef struct tb_layer_source {
        const char *name;    /* for messages, e.g. "blobs/sha256/0a1b…" */
        const char *digest;  /* "sha256:HEX" of the bytes in the file, or NULL */
        const char *diff_id; /* "sha256:HEX" of the uncompressed tar, or NULL */
        uint64_t size;       /* the blob's size from its descriptor, or UINT64_MAX */
        tb_layer_read_fn read; /* if set, the blob comes from here instead of the fd */
        void *read_userdata;
        tb_layer_budget *budget; /* shared by the image's layers, or NULL: no limit */
} tb_layer_source;

/* Applies the layer read from FD onto the directory ROOTFD. Logs one line naming the layer and
 * the member on failure. -EBADMSG: malformed or hostile archive; -EIO: digest or size mismatch;
 * -EFBIG: over the budget. */
int tb_layer_apply(int rootfd, int fd, const tb_layer_source *src);
