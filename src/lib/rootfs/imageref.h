/* imageref.h — container image references ("registry/repo:tag", "repo@sha256:…") as docker and
 * skopeo read them: the grammar of the distribution project's reference package, and Docker Hub
 * normalisation ("alpine" → "docker.io/library/alpine:latest").
 *
 * The text is untrusted (a command line, a cloud-config); nothing here touches the network. */
#pragma once

#include <stdbool.h>

#include "util/macro.h"

#define TB_IMAGEREF_NAME_MAX 255 /* the whole "domain/path" name, as distribution limits it */
#define TB_IMAGEREF_TAG_MAX 128

typedef struct tb_imageref {
        char *domain;    /* "docker.io", "quay.io", "127.0.0.1:5000", "[::1]:5000" */
        char *path;      /* "library/alpine", "kairos/fedora" */
        char *tag;       /* "latest" when neither tag nor digest was given; NULL with a digest only */
        char *digest;    /* "sha256:HEX", or NULL */
} tb_imageref;

/* Parses REF (no transport prefix). -EINVAL when it is not a reference; nothing is logged, so
 * callers can try other readings of the same text. */
int tb_imageref_parse(const char *ref, tb_imageref **ret);
void tb_imageref_free(tb_imageref *r);
TB_DEFINE_CLEANUP(tb_imageref *, tb_imageref_free);

/* "docker://REF" and "oci:REF" are always meant as registry images; a bare REF only when it
 * parses. Returns 1 and the parsed reference for a registry source, 0 when SOURCE is not written
 * as one (try the other source forms), -EINVAL (logged) for a prefixed source that does not parse. */
int tb_imageref_from_source(const char *source, tb_imageref **ret);

/* The host to talk to: Docker Hub's API lives at registry-1.docker.io. */
const char *tb_imageref_api_host(const tb_imageref *r);

/* The reference as docker prints it, fully qualified ("docker.io/library/alpine:3.20",
 * "host/repo@sha256:…"); NULL on allocation failure. */
char *tb_imageref_string(const tb_imageref *r);

/* What to ask /v2/PATH/manifests/ for: the digest if given, else the tag. */
const char *tb_imageref_manifest_ref(const tb_imageref *r);

bool tb_imageref_tag_valid(const char *tag);
