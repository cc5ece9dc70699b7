#include "rootfs/regauth.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"

#define AUTHFILE_MAX ((size_t)1 << 20)

/* ---- WWW-Authenticate ---- */

static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

struct cursor {
        const char *p, *end;
};

static void skip_ows(struct cursor *c) {
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
                c->p++;
}

static size_t token_len(const struct cursor *c) {
        size_t n = 0;

        while (c->p + n < c->end && c->p[n] != '\0' && is_tchar(c->p[n]))
                n++;
        return n;
}

/* A quoted-string (backslash escapes) or a token, copied out; NULL on malformed input. */
static int param_value(struct cursor *c, char **ret) {
        tb_buf b = TB_BUF_INIT;
        int r;

        if (c->p < c->end && *c->p == '"') {
                for (c->p++;; c->p++) {
                        if (c->p >= c->end || *c->p == '\0') {
                                tb_buf_free(&b);
                                return -EINVAL;
                        }
                        if (*c->p == '"')
                                break;
                        if (*c->p == '\\') {
                                if (++c->p >= c->end || *c->p == '\0') {
                                        tb_buf_free(&b);
                                        return -EINVAL;
                                }
                        }
                        r = tb_buf_append(&b, c->p, 1);
                        if (r < 0) {
                                tb_buf_free(&b);
                                return r;
                        }
                }
                c->p++;
        } else {
                size_t n = token_len(c);

                if (n == 0)
                        return -EINVAL;
                r = tb_buf_append(&b, c->p, n);
                if (r < 0)
                        return r;
                c->p += n;
        }
        r = tb_buf_append_zero(&b, 1);
        if (r < 0) {
                tb_buf_free(&b);
                return r;
        }
        *ret = (char *)b.data;
        return 0;
}

void tb_regauth_challenge_done(tb_regauth_challenge *c) {
        free(c->realm);
        free(c->service);
        free(c->scope);
        *c = (tb_regauth_challenge){ 0 };
}

static void set_param(char **slot, char **value) {
        if (*slot) { /* the first one counts */
                free(*value);
                *value = NULL;
                return;
        }
        *slot = *value;
        *value = NULL;
}

int tb_regauth_parse_challenge(const char *header, size_t len, tb_regauth_challenge *ret) {
        struct cursor c = { header, header + len };
        tb_regauth_challenge best = { 0 };

        for (;;) {
                tb_regauth_challenge cur = { 0 };
                size_t n;

                /* Empty list elements are allowed (RFC 7230 #rule). */
                while (skip_ows(&c), c.p < c.end && *c.p == ',')
                        c.p++;
                if (c.p >= c.end || *c.p == '\0')
                        break;
                n = token_len(&c);
                if (n == 0)
                        goto bad;
                if (n == 5 && strncasecmp(c.p, "basic", 5) == 0)
                        cur.scheme = TB_REGAUTH_BASIC;
                else if (n == 6 && strncasecmp(c.p, "bearer", 6) == 0)
                        cur.scheme = TB_REGAUTH_BEARER;
                c.p += n;
                /* auth-params: NAME = VALUE, comma separated, until a token not followed by '='
                 * (the next challenge's scheme). */
                for (;;) {
                        struct cursor save;
                        _cleanup_(freep) char *value = NULL;
                        const char *name;
                        size_t nl;
                        int r;

                        skip_ows(&c);
                        save = c;
                        nl = token_len(&c);
                        if (nl == 0)
                                break;
                        name = c.p;
                        c.p += nl;
                        skip_ows(&c);
                        if (c.p >= c.end || *c.p != '=') {
                                c = save; /* a new challenge (or token68, which we do not use) */
                                break;
                        }
                        c.p++;
                        skip_ows(&c);
                        if (c.p < c.end && *c.p == '=') { /* token68 padding: "abc==" */
                                while (c.p < c.end && *c.p == '=')
                                        c.p++;
                                goto next_param;
                        }
                        r = param_value(&c, &value);
                        if (r == -ENOMEM) {
                                tb_regauth_challenge_done(&cur);
                                tb_regauth_challenge_done(&best);
                                return r;
                        }
                        if (r < 0) {
                                tb_regauth_challenge_done(&cur);
                                goto bad;
                        }
                        if (nl == 5 && strncasecmp(name, "realm", 5) == 0)
                                set_param(&cur.realm, &value);
                        else if (nl == 7 && strncasecmp(name, "service", 7) == 0)
                                set_param(&cur.service, &value);
                        else if (nl == 5 && strncasecmp(name, "scope", 5) == 0)
                                set_param(&cur.scope, &value);
                next_param:
                        skip_ows(&c);
                        if (c.p < c.end && *c.p == ',') {
                                c.p++;
                                continue;
                        }
                        if (c.p < c.end && *c.p != '\0') {
                                tb_regauth_challenge_done(&cur);
                                goto bad;
                        }
                        break;
                }
                if (cur.scheme == TB_REGAUTH_BEARER && !cur.realm) {
                        tb_regauth_challenge_done(&cur);
                        goto bad;
                }
                if (cur.scheme != TB_REGAUTH_NONE && (best.scheme == TB_REGAUTH_NONE ||
                                                      (best.scheme == TB_REGAUTH_BASIC && cur.scheme == TB_REGAUTH_BEARER))) {
                        tb_regauth_challenge_done(&best);
                        best = cur;
                } else
                        tb_regauth_challenge_done(&cur);
        }
        if (best.scheme == TB_REGAUTH_NONE)
                return -EINVAL;
        *ret = best;
        return 0;
bad:
        tb_regauth_challenge_done(&best);
        return -EINVAL;
}

