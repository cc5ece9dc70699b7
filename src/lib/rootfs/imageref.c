#include "rootfs/imageref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/log.h"

#define DOCKER_HUB "docker.io"
#define DOCKER_HUB_API "registry-1.docker.io"

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t n) {
        size_t i = 0;

        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                /* A separator: exactly one '.', one or two '_', or any run of '-'. */
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
                else if (s[i] == '-')
                        while (i < n && s[i] == '-')
                                i++;
                else
                        return false;
                if (i >= n || !is_lower_alnum(s[i]))
                        return false;
        }
        return true;
}

static bool path_valid(const char *s) {
        const char *start = s;

        for (;;) {
                const char *slash = strchr(start, '/');
                size_t n = slash ? (size_t)(slash - start) : strlen(start);

                if (!path_component_valid(start, n))
                        return false;
                if (!slash)
                        return true;
                start = slash + 1;
        }
}

/* domain-component: [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]; joined by '.'; optional
 * ":PORT"; or an IPv6 address in brackets. */
static bool domain_valid(const char *s) {
        const char *colon, *end;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                if (!close || close == s + 1)
                        return false;
                for (const char *p = s + 1; p < close; p++)
                        if (!is_hex((char)(*p | 0x20)) && *p != ':' && *p != '.')
                                return false;
                colon = close[1] ? close + 1 : NULL;
                if (colon && *colon != ':')
                        return false;
        } else {
                colon = strchr(s, ':');
                end = colon ? colon : s + strlen(s);
                if (end == s)
                        return false;
                for (const char *p = s; p < end;) {
                        const char *dot = memchr(p, '.', (size_t)(end - p));
                        const char *cend = dot ? dot : end;

                        if (cend == p || !is_alnum(p[0]) || !is_alnum(cend[-1]))
                                return false;
                        for (const char *q = p; q < cend; q++)
                                if (!is_alnum(*q) && *q != '-')
                                        return false;
                        p = dot ? dot + 1 : end;
                        if (dot && p == end)
                                return false;
                }
        }
        if (colon) {
                if (!colon[1] || strlen(colon + 1) > 5)
                        return false;
                for (const char *p = colon + 1; *p; p++)
                        if (*p < '0' || *p > '9')
                                return false;
        }
        return true;
}

