/* registry.h — pulling images from, and pushing them to, a container registry (the OCI
 * distribution spec v1.1 and the Docker Registry HTTP API v2) over libcurl.
 *
 * Everything a registry sends is untrusted: manifests are size-limited and verified against the
 * digest that names them, every blob byte is hashed on its way in and the layer is refused
 * (and the unpacked tree discarded by the caller) unless digest, size and diff_id all match.
 * Auth (anonymous, Basic, Bearer tokens) follows the registry's WWW-Authenticate challenge with
 * the user's `skopeo login` / `docker login` credentials (regauth.h); TLS uses the system CAs
 * plus certs.d per registry. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "rootfs/imageref.h"
#include "rootfs/layer.h"
#include "rootfs/oci.h"

typedef struct tb_registry_options {
        const char *platform;    /* "OS/ARCH[/VARIANT]"; NULL: linux/<this machine> */
        bool allow_insecure;     /* plain HTTP, or TLS without verification; warns */
        const char *cert_dir;    /* CAs (*.crt) and client certs (*.cert + *.key); NULL: certs.d */
        const char *cache_dir;   /* NULL: $XDG_CACHE_HOME/trustboot */
        bool no_cache;
        uint64_t cache_max;      /* trim the cache to this many bytes after a pull; 0: no limit */
        unsigned timeout;        /* seconds without a byte before a try is given up; 0: 30 */
        unsigned retries;        /* more tries after a 429/5xx/dropped connection; 0: 4 */
} tb_registry_options;

/* Checks and parses "OS/ARCH[/VARIANT]" (e.g. from --platform) into RET (pointing into BUF). */
int tb_registry_parse_platform(const char *s, char *buf, size_t bufsize, tb_oci_platform *ret);

typedef struct tb_registry_layer_info {
        char digest[TB_OCI_DIGEST_MAX];
        uint64_t size;
        bool cached;
} tb_registry_layer_info;

/* What a pull did, for --json. */
typedef struct tb_registry_summary {
        char *reference;       /* fully qualified */
        char manifest_digest[TB_OCI_DIGEST_MAX];
        char platform[64];
        tb_registry_layer_info *layers;
        size_t n_layers;
        uint64_t downloaded;   /* blob bytes that came over the network */
        uint64_t from_cache;   /* blob bytes read from the cache */
} tb_registry_summary;

void tb_registry_summary_done(tb_registry_summary *s);
/* {"reference":…, "digest":…, "platform":…, "layers":[{"digest","size","cached"}],
 *  "downloaded_bytes":…, "cached_bytes":…} */
json_object *tb_registry_summary_json(const tb_registry_summary *s);

/* Pulls REF and applies its layers, lowest first, onto the directory ROOTFD (empty, private to
 * the caller, who removes it on failure). BUDGET limits the unpacked size. Logs one line on
 * failure. SUMMARY may be NULL. */
int tb_registry_pull(const tb_imageref *ref, const tb_registry_options *o, int rootfd, tb_layer_budget *budget,
                     tb_registry_summary *summary);

/* Pushes the docker-archive tarball ARCHIVE (one image, as `build-uki -t container` writes it) to
 * REF as an OCI image: blobs the repository has are skipped, blobs in MOUNT_FROM (a repository
 * on the same registry, or NULL) are mounted, the others uploaded (monolithic for small blobs,
 * chunked above 64 MiB), then the manifest. *RET_PINNED is "REGISTRY/REPO@sha256:…". */
int tb_registry_push_archive(const char *archive, const tb_imageref *ref, const char *mount_from,
                             const tb_registry_options *o, char **ret_pinned);
