/* registry-opts.h — the registry options shared by every command that takes an image SOURCE
 * (build-uki, upgrade): platform, TLS, cache, timeout and size limit, declared once. */
#pragma once

#include "options.h"
#include "rootfs/rootfs.h"

int cli_parse_platform(const char *command, const char *arg, void *target);      /* const char ** */
int cli_parse_size_option(const char *command, const char *arg, void *target);   /* uint64_t * */
int cli_parse_registry_timeout(const char *command, const char *arg, void *target); /* unsigned * */

/* "123", "512K", "20M", "4G", "1T" (powers of 1024; a trailing B is allowed). */
int cli_parse_size(const char *s, uint64_t *ret);

/* REG: a tb_registry_options *; MAX_SIZE: a uint64_t * (0: the default limit). */
#define CLI_OPTS_REGISTRY(reg, max_size)                                                                         \
        CLI_OPT_GROUP("Registry images (SOURCE = REGISTRY/REPO[:TAG][@sha256:...], docker://REF or oci:REF):"), \
        CLI_OPT_CALL("platform", 0, "OS/ARCH[/VARIANT]", cli_parse_platform, &(reg)->platform,                   \
                     "image of a multi-platform index (default linux/<this machine>)"),                          \
        CLI_OPT_FLAG("allow-insecure-registries", 0, &(reg)->allow_insecure, "plain HTTP or unverified TLS (warns)"), \
        CLI_OPT_STRING("cert-dir", 0, "DIR", &(reg)->cert_dir,                                                   \
                       "CAs (*.crt) and client certificate (*.cert, *.key) for the registry\n"                   \
                       "(default /etc/containers/certs.d/HOST[:PORT], /etc/docker/certs.d/...)"),                \
        CLI_OPT_STRING("cache", 0, "DIR", &(reg)->cache_dir, "blob cache (default $XDG_CACHE_HOME/trustboot)"),  \
        CLI_OPT_FLAG("no-cache", 0, &(reg)->no_cache, "download every blob, keep nothing"),                       \
        CLI_OPT_CALL("cache-max", 0, "SIZE", cli_parse_size_option, &(reg)->cache_max,                           \
                     "evict least recently used blobs beyond SIZE (e.g. 20G)"),                                  \
        CLI_OPT_CALL("registry-timeout", 0, "SECONDS", cli_parse_registry_timeout, &(reg)->timeout,              \
                     "give up a try after SECONDS without data (default 30)"),                                   \
        CLI_OPT_CALL("max-image-size", 0, "SIZE", cli_parse_size_option, (max_size),                             \
                     "refuse images that unpack to more than SIZE (default 32G)")

#define CLI_REGISTRY_EPILOG                                                                   \
        "Registry credentials: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,\n" \
        "~/.config/containers/auth.json, ~/.docker/config.json (skopeo login / docker login).\n"
