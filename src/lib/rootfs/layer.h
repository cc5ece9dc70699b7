/* layer.h — applying one image layer (a tar stream, gzip/zstd/uncompressed) onto a directory.
 *
 * The tar is hostile input. Every member name is normalized (no "..", no absolute names),
 * looked up beneath the root without following any symlink (a path through a symlink or a
 * non-directory is refused), and an error names the member. OCI whiteouts (".wh.NAME",
 * ".wh..wh..opq") remove what earlier layers made. Owners, modes (with setuid/setgid/sticky),
 * symlinks, hardlinks (inside the root only), device nodes and fifos are created as given;
 * xattrs and mtimes are ignored (the initrd has neither). */
#pragma once

#include <stdint.h>

typedef struct tb_layer_source {
        const char *name;    /* for messages, e.g. "blobs/sha256/0a1b…" */
        const char *digest;  /* "sha256:HEX" of the bytes in the file, or NULL */
        const char *diff_id; /* "sha256:HEX" of the uncompressed tar, or NULL */
        uint64_t size;       /* the blob's size from its descriptor, or UINT64_MAX */
} tb_layer_source;

/* Applies the layer read from FD onto the directory ROOTFD. Logs one line naming the layer and
 * the member on failure. -EBADMSG: malformed or hostile archive; -EIO: digest or size mismatch. */
int tb_layer_apply(int rootfd, int fd, const tb_layer_source *src);