/* ---- auth files ---- */

static void wipe_free(char *s) {
        if (s) {
                OPENSSL_cleanse(s, strlen(s));
                free(s);
        }
}

void tb_regauth_creds_done(tb_regauth_creds *c) {
        free(c->username);
        wipe_free(c->password);
        free(c->file);
        *c = (tb_regauth_creds){ 0 };
}

/* "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/" → "host:5000";
 * "quay.io/org/repo" stays. */
static char *normalize_key(const char *key) {
        const char *p = key;
        char *s;
        size_t n;

        if (strncmp(p, "https://", 8) == 0)
                p += 8;
        else if (strncmp(p, "http://", 7) == 0)
                p += 7;
        s = strdup(p);
        if (!s)
                return NULL;
        n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
                s[--n] = '\0';
        if (n >= 3 && (strcmp(s + n - 3, "/v1") == 0 || strcmp(s + n - 3, "/v2") == 0))
                s[n - 3] = '\0';
        if (strcmp(s, "index.docker.io") == 0 || strcmp(s, "registry-1.docker.io") == 0) {
                free(s);
                s = strdup("docker.io");
        } else if (strncmp(s, "index.docker.io/", 16) == 0 || strncmp(s, "registry-1.docker.io/", 21) == 0) {
                char *t;

                if (asprintf(&t, "docker.io%s", strchr(s, '/')) < 0)
                        t = NULL;
                free(s);
                s = t;
        }
        return s;
}

/* How well KEY (normalized) names REGISTRY/REPO: the matched length, or -1. */
static long key_match(const char *key, const char *registry, const char *repo) {
        size_t rl = strlen(registry), kl = strlen(key);

        if (strncmp(key, registry, rl) != 0)
                return -1;
        if (key[rl] == '\0')
                return (long)rl;
        if (key[rl] != '/' || !repo)
                return -1;
        /* "host/ns" matches "host/ns/repo" and "host/ns", never "host/nsx". */
        if (strncmp(key + rl + 1, repo, kl - rl - 1) != 0)
                return -1;
        if (repo[kl - rl - 1] != '\0' && repo[kl - rl - 1] != '/')
                return -1;
        return (long)kl;
}

