/* regauth.h — registry authentication as docker and skopeo do it: the WWW-Authenticate challenge
 * of a 401 (RFC 7235; Basic, or Bearer with realm/service/scope for a token server), and the
 * credentials a user stored with `skopeo login` / `podman login` / `docker login`.
 *
 * Both inputs are untrusted text. Secrets are never logged; every buffer that held one is wiped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

typedef enum tb_regauth_scheme {
        TB_REGAUTH_NONE,
        TB_REGAUTH_BASIC,
        TB_REGAUTH_BEARER,
} tb_regauth_scheme;

typedef struct tb_regauth_challenge {
        tb_regauth_scheme scheme;
        char *realm;   /* Bearer: the token server URL; Basic: informative */
        char *service; /* may be NULL */
        char *scope;   /* may be NULL */
} tb_regauth_challenge;

/* Parses a WWW-Authenticate header value (LEN bytes, not necessarily NUL-terminated). Of several
 * challenges the first Bearer wins, else the first Basic. -EINVAL: malformed or no scheme we
 * speak; -ENOMEM. A Bearer challenge without a realm is malformed. */
int tb_regauth_parse_challenge(const char *header, size_t len, tb_regauth_challenge *ret);
void tb_regauth_challenge_done(tb_regauth_challenge *c);

typedef struct tb_regauth_creds {
        char *username;
        char *password; /* wiped by tb_regauth_creds_done() */
        char *file;     /* where they came from, for messages */
} tb_regauth_creds;

void tb_regauth_creds_done(tb_regauth_creds *c);

/* Looks up REGISTRY (as in the reference: "quay.io", "127.0.0.1:5000", "docker.io") and REPO
 * ("kairos/fedora") in an auth file's text: the "auths" entry whose key is the most specific
 * match ("host/ns/repo" over "host"; "https://index.docker.io/v1/" counts as docker.io), with a
 * base64 "auth" of "user:password" (or "username"/"password" members). Returns 1 and fills RET
 * when found, 0 when the file has nothing for it, -EBADMSG when it is malformed. */
int tb_regauth_parse_authfile(const char *json, size_t len, const char *registry, const char *repo,
                              tb_regauth_creds *ret);

/* The auth files in the order the containers tools read them: $REGISTRY_AUTH_FILE (else
 * $XDG_RUNTIME_DIR/containers/auth.json), ~/.config/containers/auth.json, ~/.docker/config.json.
 * The first one that has an entry wins. Returns 1 (found), 0 (anonymous), or a negative errno
 * (logged: a file that exists but cannot be read or parsed). */
int tb_regauth_lookup(const char *registry, const char *repo, tb_regauth_creds *ret);
