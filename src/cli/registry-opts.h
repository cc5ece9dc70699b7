/* registry-opts.h — the registry options shared by every command that takes an image SOURCE
 * (build-uki, upgrade, initrd): platform, TLS, cache and size limits. */
#pragma once

#include <getopt.h>

#include "rootfs/rootfs.h"

enum {
        CLI_REG_PLATFORM = 0x300,
        CLI_REG_INSECURE,
        CLI_REG_CERT_DIR,
        CLI_REG_CACHE,
        CLI_REG_NO_CACHE,
        CLI_REG_CACHE_MAX,
        CLI_REG_MAX_IMAGE_SIZE,
        CLI_REG_TIMEOUT,
};

#define CLI_REGISTRY_LONG_OPTIONS                                                       \
        { "platform", required_argument, NULL, CLI_REG_PLATFORM },                      \
        { "allow-insecure-registries", no_argument, NULL, CLI_REG_INSECURE },           \
        { "cert-dir", required_argument, NULL, CLI_REG_CERT_DIR },                      \
        { "cache", required_argument, NULL, CLI_REG_CACHE },                            \
        { "no-cache", no_argument, NULL, CLI_REG_NO_CACHE },                            \
        { "cache-max", required_argument, NULL, CLI_REG_CACHE_MAX },                    \
        { "max-image-size", required_argument, NULL, CLI_REG_MAX_IMAGE_SIZE },          \
        { "registry-timeout", required_argument, NULL, CLI_REG_TIMEOUT }

#define CLI_REGISTRY_USAGE                                                                                   \
        "Registry images (SOURCE = REGISTRY/REPO[:TAG][@sha256:…], docker://REF or oci:REF):\n"             \
        "      --platform OS/ARCH[/VARIANT]  image of a multi-platform index (default linux/<this machine>)\n"  \
        "      --allow-insecure-registries   plain HTTP or unverified TLS (warns)\n"                           \
        "      --cert-dir DIR            CAs (*.crt) and client certificate (*.cert, *.key) for the registry\n" \
        "                                (default /etc/containers/certs.d/HOST[:PORT], /etc/docker/certs.d/…)\n" \
        "      --cache DIR               blob cache (default $XDG_CACHE_HOME/trustboot)\n"                    \
        "      --no-cache                download every blob, keep nothing\n"                                  \
        "      --cache-max SIZE          evict least recently used blobs beyond SIZE (e.g. 20G)\n"              \
        "      --registry-timeout SECONDS  give up a try after SECONDS without data (default 30)\n"             \
        "      --max-image-size SIZE     refuse images that unpack to more than SIZE (default 32G)\n"          \
        "  Credentials: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,\n"                        \
        "  ~/.config/containers/auth.json, ~/.docker/config.json (skopeo login / docker login).\n"

/* Handles OPT if it is one of the registry options: 1 handled, 0 not one of them, 2 usage error
 * (printed). */
int cli_registry_option(const char *cmd, int opt, const char *arg, tb_registry_options *o, uint64_t *max_image_size);

/* "123", "512K", "20M", "4G", "1T" (powers of 1024). */
int cli_parse_size(const char *s, uint64_t *ret);