static int creds_from_entry(json_object *entry, const char *key, tb_regauth_creds *ret) {
        json_object *v;
        const char *user = NULL, *pass = NULL;

        if (json_object_object_get_ex(entry, "auth", &v) && json_object_is_type(v, json_type_string) &&
            json_object_get_string_len(v) > 0) {
                const char *b64 = json_object_get_string(v);
                _cleanup_(tb_buf_wipep) tb_buf dec = TB_BUF_INIT;
                char *colon;
                int r;

                r = tb_base64_decode(b64, (size_t)json_object_get_string_len(v), &dec);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || tb_buf_append_zero(&dec, 1) < 0 || memchr(dec.data, '\0', dec.len - 1)) {
                        tb_err("auth file: entry '%.200s': \"auth\" is not base64 of USER:PASSWORD", key);
                        return -EBADMSG;
                }
                colon = strchr((char *)dec.data, ':');
                if (!colon) {
                        tb_err("auth file: entry '%.200s': \"auth\" is not base64 of USER:PASSWORD", key);
                        return -EBADMSG;
                }
                ret->username = strndup((char *)dec.data, (size_t)(colon - (char *)dec.data));
                ret->password = strdup(colon + 1);
        } else {
                if (json_object_object_get_ex(entry, "username", &v) && json_object_is_type(v, json_type_string))
                        user = json_object_get_string(v);
                if (json_object_object_get_ex(entry, "password", &v) && json_object_is_type(v, json_type_string))
                        pass = json_object_get_string(v);
                if (!user || !pass)
                        return 0; /* e.g. only an identitytoken: not something we can use */
                ret->username = strdup(user);
                ret->password = strdup(pass);
        }
        if (!ret->username || !ret->password) {
                tb_regauth_creds_done(ret);
                return tb_log_oom();
        }
        return 1;
}

int tb_regauth_parse_authfile(const char *json, size_t len, const char *registry, const char *repo,
                              tb_regauth_creds *ret) {
        json_tokener *tok;
        json_object *root, *auths, *best = NULL;
        _cleanup_(freep) char *best_key = NULL;
        long best_len = -1;
        int r;

        if (len > AUTHFILE_MAX || len > INT32_MAX)
                return -EBADMSG;
        tok = json_tokener_new();
        if (!tok)
                return tb_log_oom();
        root = json_tokener_parse_ex(tok, json, (int)len);
        json_tokener_free(tok);
        if (!root || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                tb_err("auth file: not a JSON object");
                return -EBADMSG;
        }
        if (!json_object_object_get_ex(root, "auths", &auths)) {
                json_object_put(root);
                return 0;
        }
        if (!json_object_is_type(auths, json_type_object)) {
                json_object_put(root);
                tb_err("auth file: \"auths\" is not an object");
                return -EBADMSG;
        }
        json_object_object_foreach(auths, key, entry) {
                _cleanup_(freep) char *norm = normalize_key(key);
                long m;

                if (!norm) {
                        json_object_put(root);
                        return tb_log_oom();
                }
                m = key_match(norm, registry, repo);
                if (m > best_len && json_object_is_type(entry, json_type_object)) {
                        best_len = m;
                        best = entry;
                        free(best_key);
                        best_key = TAKE_PTR(norm);
                }
        }
        r = best ? creds_from_entry(best, best_key, ret) : 0;
        json_object_put(root);
        return r;
}

static int try_file(const char *path, const char *registry, const char *repo, tb_regauth_creds *ret) {
        _cleanup_(tb_buf_wipep) tb_buf b = TB_BUF_INIT;
        int r;

        r = tb_read_file(path, AUTHFILE_MAX, &b);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read auth file", path);
        r = tb_regauth_parse_authfile((const char *)b.data, b.len, registry, repo, ret);
        if (r == -EBADMSG)
                tb_err("%s: malformed auth file", path);
        if (r > 0) {
                ret->file = strdup(path);
                if (!ret->file) {
                        tb_regauth_creds_done(ret);
                        return tb_log_oom();
                }
        }
        return r;
}

int tb_regauth_lookup(const char *registry, const char *repo, tb_regauth_creds *ret) {
        const char *env = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
        _cleanup_(freep) char *first = NULL, *cfg = NULL, *docker = NULL;
        int r;

        if (env && *env)
                first = strdup(env);
        else if (xdg && *xdg)
                first = tb_path_join(xdg, "containers/auth.json");
        if (home && *home) {
                cfg = tb_path_join(home, ".config/containers/auth.json");
                docker = tb_path_join(home, ".docker/config.json");
        }
        *ret = (tb_regauth_creds){ 0 };
        for (const char *const *p = (const char *const[]){ first, cfg, docker }, *const *end = p + 3; p < end; p++) {
                if (!*p)
                        continue;
                r = try_file(*p, registry, repo, ret);
                if (r != 0)
                        return r;
        }
        return 0;
}