bool tb_imageref_tag_valid(const char *tag) {
        size_t n = strlen(tag);

        if (n == 0 || n > TB_IMAGEREF_TAG_MAX || !(is_alnum(tag[0]) || tag[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(is_alnum(tag[i]) || tag[i] == '_' || tag[i] == '.' || tag[i] == '-'))
                        return false;
        return true;
}

static bool digest_valid(const char *d) {
        if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
                return false;
        for (const char *p = d + 7; *p; p++)
                if (!is_hex(*p))
                        return false;
        return true;
}

void tb_imageref_free(tb_imageref *r) {
        if (!r)
                return;
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        free(r);
}

int tb_imageref_parse(const char *ref, tb_imageref **ret) {
        _cleanup_(tb_imageref_freep) tb_imageref *r = NULL;
        _cleanup_(freep) char *name = NULL;
        const char *at, *slash, *last_slash, *colon, *rest;
        size_t hexlen = 0;

        if (!ref || !*ref || strlen(ref) > 4096)
                return -EINVAL;
        /* A bare 64-hex string is an image ID to docker, never a name. */
        while (is_hex(ref[hexlen]))
                hexlen++;
        if (hexlen == 64 && ref[64] == '\0')
                return -EINVAL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        at = strchr(ref, '@');
        if (at) {
                if (!digest_valid(at + 1))
                        return -EINVAL;
                r->digest = strdup(at + 1);
                name = strndup(ref, (size_t)(at - ref));
        } else
                name = strdup(ref);
        if (!name || (at && !r->digest))
                return -ENOMEM;

        /* The tag is after the last ':' that follows the last '/' (a ':' before it is a port). */
        last_slash = strrchr(name, '/');
        colon = strrchr(last_slash ? last_slash : name, ':');
        if (colon) {
                if (!tb_imageref_tag_valid(colon + 1))
                        return -EINVAL;
                r->tag = strdup(colon + 1);
                if (!r->tag)
                        return -ENOMEM;
                name[colon - name] = '\0';
        }
        if (!name[0] || strlen(name) > TB_IMAGEREF_NAME_MAX)
                return -EINVAL;

        /* docker's splitDockerDomain: the first component is a registry host if it has a '.' or
         * a ':', is "localhost", or has upper case letters (which a path may not); otherwise the
         * image is on Docker Hub, and a one-component name is an official image ("library/"). */
        slash = strchr(name, '/');
        if (slash) {
                size_t n = (size_t)(slash - name);
                bool upper = false;

                for (size_t i = 0; i < n; i++)
                        upper |= name[i] >= 'A' && name[i] <= 'Z';
                if (memchr(name, '.', n) || memchr(name, ':', n) || (n == 9 && strncmp(name, "localhost", 9) == 0) ||
                    upper) {
                        r->domain = strndup(name, n);
                        rest = slash + 1;
                } else {
                        r->domain = strdup(DOCKER_HUB);
                        rest = name;
                }
        } else {
                r->domain = strdup(DOCKER_HUB);
                rest = name;
        }
        if (!r->domain)
                return -ENOMEM;
        if (!domain_valid(r->domain) || !path_valid(rest))
                return -EINVAL;
        if (strcmp(r->domain, "index.docker.io") == 0) {
                free(r->domain);
                r->domain = strdup(DOCKER_HUB);
                if (!r->domain)
                        return -ENOMEM;
        }
        if (strcmp(r->domain, DOCKER_HUB) == 0 && !strchr(rest, '/')) {
                if (asprintf(&r->path, "library/%s", rest) < 0)
                        r->path = NULL;
        } else
                r->path = strdup(rest);
        if (!r->path)
                return -ENOMEM;
        if (strlen(r->domain) + 1 + strlen(r->path) > TB_IMAGEREF_NAME_MAX)
                return -EINVAL;
        if (!r->tag && !r->digest) {
                r->tag = strdup("latest");
                if (!r->tag)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

/* skopeo transports that are not registries: their spelling would otherwise parse as
 * "NAME:TAG" on Docker Hub ("docker-daemon:alpine"), which is never what was meant. */
static const char *const foreign_transports[] = {
        "docker:", "docker-daemon:", "docker-archive:", "oci-archive:", "containers-storage:", "dir:", "sif:",
};

int tb_imageref_from_source(const char *source, tb_imageref **ret) {
        const char *text = NULL;
        int r;

        if (strncmp(source, "docker://", 9) == 0)
                text = source + 9;
        else if (strncmp(source, "oci:", 4) == 0)
                text = source + 4;
        if (text) {
                r = tb_imageref_parse(text, ret);
                if (r == -EINVAL)
                        tb_err("%s: not an image reference (REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST])", source);
                return r < 0 ? r : 1;
        }
        for (size_t i = 0; i < ARRAY_SIZE(foreign_transports); i++)
                if (strncmp(source, foreign_transports[i], strlen(foreign_transports[i])) == 0)
                        return 0;
        /* An existing file or directory is meant as one, never as a name on Docker Hub. */
        if (tb_path_exists(source))
                return 0;
        r = tb_imageref_parse(source, ret);
        if (r == -EINVAL)
                return 0;
        return r < 0 ? r : 1;
}

const char *tb_imageref_api_host(const tb_imageref *r) {
        return strcmp(r->domain, DOCKER_HUB) == 0 ? DOCKER_HUB_API : r->domain;
}

char *tb_imageref_string(const tb_imageref *r) {
        char *s;

        if (asprintf(&s, "%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ?: "", r->digest ? "@" : "",
                     r->digest ?: "") < 0)
                return NULL;
        return s;
}

const char *tb_imageref_manifest_ref(const tb_imageref *r) {
        return r->digest ?: r->tag;
}
