/* oci.h — OCI image layouts and docker-archive manifests: from index.json or manifest.json to
 * the ordered list of layer blobs with the digests they must have.
 *
 * All JSON here is untrusted. Blob paths are built from validated digests ("sha256:" and 64 hex
 * digits), never from free text, except the docker-archive member names, which the caller looks
 * up in its own table of archive members. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

#define TB_OCI_DIGEST_MAX (7 + 64 + 1)
#define TB_OCI_JSON_MAX ((size_t)4 << 20)

bool tb_oci_digest_valid(const char *digest);
void tb_oci_digest_format(const uint8_t sha256[32], char out[TB_OCI_DIGEST_MAX]);

typedef struct tb_oci_layer {
        char *path;    /* the blob inside the image, e.g. "blobs/sha256/HEX" or "ID/layer.tar" */
        char *digest;  /* of the blob as stored, or NULL (docker archives do not say) */
        char *diff_id; /* of the uncompressed tar, from the image config */
        uint64_t size; /* of the blob, or UINT64_MAX */
} tb_oci_layer;

typedef struct tb_oci_image {
        tb_oci_layer *layers; /* lowest first */
        size_t n_layers;
} tb_oci_image;

void tb_oci_image_free(tb_oci_image *img);
TB_DEFINE_CLEANUP(tb_oci_image *, tb_oci_image_free);

/* Opens the file PATH of the image (relative to the layout or archive root) for reading. */
typedef int (*tb_oci_open_fn)(void *userdata, const char *path, int *ret_fd);

/* Loads the image: index.json (OCI layout, also in OCI archives and docker save ≥ 25) when
 * present, else manifest.json (docker save, skopeo docker-archive). TAG selects the image
 * (org.opencontainers.image.ref.name, or a RepoTags entry); NULL means the only one.
 * Manifest and config digests are verified here; layer digests by tb_layer_apply(). */
int tb_oci_load(tb_oci_open_fn open_fn, void *userdata, const char *tag, tb_oci_image **ret);

/* The parsers below take a document in memory; NAME is used in messages. */
typedef struct tb_oci_descriptor {
        char media_type[128];
        char digest[TB_OCI_DIGEST_MAX];
        uint64_t size;
} tb_oci_descriptor;

/* Picks the manifest (or nested index) for TAG, or for this machine's platform, from an index. */
int tb_oci_parse_index(const char *name, const char *json, size_t len, const char *tag, tb_oci_descriptor *ret);
/* Fills IMG's layers and returns the config descriptor. */
int tb_oci_parse_manifest(const char *name, const char *json, size_t len, tb_oci_image *img, tb_oci_descriptor *config);
/* Sets each layer's diff_id from rootfs.diff_ids; their number must match. */
int tb_oci_parse_config(const char *name, const char *json, size_t len, tb_oci_image *img);
/* docker manifest.json: the entry for TAG; returns its config path and fills IMG's layer paths. */
int tb_oci_parse_docker_manifest(const char *name, const char *json, size_t len, const char *tag,
                                 char **ret_config, tb_oci_image *img);

/* An image platform, as in an index's "platform": os "linux", arch "amd64", variant "v8" or NULL. */
typedef struct tb_oci_platform {
        const char *os;
        const char *arch;
        const char *variant;
} tb_oci_platform;

/* Picks the manifest for platform WANT from an index (a variant is matched only when WANT
 * names one). -ENOENT (logged, with the platforms the index has) when there is none. */
int tb_oci_select_platform(const char *name, const char *json, size_t len, const tb_oci_platform *want,
                           tb_oci_descriptor *ret);

/* This machine's architecture in OCI spelling ("amd64", "arm64"), "" if unknown. */
const char *tb_oci_host_arch(void);
