/* container.h — `build-uki -t container`: the ESP files as a single-layer image in a tarball that
 * `docker load` and `skopeo copy docker-archive:…` accept (the upgrade payload). */
#pragma once

#include <stdint.h>

#include "medium/esp.h"

typedef struct tb_container_options {
        const char *repo_tag;  /* "name:tag" recorded in manifest.json */
        const char *arch;      /* OCI architecture: "amd64" */
        int64_t epoch;         /* timestamps in the layer and the config */
} tb_container_options;

/* Writes OUT_PATH atomically. Only regular files of the ESP go into the layer (as Kairos). */
int tb_container_write(const tb_esp *esp, const tb_container_options *o, const char *out_path);
