/* container.h — `build-uki -t container`: the ESP files as a single-layer image in a tarball that
 * `docker load` and `skopeo copy docker-archive:…` accept (the upgrade payload). Every byte of
 * the image is written once: tar headers from libarchive, each file's data straight into its
 * place (producers sign UKIs there), the layer's digest from a read of the layer where it lies. */
#pragma once

#include <stdint.h>

#include "medium/esp.h"

typedef struct tb_container_options {
        const char *repo_tag;  /* "name:tag" recorded in manifest.json */
        const char *arch;      /* OCI architecture: "amd64" */
        int64_t epoch;         /* timestamps in the layer and the config */
} tb_container_options;

/* Called once the layer is complete in FD, before its digest is taken (a check of what was
 * written into it; a negative return fails the write). */
typedef int (*tb_container_check_fn)(int fd, void *userdata);

/* Where the data of ESP entry PATH will start in the image written for ESP as it is now: from
 * the entries before it and its own header (so from their sizes, not its own, unless its header
 * needs a pax record: sizes of 8 GiB or more). -ENOENT if PATH is no file of ESP. */
int tb_container_data_offset(const tb_esp *esp, const tb_container_options *o, const char *path, uint64_t *ret);

/* Writes the image into FD (a new, empty file), reporting errors against OUT_PATH. CHECK may be
 * NULL. Only regular files of the ESP go into the layer (as Kairos). */
int tb_container_write_fd(const tb_esp *esp, const tb_container_options *o, int fd, const char *out_path,
                          tb_container_check_fn check, void *userdata);

/* The same into OUT_PATH atomically (temp file, fsync, rename; nothing left on failure). */
int tb_container_write(const tb_esp *esp, const tb_container_options *o, const char *out_path);
