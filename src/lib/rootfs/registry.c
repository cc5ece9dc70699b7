#include "rootfs/registry.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rootfs/blobcache.h"
#include "rootfs/regauth.h"
#include "util/buf.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"
#include "util/progress.h"
#include "util/json.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ACCEPT_MANIFESTS "Accept: " MT_OCI_INDEX ", " MT_OCI_MANIFEST ", " MT_DOCKER_LIST ", " MT_DOCKER_MANIFEST

#define MANIFEST_MAX TB_OCI_JSON_MAX /* 4 MiB, the limit the distribution registry sets too */
#define TOKEN_MAX ((size_t)1 << 20)
#define ERRBODY_MAX ((size_t)64 << 10)
#define DEFAULT_TIMEOUT 30
#define DEFAULT_RETRIES 4
#define MAX_REDIRECTS 10
#define MONOLITHIC_MAX ((uint64_t)64 << 20)
#define CHUNK_SIZE ((uint64_t)16 << 20)
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the client: one registry, one repository ---- */

typedef struct client {
        const tb_imageref *ref;
        const tb_registry_options *o;
        const char *actions; /* "pull" or "pull,push": the token scope */
        char *name;          /* the reference as the user should read it */
        char *base;          /* "https://host:port" */
        CURL *curl;
        struct curl_slist *auth; /* the one "Authorization: …" header, or NULL */
        tb_regauth_creds creds;
        bool creds_looked_up, have_creds;
        bool tls_noverify;
        tb_buf ca; /* system CAs + the registry's own, when certs.d has some */
        char *client_cert, *client_key;
        unsigned timeout, retries;
} client;

typedef struct response {
        long status;
        char *content_type, *digest, *location, *www_auth, *content_range;
        long retry_after;
        tb_buf errbody;
} response;

static void response_reset(response *r) {
        free(r->content_type);
        free(r->digest);
        free(r->location);
        free(r->www_auth);
        free(r->content_range);
        tb_buf_free(&r->errbody);
        *r = (response){ 0 };
}

typedef size_t (*sink_fn)(void *userdata, const char *data, size_t len);

typedef struct request {
        const char *method; /* GET (default), HEAD, POST, PUT, PATCH */
        const char *url;
        const char *accept;       /* a full "Accept: …" header line */
        const char *content_type; /* a full "Content-Type: …" header line */
        const char *range;        /* "bytes=N-" */
        const char *content_range; /* a full "Content-Range: …" header line */
        bool follow;              /* follow redirects (GET/HEAD) */
        tb_buf *body;             /* 2xx body into here, at most body_max bytes */
        size_t body_max;
        bool body_too_big;
        sink_fn sink;             /* or to here */
        void *sink_userdata;
        const uint8_t *up_data;   /* request body from memory … */
        int up_fd;                /* … or from a file at up_off (-1: none) */
        uint64_t up_len, up_off, up_pos;
        bool anonymous;           /* no Authorization header */
        bool auth_any_host;       /* the token request: Basic credentials go to the realm */
} request;

struct attempt {
        client *c;
        request *q;
        response *resp;
};

static void client_done(client *c) {
        if (c->curl)
                curl_easy_cleanup(c->curl);
        if (c->auth) {
                for (struct curl_slist *l = c->auth; l; l = l->next)
                        OPENSSL_cleanse(l->data, strlen(l->data));
                curl_slist_free_all(c->auth);
        }
        tb_regauth_creds_done(&c->creds);
        tb_buf_free(&c->ca);
        free(c->client_cert);
        free(c->client_key);
        free(c->name);
        free(c->base);
}

static char *header_value(const char *line, size_t len, const char *name) {
        size_t nl = strlen(name);
        const char *v, *end = line + len;

        if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
                return NULL;
        v = line + nl + 1;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
                end--;
        return strndup(v, (size_t)(end - v));
}

static void set_header(char **slot, char *v) {
        if (!v)
                return;
        free(*slot);
        *slot = v;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        struct attempt *a = userdata;
        response *r = a->resp;
        size_t len = size * n;
        char *v;

        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
                /* A new response (after a redirect or a 100 Continue): forget the last one's. */
                response_reset(r);
                return len;
        }
        set_header(&r->content_type, header_value(data, len, "Content-Type"));
        set_header(&r->digest, header_value(data, len, "Docker-Content-Digest"));
        set_header(&r->location, header_value(data, len, "Location"));
        set_header(&r->www_auth, header_value(data, len, "WWW-Authenticate"));
        set_header(&r->content_range, header_value(data, len, "Content-Range"));
        v = header_value(data, len, "Retry-After");
        if (v) {
                char *end;
                long s = strtol(v, &end, 10);

                r->retry_after = (*end == '\0' && s > 0) ? s : 0;
                free(v);
        }
        return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        struct attempt *a = userdata;
        request *q = a->q;
        size_t len = size * n;
        long code = 0;

        curl_easy_getinfo(a->c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code < 200 || code >= 300) {
                if (a->resp->errbody.len + len <= ERRBODY_MAX)
                        (void)tb_buf_append(&a->resp->errbody, data, len);
                return len;
        }
        if (q->sink)
                return q->sink(q->sink_userdata, data, len);
        if (q->body) {
                if (q->body->len + len > q->body_max) {
                        q->body_too_big = true;
                        return 0;
                }
                if (tb_buf_append(q->body, data, len) < 0)
                        return 0;
        }
        return len;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *userdata) {
        request *q = userdata;
        size_t want = size * n;
        uint64_t left = q->up_len - q->up_pos;

        if (want > left)
                want = (size_t)left;
        if (want == 0)
                return 0;
        if (q->up_data)
                memcpy(buf, q->up_data + q->up_pos, want);
        else if (tb_pread_full(q->up_fd, buf, want, (off_t)(q->up_off + q->up_pos)) < 0)
                return CURL_READFUNC_ABORT;
        q->up_pos += want;
        return want;
}

static int on_seek(void *userdata, curl_off_t offset, int origin) {
        request *q = userdata;

        if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > q->up_len)
                return CURL_SEEKFUNC_FAIL;
        q->up_pos = (uint64_t)offset;
        return CURL_SEEKFUNC_OK;
}

static bool same_origin(const client *c, const char *url) {
        size_t n = strlen(c->base);

        return strncmp(url, c->base, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

/* One HTTP exchange, no retries. Returns the curl result; RESP has the status and headers. */
static CURLcode perform(client *c, request *q, response *resp) {
        struct attempt a = { c, q, resp };
        struct curl_slist *h = NULL;
        CURL *e = c->curl;
        CURLcode cc;

        response_reset(resp);
        curl_easy_reset(e);
        curl_easy_setopt(e, CURLOPT_URL, q->url);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, q->follow ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "trustboot/" "1");
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)c->timeout);
        /* A stalled registry: fewer than 1 byte/s for TIMEOUT seconds ends the try. */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)c->timeout);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &a);
        if (c->tls_noverify) {
                curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (c->ca.len) {
                struct curl_blob blob = { .data = c->ca.data, .len = c->ca.len, .flags = CURL_BLOB_NOCOPY };

                curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
        }
        if (c->client_cert) {
                curl_easy_setopt(e, CURLOPT_SSLCERT, c->client_cert);
                curl_easy_setopt(e, CURLOPT_SSLKEY, c->client_key);
        }
        if (q->accept)
                h = curl_slist_append(h, q->accept);
        if (q->content_type)
                h = curl_slist_append(h, q->content_type);
        if (q->content_range)
                h = curl_slist_append(h, q->content_range);
        if (q->range)
                curl_easy_setopt(e, CURLOPT_RANGE, q->range + 6); /* after "bytes=" */
        /* Credentials go to the registry only: not to an upload URL elsewhere that a Location
         * header named, and (curl's rule for custom headers) never to a redirect target. */
        if (!q->anonymous && c->auth && (q->auth_any_host || same_origin(c, q->url)))
                h = curl_slist_append(h, c->auth->data);
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);

        q->up_pos = 0;
        if (q->method && strcmp(q->method, "HEAD") == 0)
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else if (q->method && strcmp(q->method, "POST") == 0) {
                curl_easy_setopt(e, CURLOPT_POST, 1L);
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
        } else if (q->method && (strcmp(q->method, "PUT") == 0 || strcmp(q->method, "PATCH") == 0)) {
                curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
                curl_easy_setopt(e, CURLOPT_READDATA, q);
                curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
                curl_easy_setopt(e, CURLOPT_SEEKDATA, q);
                curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->up_len);
                if (strcmp(q->method, "PATCH") == 0)
                        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
        }
        cc = curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
        if (h) {
                for (struct curl_slist *l = h; l; l = l->next)
                        OPENSSL_cleanse(l->data, strlen(l->data));
                curl_slist_free_all(h);
        }
        return cc;
}

static bool transient(CURLcode cc) {
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_GOT_NOTHING:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

static bool transient_status(long status) {
        return status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

static void backoff(client *c, unsigned attempt, long retry_after) {
        double s = 0.5 * (double)(1u << MIN(attempt, 6u));
        struct timespec ts;

        if (retry_after > 0)
                s = (double)MIN(retry_after, 60L);
        tb_debug("%s: retrying in %.1f s", c->name, s);
        ts.tv_sec = (time_t)s;
        ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The registry's own words for an error status: {"errors":[{"code":…,"message":…}]}. */
static void error_detail(const response *resp, char *out, size_t outsize) {
        json_tokener *tok;
        json_object *j, *errs, *e0, *m;

        out[0] = '\0';
        if (!resp->errbody.len || resp->errbody.len > INT32_MAX || !(tok = json_tokener_new()))
                return;
        j = json_tokener_parse_ex(tok, (const char *)resp->errbody.data, (int)resp->errbody.len);
        json_tokener_free(tok);
        if (json_object_is_type(j, json_type_object) && json_object_object_get_ex(j, "errors", &errs) &&
            json_object_is_type(errs, json_type_array) && (e0 = json_object_array_get_idx(errs, 0)) &&
            json_object_object_get_ex(e0, "message", &m) && json_object_is_type(m, json_type_string)) {
                const char *s = json_object_get_string(m);

                snprintf(out, outsize, ": %.200s", s);
                for (char *p = out; *p; p++)
                        if ((unsigned char)*p < 0x20)
                                *p = ' ';
        }
        json_object_put(j);
}

static int transport_error(client *c, const char *what, CURLcode cc, unsigned tries) {
        const char *host = tb_imageref_api_host(c->ref);

        if (cc == CURLE_TOO_MANY_REDIRECTS) {
                tb_err("%s: %s: more than %d redirects (a redirect loop)", c->name, what, MAX_REDIRECTS);
                return -ELOOP;
        }
        if (cc == CURLE_OPERATION_TIMEDOUT) {
                tb_err("%s: %s: no data from %s for %u s, gave up after %u tries", c->name, what, host, c->timeout, tries);
                return -ETIMEDOUT;
        }
        if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CONNECT_ERROR) {
                tb_err("%s: %s: TLS with %s failed: %s (its CA goes to /etc/containers/certs.d/%s/ca.crt or --cert-dir; "
                       "--allow-insecure-registries skips verification)",
                       c->name, what, host, curl_easy_strerror(cc), c->ref->domain);
                return -EPROTO;
        }
        tb_err("%s: %s: %s: %s%s", c->name, what, host, curl_easy_strerror(cc), tries > 1 ? " (after retries)" : "");
        return -EIO;
}

/* ---- authentication ---- */

static int set_auth(client *c, const char *scheme, const char *value) {
        _cleanup_(freep) char *line = NULL;

        if (asprintf(&line, "Authorization: %s %s", scheme, value) < 0)
                return tb_log_oom();
        if (c->auth) {
                OPENSSL_cleanse(c->auth->data, strlen(c->auth->data));
                curl_slist_free_all(c->auth);
        }
        c->auth = curl_slist_append(NULL, line);
        OPENSSL_cleanse(line, strlen(line));
        return c->auth ? 0 : tb_log_oom();
}

static int load_creds(client *c) {
        int r;

        if (c->creds_looked_up)
                return 0;
        c->creds_looked_up = true;
        r = tb_regauth_lookup(c->ref->domain, c->ref->path, &c->creds);
        if (r < 0)
                return r;
        c->have_creds = r > 0;
        return 0;
}

static int basic_value(const tb_regauth_creds *cr, char **ret) {
        _cleanup_(tb_buf_wipep) tb_buf plain = TB_BUF_INIT, enc = TB_BUF_INIT;
        int r;

        if ((r = tb_buf_append(&plain, cr->username, strlen(cr->username))) < 0 || (r = tb_buf_append(&plain, ":", 1)) < 0 ||
            (r = tb_buf_append(&plain, cr->password, strlen(cr->password))) < 0 ||
            (r = tb_base64_encode(plain.data, plain.len, &enc)) < 0)
                return r;
        *ret = strndup((const char *)enc.data, enc.len);
        return *ret ? 0 : tb_log_oom();
}

static int refused(client *c, const char *host) {
        if (c->have_creds)
                tb_err("%s: %s refused the credentials for %s from %s (401 Unauthorized)", c->name, host, c->ref->domain,
                       c->creds.file);
        else
                tb_err("%s: %s requires authentication and no credentials were found "
                       "(skopeo login / docker login, or $REGISTRY_AUTH_FILE)", c->name, host);
        return -EACCES;
}

static size_t url_escape_append(tb_buf *b, const char *s) {
        char *e = curl_easy_escape(NULL, s, 0);
        size_t n;

        if (!e)
                return 0;
        n = strlen(e);
        if (tb_buf_append(b, e, n) < 0)
                n = 0;
        curl_free(e);
        return n;
}

/* The token flow of the distribution spec: GET REALM?service=…&scope=repository:NAME:ACTIONS,
 * with Basic credentials when we have them; the answer is {"token"|"access_token": …}. */
static int fetch_token(client *c, const tb_regauth_challenge *ch) {
        _cleanup_(tb_buf_freep) tb_buf url = TB_BUF_INIT, scope = TB_BUF_INIT;
        _cleanup_(tb_buf_wipep) tb_buf body = TB_BUF_INIT;
        _cleanup_(response_reset) response resp = { 0 };
        _cleanup_(freep) char *basic = NULL;
        request q = { .body = &body, .body_max = TOKEN_MAX, .follow = true, .up_fd = -1, .anonymous = true };
        json_tokener *tok;
        json_object *j, *t = NULL;
        CURLcode cc;
        int r;

        if (strncmp(ch->realm, "https://", 8) != 0 && !(c->o->allow_insecure && strncmp(ch->realm, "http://", 7) == 0)) {
                tb_err("%s: token realm '%.200s' is not an https:// URL", c->name, ch->realm);
                return -EPROTO;
        }
        if ((r = tb_buf_append(&scope, "repository:", 11)) < 0 || (r = tb_buf_append(&scope, c->ref->path, strlen(c->ref->path))) < 0 ||
            (r = tb_buf_append(&scope, ":", 1)) < 0 || (r = tb_buf_append(&scope, c->actions, strlen(c->actions))) < 0 ||
            (r = tb_buf_append_zero(&scope, 1)) < 0)
                return r;
        if ((r = tb_buf_append(&url, ch->realm, strlen(ch->realm))) < 0)
                return r;
        if (ch->service) {
                if (tb_buf_append(&url, strchr(ch->realm, '?') ? "&service=" : "?service=", 9) < 0 ||
                    !url_escape_append(&url, ch->service))
                        return tb_log_oom();
        }
        if (tb_buf_append(&url, strchr((const char *)url.data, '?') || ch->service ? "&scope=" : "?scope=", 7) < 0 ||
            !url_escape_append(&url, (const char *)scope.data) || tb_buf_append_zero(&url, 1) < 0)
                return tb_log_oom();
        q.url = (const char *)url.data;
        if (c->have_creds) {
                r = basic_value(&c->creds, &basic);
                if (r < 0)
                        return r;
                r = set_auth(c, "Basic", basic);
                OPENSSL_cleanse(basic, strlen(basic));
                if (r < 0)
                        return r;
                q.anonymous = false;
                q.auth_any_host = true;
        }
        for (unsigned i = 0;; i++) {
                cc = perform(c, &q, &resp);
                if ((cc == CURLE_OK && !transient_status(resp.status)) || (cc != CURLE_OK && !transient(cc)) || i >= c->retries)
                        break;
                backoff(c, i, resp.retry_after);
        }
        if (cc != CURLE_OK)
                return transport_error(c, "token request", cc, 1);
        if (resp.status == 401 || resp.status == 403)
                return refused(c, "the token server");
        if (resp.status != 200) {
                tb_err("%s: token server answered %ld", c->name, resp.status);
                return -EPROTO;
        }
        tok = json_tokener_new();
        if (!tok)
                return tb_log_oom();
        j = json_tokener_parse_ex(tok, (const char *)body.data, (int)body.len);
        json_tokener_free(tok);
        if (json_object_is_type(j, json_type_object) && !json_object_object_get_ex(j, "token", &t))
                json_object_object_get_ex(j, "access_token", &t);
        if (!t || !json_object_is_type(t, json_type_string) || json_object_get_string_len(t) == 0 ||
            strpbrk(json_object_get_string(t), "\r\n")) {
                json_object_put(j);
                tb_err("%s: token server sent no token", c->name);
                return -EPROTO;
        }
        r = set_auth(c, "Bearer", json_object_get_string(t));
        OPENSSL_cleanse((char *)json_object_get_string(t), (size_t)json_object_get_string_len(t));
        json_object_put(j);
        return r;
}

/* Answers a 401's challenge. 0: try again with the new Authorization header. */
static int authenticate(client *c, const response *resp) {
        _cleanup_(tb_regauth_challenge_done) tb_regauth_challenge ch = { 0 };
        _cleanup_(freep) char *basic = NULL;
        int r;

        if (!resp->www_auth || tb_regauth_parse_challenge(resp->www_auth, strlen(resp->www_auth), &ch) < 0) {
                tb_err("%s: 401 Unauthorized without a usable WWW-Authenticate challenge", c->name);
                return -EACCES;
        }
        r = load_creds(c);
        if (r < 0)
                return r;
        if (ch.scheme == TB_REGAUTH_BEARER)
                return fetch_token(c, &ch);
        if (!c->have_creds)
                return refused(c, tb_imageref_api_host(c->ref));
        if (strncmp(c->base, "https://", 8) != 0)
                tb_warn("%s: sending credentials over plain HTTP (--allow-insecure-registries)", c->ref->domain);
        r = basic_value(&c->creds, &basic);
        if (r < 0)
                return r;
        r = set_auth(c, "Basic", basic);
        OPENSSL_cleanse(basic, strlen(basic));
        return r;
}

/* perform() plus the 401 dance: at most one new credential per request. */
static CURLcode perform_auth(client *c, request *q, response *resp, int *ret_err) {
        CURLcode cc = perform(c, q, resp);
        int r;

        *ret_err = 0;
        if (cc != CURLE_OK || resp->status != 401)
                return cc;
        r = authenticate(c, resp);
        if (r < 0) {
                *ret_err = r;
                return cc;
        }
        cc = perform(c, q, resp);
        if (cc == CURLE_OK && resp->status == 401)
                *ret_err = refused(c, tb_imageref_api_host(c->ref));
        return cc;
}

/* A request with retries on 429/5xx and dropped connections (bodies in memory only). Returns 0
 * with RESP filled for any final status, or a negative errno (logged). */
static int send_request(client *c, request *q, response *resp, const char *what) {
        unsigned i;

        for (i = 0;; i++) {
                int err;
                CURLcode cc;

                if (q->body)
                        q->body->len = 0;
                q->body_too_big = false;
                cc = perform_auth(c, q, resp, &err);
                if (err < 0)
                        return err;
                if (q->body_too_big) {
                        tb_err("%s: %s: larger than %zu bytes", c->name, what, q->body_max);
                        return -EFBIG;
                }
                if (cc == CURLE_OK && !transient_status(resp->status))
                        return 0;
                if ((cc != CURLE_OK && !transient(cc)) || i >= c->retries) {
                        if (cc != CURLE_OK)
                                return transport_error(c, what, cc, i + 1);
                        tb_err("%s: %s: %s answered %ld after %u tries", c->name, what, tb_imageref_api_host(c->ref),
                               resp->status, i + 1);
                        return -EIO;
                }
                backoff(c, i, resp->retry_after);
        }
}

static int url_for(client *c, const char *kind, const char *what, char **ret) {
        if (asprintf(ret, "%s/v2/%s/%s/%s", c->base, c->ref->path, kind, what) < 0)
                return tb_log_oom();
        return 0;
}

/* ---- TLS material and the connection ---- */

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);

        return n > m && strcmp(s + n - m, suffix) == 0;
}

/* containers-certs.d(5): *.crt are CAs, NAME.cert + NAME.key a client certificate. */
static int load_cert_dir(client *c, const char *dir) {
        _cleanup_(tb_buf_freep) tb_buf extra = TB_BUF_INIT;
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : tb_log_errno(negative_errno(), "%s: cannot read certificate directory", dir);
        while ((de = readdir(d)) && r >= 0) {
                _cleanup_(freep) char *p = tb_path_join(dir, de->d_name);

                if (!p) {
                        r = tb_log_oom();
                        break;
                }
                if (has_suffix(de->d_name, ".crt")) {
                        r = tb_read_file(p, (size_t)4 << 20, &extra);
                        if (r >= 0)
                                r = tb_buf_append(&extra, "\n", 1);
                        if (r < 0)
                                tb_log_errno(r, "%s: cannot read", p);
                } else if (has_suffix(de->d_name, ".cert")) {
                        _cleanup_(freep) char *key = NULL;

                        if (asprintf(&key, "%.*s.key", (int)(strlen(p) - 5), p) < 0) {
                                r = tb_log_oom();
                                break;
                        }
                        if (!tb_path_exists(key)) {
                                tb_err("%s: client certificate without its key %s", p, key);
                                r = -ENOENT;
                                break;
                        }
                        free(c->client_cert);
                        free(c->client_key);
                        c->client_cert = TAKE_PTR(p);
                        c->client_key = TAKE_PTR(key);
                }
        }
        closedir(d);
        if (r < 0 || extra.len == 0)
                return r;
        /* curl takes one CA bundle: the system's plus the registry's own. */
        r = tb_read_file(SYSTEM_CA_BUNDLE, (size_t)16 << 20, &c->ca);
        if (r < 0 && r != -ENOENT)
                return tb_log_errno(r, "%s: cannot read", SYSTEM_CA_BUNDLE);
        return tb_buf_append(&c->ca, extra.data, extra.len);
}

static int load_tls(client *c) {
        _cleanup_(freep) char *p1 = NULL, *p2 = NULL;
        int r;

        if (c->o->cert_dir)
                return load_cert_dir(c, c->o->cert_dir);
        if (asprintf(&p1, "/etc/containers/certs.d/%s", c->ref->domain) < 0 ||
            asprintf(&p2, "/etc/docker/certs.d/%s", c->ref->domain) < 0)
                return tb_log_oom();
        r = load_cert_dir(c, p1);
        if (r >= 0 && c->ca.len == 0 && !c->client_cert)
                r = load_cert_dir(c, p2);
        return r;
}

/* Finds the scheme: https; with --allow-insecure-registries unverified https, else plain http
 * (as the containers tools do for an insecure registry). The /v2/ answer itself (200 or 401)
 * does not matter here. */
static int client_connect(client *c, const tb_imageref *ref, const tb_registry_options *o, const char *actions) {
        _cleanup_(response_reset) response resp = { 0 };
        _cleanup_(freep) char *url = NULL;
        request q = { .up_fd = -1, .follow = true };
        const char *host = tb_imageref_api_host(ref);
        unsigned tries = 1;
        CURLcode cc = CURLE_OK;
        int r;

        *c = (client){ .ref = ref, .o = o, .actions = actions };
        c->timeout = o->timeout ?: DEFAULT_TIMEOUT;
        c->retries = o->retries ?: DEFAULT_RETRIES;
        c->name = tb_imageref_string(ref);
        if (!c->name)
                return tb_log_oom();
        pthread_once(&curl_once, curl_init);
        if (curl_init_result != CURLE_OK)
                return tb_log_oom();
        c->curl = curl_easy_init();
        if (!c->curl)
                return tb_log_oom();
        r = load_tls(c);
        if (r < 0)
                return r;
        c->tls_noverify = o->allow_insecure;
        if (asprintf(&c->base, "https://%s", host) < 0 || asprintf(&url, "%s/v2/", c->base) < 0)
                return tb_log_oom();
        q.url = url;
        if (o->allow_insecure) {
                /* One short TLS try; anything but a TLS answer means plain HTTP. */
                unsigned t = c->timeout;

                c->timeout = MIN(t, 5u);
                cc = perform(c, &q, &resp);
                c->timeout = t;
                if (cc == CURLE_OK)
                        tb_warn("%s: insecure registry: TLS certificate not verified (--allow-insecure-registries)", ref->domain);
                else if (cc != CURLE_COULDNT_RESOLVE_HOST) {
                        free(c->base);
                        free(url);
                        url = NULL;
                        if (asprintf(&c->base, "http://%s", host) < 0 || asprintf(&url, "%s/v2/", c->base) < 0)
                                return tb_log_oom();
                        q.url = url;
                        tb_warn("%s: insecure registry: plain HTTP (--allow-insecure-registries)", ref->domain);
                }
        }
        if (!o->allow_insecure || strncmp(c->base, "http://", 7) == 0)
                for (tries = 1;; tries++) {
                        cc = perform(c, &q, &resp);
                        if (!transient(cc) || tries > c->retries)
                                break;
                        backoff(c, tries - 1, 0);
                }
        if (cc != CURLE_OK)
                return transport_error(c, "cannot reach the registry", cc, tries);
        if (resp.status != 200 && resp.status != 401) {
                char detail[256];

                error_detail(&resp, detail, sizeof(detail));
                tb_err("%s: %s/v2/ answered %ld: not a container registry%s", c->name, c->base, resp.status, detail);
                return -EPROTO;
        }
        return 0;
}

/* ---- manifests ---- */

static bool is_index(const char *mt) {
        return strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

static bool is_manifest(const char *mt) {
        return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0;
}

static int sha256_digest(const void *data, size_t len, char out[TB_OCI_DIGEST_MAX]) {
        uint8_t md[32];

        if (EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL) != 1)
                return -EIO;
        tb_oci_digest_format(md, out);
        return 0;
}

/* The media type: Content-Type, else the document's own "mediaType" (registries that answer
 * application/json). */
static void media_type_of(const response *resp, const tb_buf *body, char out[128]) {
        out[0] = '\0';
        if (resp->content_type) {
                size_t n = strcspn(resp->content_type, "; ");

                snprintf(out, 128, "%.*s", (int)MIN(n, (size_t)127), resp->content_type);
        }
        if (!is_index(out) && !is_manifest(out) && body->len < INT32_MAX) {
                json_tokener *tok = json_tokener_new();
                json_object *j = tok ? json_tokener_parse_ex(tok, (const char *)body->data, (int)body->len) : NULL, *mt;

                if (tok)
                        json_tokener_free(tok);
                if (json_object_is_type(j, json_type_object) && json_object_object_get_ex(j, "mediaType", &mt) &&
                    json_object_is_type(mt, json_type_string))
                        snprintf(out, 128, "%s", json_object_get_string(mt));
                json_object_put(j);
        }
}

/* GET /v2/NAME/manifests/WHAT; verified against WANT_DIGEST (a pinned reference or the
 * index's descriptor) or else the registry's Docker-Content-Digest. */
static int fetch_manifest(client *c, const char *what, const char *want_digest, uint64_t want_size, tb_buf *body,
                          char media_type[128], char digest[TB_OCI_DIGEST_MAX]) {
        _cleanup_(response_reset) response resp = { 0 };
        _cleanup_(freep) char *url = NULL;
        request q = { .url = NULL, .accept = ACCEPT_MANIFESTS, .follow = true, .body = body, .body_max = MANIFEST_MAX, .up_fd = -1 };
        char detail[256];
        int r;

        r = url_for(c, "manifests", what, &url);
        if (r < 0)
                return r;
        q.url = url;
        r = send_request(c, &q, &resp, "manifest");
        if (r < 0)
                return r;
        if (resp.status != 200) {
                error_detail(&resp, detail, sizeof(detail));
                if (resp.status == 404)
                        tb_err("%s: manifest %s not found (404)%s", c->name, what, detail);
                else
                        tb_err("%s: manifest %s: %s answered %ld%s", c->name, what, tb_imageref_api_host(c->ref), resp.status, detail);
                return resp.status == 404 ? -ENOENT : -EPROTO;
        }
        r = sha256_digest(body->data, body->len, digest);
        if (r < 0)
                return r;
        if (want_digest && strcmp(want_digest, digest) != 0) {
                tb_err("%s: manifest digest mismatch: expected %s, got %s", c->name, want_digest, digest);
                return -EIO;
        }
        if (!want_digest && resp.digest && strcmp(resp.digest, digest) != 0) {
                tb_err("%s: manifest digest mismatch: the registry says %.80s, the bytes are %s", c->name, resp.digest, digest);
                return -EIO;
        }
        if (want_size != UINT64_MAX && want_size != body->len) {
                tb_err("%s: manifest size mismatch: expected %llu bytes, got %zu", c->name, (unsigned long long)want_size, body->len);
                return -EIO;
        }
        media_type_of(&resp, body, media_type);
        if (!is_index(media_type) && !is_manifest(media_type)) {
                tb_err("%s: unsupported manifest media type '%.100s'", c->name, media_type[0] ? media_type : "(none)");
                return -EPROTONOSUPPORT;
        }
        return 0;
}

int tb_registry_parse_platform(const char *s, char *buf, size_t bufsize, tb_oci_platform *ret) {
        char *a, *v;

        size_t len = s ? strlen(s) : 0;

        if (!s || len >= bufsize)
                return -EINVAL;
        /* Every character, before the split: afterwards BUF ends at the OS. */
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-'))
                        return -EINVAL;
        memcpy(buf, s, len + 1);
        a = strchr(buf, '/');
        if (!a || a == buf || !a[1])
                return -EINVAL;
        *a++ = '\0';
        v = strchr(a, '/');
        if (v) {
                *v++ = '\0';
                if (!*v || strchr(v, '/'))
                        return -EINVAL;
        }
        *ret = (tb_oci_platform){ .os = buf, .arch = a, .variant = v };
        return 0;
}

/* ---- blobs ---- */

typedef struct blob_dl {
        client *c;
        const char *digest;
        uint64_t size;
        int wsock, rsock;      /* the thread writes WSOCK, the layer applier reads RSOCK; -1: none */
        tb_blobcache *cache;   /* NULL: no cache */
        tb_atomic_file tmp;
        EVP_MD_CTX *md;
        uint64_t got;          /* bytes passed on */
        uint64_t skip;         /* bytes of a resumed try to drop (the server ignored Range) */
        int error;             /* negative errno, already logged */
        bool peer_gone, too_long, write_failed;
        tb_buf *mem;           /* small blobs (the config): kept in memory */
        tb_progress progress;
        pthread_t thread;
        bool started;
} blob_dl;

#define BLOB_DL_INIT { .wsock = -1, .rsock = -1, .tmp = TB_ATOMIC_FILE_INIT }

static size_t blob_sink(void *userdata, const char *data, size_t len) {
        blob_dl *d = userdata;
        size_t n = len;

        if (d->skip) {
                size_t s = (size_t)MIN((uint64_t)n, d->skip);

                d->skip -= s;
                data += s;
                n -= s;
        }
        if (n == 0)
                return len;
        if (d->got + n > d->size) {
                d->too_long = true;
                return 0;
        }
        EVP_DigestUpdate(d->md, data, n);
        if (d->tmp.fd >= 0 && tb_write_all(d->tmp.fd, data, n) < 0) {
                d->write_failed = true;
                return 0;
        }
        if (d->mem && tb_buf_append(d->mem, data, n) < 0) {
                d->write_failed = true;
                return 0;
        }
        for (size_t off = 0; d->wsock >= 0 && off < n;) {
                ssize_t w = send(d->wsock, data + off, n - off, MSG_NOSIGNAL);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        d->peer_gone = true; /* the applier stopped (and said why) */
                        return 0;
                }
                off += (size_t)w;
        }
        d->got += n;
        tb_progress_add(&d->progress, n);
        return len;
}

static int blob_fail(blob_dl *d, int r) {
        d->error = r;
        return r;
}

/* Downloads the blob with retries (a dropped connection resumes with Range) and checks its
 * size and digest before anything downstream sees its end. Logs its errors. */
static int blob_download(blob_dl *d) {
        client *c = d->c;
        _cleanup_(freep) char *url = NULL;
        char range[48], got[TB_OCI_DIGEST_MAX];
        uint8_t md[32];
        int r;

        r = url_for(c, "blobs", d->digest, &url);
        if (r < 0)
                return blob_fail(d, r);
        for (unsigned i = 0;; i++) {
                _cleanup_(response_reset) response resp = { 0 };
                request q = { .url = url, .follow = true, .sink = blob_sink, .sink_userdata = d, .up_fd = -1 };
                CURLcode cc;
                int err;

                if (d->got > 0) {
                        snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)d->got);
                        q.range = range;
                }
                d->skip = 0;
                cc = perform_auth(c, &q, &resp, &err);
                if (err < 0)
                        return blob_fail(d, err);
                if (d->peer_gone)
                        return blob_fail(d, -EPIPE);
                if (d->too_long) {
                        tb_err("%s: blob %s: more bytes than the %llu its descriptor says", c->name, d->digest,
                               (unsigned long long)d->size);
                        return blob_fail(d, -EIO);
                }
                if (d->write_failed)
                        return blob_fail(d, tb_log_errno(-EIO, "%s: blob %s: cannot store", c->name, d->digest));
                if (cc == CURLE_OK && (resp.status == 200 || resp.status == 206)) {
                        if (d->got == d->size)
                                break;
                        tb_err("%s: blob %s truncated: %llu of %llu bytes", c->name, d->digest, (unsigned long long)d->got,
                               (unsigned long long)d->size);
                        return blob_fail(d, -EIO);
                }
                if (cc == CURLE_OK && !transient_status(resp.status)) {
                        char detail[256];

                        error_detail(&resp, detail, sizeof(detail));
                        tb_err("%s: blob %s: %s answered %ld%s", c->name, d->digest, tb_imageref_api_host(c->ref), resp.status,
                               detail);
                        return blob_fail(d, resp.status == 404 ? -ENOENT : -EPROTO);
                }
                if ((cc != CURLE_OK && !transient(cc)) || i >= c->retries) {
                        if (cc != CURLE_OK)
                                return blob_fail(d, transport_error(c, d->digest, cc, i + 1));
                        tb_err("%s: blob %s: %s answered %ld after %u tries", c->name, d->digest, tb_imageref_api_host(c->ref),
                               resp.status, i + 1);
                        return blob_fail(d, -EIO);
                }
                tb_debug("%s: blob %s: try %u ended after %llu bytes, resuming", c->name, d->digest, i + 1,
                         (unsigned long long)d->got);
                backoff(c, i, resp.retry_after);
        }
        if (EVP_DigestFinal_ex(d->md, md, NULL) != 1)
                return blob_fail(d, -EIO);
        tb_oci_digest_format(md, got);
        if (strcmp(got, d->digest) != 0) {
                tb_err("%s: blob digest mismatch: expected %s, got %s", c->name, d->digest, got);
                return blob_fail(d, -EIO);
        }
        if (d->cache && d->tmp.fd >= 0) {
                r = tb_blobcache_commit(d->cache, &d->tmp);
                if (r < 0)
                        tb_log_errno(r, "%s: cannot store blob %s in the cache", tb_blobcache_dir(d->cache), d->digest);
        }
        return 0;
}

static void *blob_thread(void *userdata) {
        blob_dl *d = userdata;

        (void)blob_download(d);
        /* The applier sees the end only now, after size and digest were checked. */
        shutdown(d->wsock, SHUT_WR);
        return NULL;
}

static void blob_dl_done(blob_dl *d) {
        if (d->started) {
                /* The applier gave up early: the thread's next send fails, and it ends. */
                if (d->rsock >= 0)
                        shutdown(d->rsock, SHUT_RDWR);
                pthread_join(d->thread, NULL);
        }
        if (d->rsock >= 0)
                close(d->rsock);
        if (d->wsock >= 0)
                close(d->wsock);
        tb_atomic_abort(&d->tmp);
        EVP_MD_CTX_free(d->md);
        tb_progress_end(&d->progress);
}

static int blob_dl_init(blob_dl *d, client *c, const char *digest, uint64_t size, tb_blobcache *cache) {
        int r;

        d->c = c;
        d->digest = digest;
        d->size = size;
        d->cache = cache;
        d->md = EVP_MD_CTX_new();
        if (!d->md || EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) != 1)
                return tb_log_oom();
        if (cache) {
                r = tb_blobcache_begin(cache, digest, &d->tmp);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot write to the blob cache", tb_blobcache_dir(cache));
        }
        return 0;
}

/* A small blob (the config) into memory, through the cache. */
static int fetch_small_blob(client *c, const tb_oci_descriptor *desc, tb_blobcache *cache, tb_buf *out,
                            tb_registry_summary *sum) {
        _cleanup_(blob_dl_done) blob_dl d = BLOB_DL_INIT;
        _cleanup_(closep) int fd = -1;
        char got[TB_OCI_DIGEST_MAX];
        int r;

        if (desc->size > MANIFEST_MAX) {
                tb_err("%s: config %s larger than %zu bytes", c->name, desc->digest, MANIFEST_MAX);
                return -EFBIG;
        }
        if (cache && tb_blobcache_get(cache, desc->digest, desc->size, &fd) > 0) {
                r = tb_read_fd(fd, MANIFEST_MAX, out);
                if (r >= 0 && sha256_digest(out->data, out->len, got) >= 0 && strcmp(got, desc->digest) == 0) {
                        sum->from_cache += out->len;
                        return 0;
                }
                out->len = 0; /* a damaged cache entry: fetch it again */
        }
        r = blob_dl_init(&d, c, desc->digest, desc->size, cache);
        if (r < 0)
                return r;
        d.mem = out;
        r = blob_download(&d);
        if (r >= 0)
                sum->downloaded += d.got;
        return r;
}

static ssize_t stream_read(void *userdata, void *buf, size_t len) {
        blob_dl *d = userdata;

        for (;;) {
                ssize_t n = recv(d->rsock, buf, len, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return tb_log_errno(negative_errno(), "%s: blob %s: read error", d->c->name, d->digest);
                if (n > 0)
                        return n;
                /* The end: the download is over; did it end well? */
                if (d->started) {
                        pthread_join(d->thread, NULL);
                        d->started = false;
                }
                return d->error < 0 ? d->error : 0;
        }
}

/* 1 if FD's bytes hash to DIGEST, 0 if not, negative on read errors. */
static int fd_digest_matches(int fd, const char *digest) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_(freep) uint8_t *buf = malloc(1 << 20);
        char got[TB_OCI_DIGEST_MAX];
        uint8_t d[32];

        if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return tb_log_oom();
        for (;;) {
                ssize_t n = read(fd, buf, 1 << 20);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        break;
                EVP_DigestUpdate(md, buf, (size_t)n);
        }
        if (EVP_DigestFinal_ex(md, d, NULL) != 1)
                return -EIO;
        tb_oci_digest_format(d, got);
        return strcmp(got, digest) == 0;
}

static int apply_layer(client *c, int rootfd, const tb_oci_layer *l, size_t idx, size_t n, tb_blobcache *cache,
                       tb_layer_budget *budget, tb_registry_layer_info *info, tb_registry_summary *sum) {
        _cleanup_(blob_dl_done) blob_dl d = BLOB_DL_INIT;
        _cleanup_(closep) int fd = -1;
        tb_layer_source src = { .name = l->digest, .digest = l->digest, .diff_id = l->diff_id, .size = l->size,
                                .budget = budget };
        char label[96];
        int sv[2], r;

        snprintf(info->digest, sizeof(info->digest), "%s", l->digest);
        info->size = l->size;
        if (cache && tb_blobcache_get(cache, l->digest, l->size, &fd) > 0) {
                /* Checked before use: a damaged entry (disk, another program) is fetched again
                 * instead of failing the build half-way through the layer. */
                r = fd_digest_matches(fd, l->digest);
                if (r > 0 && lseek(fd, 0, SEEK_SET) == 0) {
                        tb_debug("%s: layer %zu/%zu %s from the cache", c->name, idx + 1, n, l->digest);
                        info->cached = true;
                        r = tb_layer_apply(rootfd, fd, &src);
                        if (r >= 0)
                                sum->from_cache += l->size;
                        return r;
                }
                tb_warn("%s: blob cache entry %s is damaged; fetching it again", tb_blobcache_dir(cache), l->digest);
                (void)tb_blobcache_remove(cache, l->digest);
                close(fd);
                fd = -1;
        }
        r = blob_dl_init(&d, c, l->digest, l->size, cache);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return tb_log_errno(negative_errno(), "cannot create a socket pair");
        d.rsock = sv[0];
        d.wsock = sv[1];
        snprintf(label, sizeof(label), "layer %zu/%zu %.19s", idx + 1, n, l->digest);
        tb_progress_begin(&d.progress, label);
        r = pthread_create(&d.thread, NULL, blob_thread, &d);
        if (r != 0)
                return tb_log_errno(-r, "cannot start the download thread");
        d.started = true;
        /* Download and unpacking overlap: the thread hashes every byte on its way into the
         * socket and checks the digest before the applier sees the end; the applier checks
         * digest, size and diff_id again. A failed layer fails the pull, and the caller removes
         * the tree it was applied to. */
        src.read = stream_read;
        src.read_userdata = &d;
        r = tb_layer_apply(rootfd, -1, &src);
        if (r >= 0) {
                sum->downloaded += d.got;
                if (d.progress.active) {
                        /* On a terminal the self-rewriting line becomes one line per layer. */
                        struct timespec ts;
                        double secs;

                        clock_gettime(CLOCK_MONOTONIC, &ts);
                        secs = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - d.progress.start;
                        tb_progress_end(&d.progress);
                        tb_info("%s: %.1f MiB in %.1f s (%.1f MiB/s)", label, (double)d.got / (1 << 20), secs,
                                secs > 0 ? (double)d.got / (1 << 20) / secs : 0.0);
                }
        }
        return r;
}

/* ---- pull ---- */

void tb_registry_summary_done(tb_registry_summary *s) {
        free(s->reference);
        free(s->layers);
        *s = (tb_registry_summary){ 0 };
}

json_object *tb_registry_summary_json(const tb_registry_summary *s) {
        json_object *o = json_object_new_object(), *ls = json_object_new_array();

        if (!o || !ls) {
                json_object_put(o);
                json_object_put(ls);
                return NULL;
        }
        json_object_object_add(o, "reference", json_object_new_string(s->reference ?: ""));
        json_object_object_add(o, "digest", json_object_new_string(s->manifest_digest));
        json_object_object_add(o, "platform", json_object_new_string(s->platform));
        for (size_t i = 0; i < s->n_layers; i++) {
                json_object *l = json_object_new_object();

                if (!l)
                        continue;
                json_object_object_add(l, "digest", json_object_new_string(s->layers[i].digest));
                json_object_object_add(l, "size", json_object_new_int64((int64_t)s->layers[i].size));
                json_object_object_add(l, "cached", json_object_new_boolean(s->layers[i].cached));
                json_object_array_add(ls, l);
        }
        json_object_object_add(o, "layers", ls);
        json_object_object_add(o, "downloaded_bytes", json_object_new_int64((int64_t)s->downloaded));
        json_object_object_add(o, "cached_bytes", json_object_new_int64((int64_t)s->from_cache));
        return o;
}

static int resolve_platform(const tb_registry_options *o, char *buf, size_t size, tb_oci_platform *ret) {
        char def[64];

        if (o->platform) {
                if (tb_registry_parse_platform(o->platform, buf, size, ret) < 0) {
                        tb_err("--platform: '%s' is not OS/ARCH[/VARIANT]", o->platform);
                        return -EINVAL;
                }
                return 0;
        }
        snprintf(def, sizeof(def), "linux/%s", tb_oci_host_arch()[0] ? tb_oci_host_arch() : "amd64");
        return tb_registry_parse_platform(def, buf, size, ret);
}

int tb_registry_pull(const tb_imageref *ref, const tb_registry_options *o, int rootfd, tb_layer_budget *budget,
                     tb_registry_summary *summary) {
        _cleanup_(client_done) client c = { 0 };
        _cleanup_(tb_buf_freep) tb_buf body = TB_BUF_INIT, config = TB_BUF_INIT;
        _cleanup_(tb_oci_image_freep) tb_oci_image *img = NULL;
        _cleanup_(tb_blobcache_freep) tb_blobcache *cache = NULL;
        tb_registry_summary local = { 0 }, *sum = summary ?: &local;
        tb_oci_descriptor cfg;
        tb_oci_platform plat;
        char mt[128], digest[TB_OCI_DIGEST_MAX], pbuf[64];
        int r;

        *sum = (tb_registry_summary){ 0 };
        r = resolve_platform(o, pbuf, sizeof(pbuf), &plat);
        if (r < 0)
                return r;
        snprintf(sum->platform, sizeof(sum->platform), "%s/%s%s%s", plat.os, plat.arch, plat.variant ? "/" : "",
                 plat.variant ?: "");
        r = client_connect(&c, ref, o, "pull");
        if (r < 0)
                goto out;
        sum->reference = strdup(c.name);
        if (!sum->reference) {
                r = tb_log_oom();
                goto out;
        }
        r = fetch_manifest(&c, tb_imageref_manifest_ref(ref), ref->digest, UINT64_MAX, &body, mt, digest);
        if (r < 0)
                goto out;
        if (is_index(mt)) {
                tb_oci_descriptor d;

                r = tb_oci_select_platform(c.name, (const char *)body.data, body.len, &plat, &d);
                if (r < 0)
                        goto out;
                if (!is_manifest(d.media_type) && d.media_type[0]) {
                        tb_err("%s: the index entry for %s has media type '%s', not an image manifest", c.name, sum->platform,
                               d.media_type);
                        r = -EPROTONOSUPPORT;
                        goto out;
                }
                body.len = 0;
                r = fetch_manifest(&c, d.digest, d.digest, d.size, &body, mt, digest);
                if (r < 0)
                        goto out;
                if (!is_manifest(mt)) {
                        tb_err("%s: %s is not an image manifest ('%s')", c.name, d.digest, mt);
                        r = -EPROTONOSUPPORT;
                        goto out;
                }
        }
        snprintf(sum->manifest_digest, sizeof(sum->manifest_digest), "%s", digest);
        img = calloc(1, sizeof(*img));
        if (!img) {
                r = tb_log_oom();
                goto out;
        }
        r = tb_oci_parse_manifest(c.name, (const char *)body.data, body.len, img, &cfg);
        if (r < 0)
                goto out;
        if (!o->no_cache) {
                r = tb_blobcache_open(o->cache_dir, &cache);
                if (r < 0)
                        goto out;
        }
        r = fetch_small_blob(&c, &cfg, cache, &config, sum);
        if (r < 0)
                goto out;
        r = tb_oci_parse_config(c.name, (const char *)config.data, config.len, img);
        if (r < 0)
                goto out;
        sum->layers = calloc(img->n_layers ?: 1, sizeof(*sum->layers));
        if (!sum->layers) {
                r = tb_log_oom();
                goto out;
        }
        for (size_t i = 0; i < img->n_layers; i++) {
                r = apply_layer(&c, rootfd, &img->layers[i], i, img->n_layers, cache, budget, &sum->layers[i], sum);
                if (r < 0)
                        goto out;
                sum->n_layers++;
        }
        if (cache && o->cache_max) {
                int64_t freed = tb_blobcache_trim(cache, o->cache_max);

                if (freed > 0)
                        tb_debug("blob cache: %lld bytes evicted", (long long)freed);
        }
        tb_debug("%s: %zu layers, %llu bytes downloaded, %llu from the cache", c.name, img->n_layers,
                 (unsigned long long)sum->downloaded, (unsigned long long)sum->from_cache);
        r = 0;
out:
        if (!summary)
                tb_registry_summary_done(&local);
        return r;
}

/* ---- push ---- */

typedef struct member_file {
        char *name;
        char digest[TB_OCI_DIGEST_MAX];
        uint64_t size;
        int fd;
} member_file;

typedef struct archive_files {
        member_file *v;
        size_t n;
        tb_buf manifest;
} archive_files;

static void archive_files_done(archive_files *a) {
        for (size_t i = 0; i < a->n; i++) {
                free(a->v[i].name);
                if (a->v[i].fd >= 0)
                        close(a->v[i].fd);
        }
        free(a->v);
        tb_buf_free(&a->manifest);
}

TB_DEFINE_CLEANUP(struct archive *, archive_read_free)

/* Copies every member of the docker archive into an unnamed temp file, hashing it. */
static int read_archive(const char *path, archive_files *out) {
        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        _cleanup_(freep) uint8_t *buf = malloc(1 << 20);
        const char *tmpdir = tb_tmpdir_default();
        struct archive_entry *e;
        int r;

        if (!a || !buf)
                return tb_log_oom();
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
                tb_err("%s: %s", path, archive_error_string(a) ?: "cannot open");
                return -EBADMSG;
        }
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
                member_file *m;
                uint8_t d[32];

                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                if (strcmp(archive_entry_pathname(e), "manifest.json") == 0) {
                        la_ssize_t n;

                        while ((n = archive_read_data(a, buf, 1 << 20)) > 0)
                                if (out->manifest.len + (size_t)n > MANIFEST_MAX || tb_buf_append(&out->manifest, buf, (size_t)n) < 0)
                                        return -EFBIG;
                        if (n < 0)
                                break;
                        continue;
                }
                m = reallocarray(out->v, out->n + 1, sizeof(*m));
                if (!m || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                        return tb_log_oom();
                out->v = m;
                m = &out->v[out->n++];
                *m = (member_file){ .name = strdup(archive_entry_pathname(e)), .fd = -1 };
                m->fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (!m->name || m->fd < 0)
                        return m->name ? tb_log_errno(negative_errno(), "cannot create a temp file") : tb_log_oom();
                for (;;) {
                        la_ssize_t n = archive_read_data(a, buf, 1 << 20);

                        if (n < 0) {
                                tb_err("%s: %s", path, archive_error_string(a) ?: "read error");
                                return -EBADMSG;
                        }
                        if (n == 0)
                                break;
                        r = tb_write_all(m->fd, buf, (size_t)n);
                        if (r < 0)
                                return tb_log_errno(r, "cannot write a temp file");
                        EVP_DigestUpdate(md, buf, (size_t)n);
                        m->size += (uint64_t)n;
                }
                if (EVP_DigestFinal_ex(md, d, NULL) != 1)
                        return -EIO;
                tb_oci_digest_format(d, m->digest);
        }
        if (r != ARCHIVE_EOF) {
                tb_err("%s: %s", path, archive_error_string(a) ?: "not a tar archive");
                return -EBADMSG;
        }
        if (!out->manifest.len) {
                tb_err("%s: no manifest.json: not a docker archive", path);
                return -EBADMSG;
        }
        return 0;
}

static member_file *find_member(archive_files *a, const char *name) {
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->v[i].name, name) == 0)
                        return &a->v[i];
        return NULL;
}

/* An upload URL from a Location header: absolute, or a path on the registry. */
static int upload_url(client *c, const char *location, const char *extra, char **ret) {
        const char *sep = strchr(location, '?') ? "&" : "?";

        if (location[0] == '/')
                return asprintf(ret, "%s%s%s%s", c->base, location, extra ? sep : "", extra ?: "") < 0 ? -ENOMEM : 0;
        if (strncmp(location, "http://", 7) != 0 && strncmp(location, "https://", 8) != 0)
                return -EPROTO;
        return asprintf(ret, "%s%s%s", location, extra ? sep : "", extra ?: "") < 0 ? -ENOMEM : 0;
}

typedef enum push_result { PUSH_PRESENT, PUSH_MOUNTED, PUSH_UPLOADED } push_result;

static int push_blob(client *c, const member_file *m, const char *mount_from, push_result *ret) {
        _cleanup_(response_reset) response resp = { 0 };
        _cleanup_(freep) char *url = NULL, *loc = NULL, *extra = NULL;
        request q = { .up_fd = -1 };
        char detail[256];
        int r;

        *ret = PUSH_PRESENT;
        r = url_for(c, "blobs", m->digest, &url);
        if (r < 0)
                return r;
        q = (request){ .method = "HEAD", .url = url, .follow = true, .up_fd = -1 };
        r = send_request(c, &q, &resp, "blob check");
        if (r < 0)
                return r;
        if (resp.status == 200)
                return 0; /* the repository has it */

        free(url);
        url = NULL;
        if (mount_from ? asprintf(&url, "%s/v2/%s/blobs/uploads/?mount=%s&from=%s", c->base, c->ref->path, m->digest, mount_from) < 0
                       : asprintf(&url, "%s/v2/%s/blobs/uploads/", c->base, c->ref->path) < 0)
                return tb_log_oom();
        q = (request){ .method = "POST", .url = url, .up_fd = -1 };
        r = send_request(c, &q, &resp, "blob upload");
        if (r < 0)
                return r;
        if (resp.status == 201) {
                *ret = PUSH_MOUNTED;
                return 0;
        }
        if (resp.status != 202 || !resp.location) {
                error_detail(&resp, detail, sizeof(detail));
                tb_err("%s: cannot start a blob upload: %s answered %ld%s", c->name, tb_imageref_api_host(c->ref), resp.status, detail);
                return resp.status == 401 || resp.status == 403 ? -EACCES : -EPROTO;
        }
        loc = TAKE_PTR(resp.location);
        if (asprintf(&extra, "digest=%s", m->digest) < 0)
                return tb_log_oom();

        if (m->size > MONOLITHIC_MAX) {
                /* Chunked: PATCH with Content-Range, each answer naming the next URL. */
                for (uint64_t off = 0; off < m->size;) {
                        _cleanup_(freep) char *u = NULL;
                        uint64_t n = MIN(CHUNK_SIZE, m->size - off);
                        char cr[96];

                        r = upload_url(c, loc, NULL, &u);
                        if (r < 0)
                                return r;
                        snprintf(cr, sizeof(cr), "Content-Range: %llu-%llu", (unsigned long long)off,
                                 (unsigned long long)(off + n - 1));
                        q = (request){ .method = "PATCH", .url = u, .up_fd = m->fd, .up_off = off, .up_len = n,
                                       .content_type = "Content-Type: application/octet-stream", .content_range = cr };
                        r = send_request(c, &q, &resp, "blob chunk upload");
                        if (r < 0)
                                return r;
                        if (resp.status != 202 || !resp.location) {
                                error_detail(&resp, detail, sizeof(detail));
                                tb_err("%s: blob chunk upload: %s answered %ld%s", c->name, tb_imageref_api_host(c->ref),
                                       resp.status, detail);
                                return -EPROTO;
                        }
                        free(loc);
                        loc = TAKE_PTR(resp.location);
                        off += n;
                }
                free(url);
                url = NULL;
                r = upload_url(c, loc, extra, &url);
                if (r < 0)
                        return r;
                q = (request){ .method = "PUT", .url = url, .up_fd = -1, .up_len = 0 };
        } else {
                free(url);
                url = NULL;
                r = upload_url(c, loc, extra, &url);
                if (r < 0)
                        return r;
                q = (request){ .method = "PUT", .url = url, .up_fd = m->fd, .up_len = m->size,
                               .content_type = "Content-Type: application/octet-stream" };
        }
        r = send_request(c, &q, &resp, "blob upload");
        if (r < 0)
                return r;
        if (resp.status != 201) {
                error_detail(&resp, detail, sizeof(detail));
                tb_err("%s: blob %s upload: %s answered %ld%s", c->name, m->digest, tb_imageref_api_host(c->ref), resp.status,
                       detail);
                return -EPROTO;
        }
        *ret = PUSH_UPLOADED;
        return 0;
}

static json_object *descriptor_json(const char *mt, const member_file *m) {
        json_object *d = json_object_new_object();

        if (!d)
                return NULL;
        json_object_object_add(d, "mediaType", json_object_new_string(mt));
        json_object_object_add(d, "digest", json_object_new_string(m->digest));
        json_object_object_add(d, "size", json_object_new_int64((int64_t)m->size));
        return d;
}

int tb_registry_push_archive(const char *archive, const tb_imageref *ref, const char *mount_from,
                             const tb_registry_options *o, char **ret_pinned) {
        _cleanup_(client_done) client c = { 0 };
        _cleanup_(archive_files_done) archive_files files = { 0 };
        _cleanup_(tb_oci_image_freep) tb_oci_image *img = calloc(1, sizeof(tb_oci_image));
        _cleanup_(freep) char *config_name = NULL, *url = NULL;
        _cleanup_(json_object_putp) json_object *man = NULL;
        _cleanup_(response_reset) response resp = { 0 };
        json_object *layers;
        member_file *cfg;
        const char *text;
        char digest[TB_OCI_DIGEST_MAX], detail[256];
        static const char *const what[] = { "already there", "mounted", "uploaded" };
        request q;
        push_result up;
        int r;

        if (!img)
                return tb_log_oom();
        r = read_archive(archive, &files);
        if (r < 0)
                return r;
        r = tb_oci_parse_docker_manifest("manifest.json", (const char *)files.manifest.data, files.manifest.len, NULL,
                                         &config_name, img);
        if (r < 0)
                return r;
        cfg = find_member(&files, config_name);
        if (!cfg) {
                tb_err("%s: manifest.json names a config %s that is not in the archive", archive, config_name);
                return -EBADMSG;
        }
        r = client_connect(&c, ref, o, "pull,push");
        if (r < 0)
                return r;

        man = json_object_new_object();
        layers = json_object_new_array();
        if (!man || !layers) {
                json_object_put(layers);
                return tb_log_oom();
        }
        json_object_object_add(man, "schemaVersion", json_object_new_int(2));
        json_object_object_add(man, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
        json_object_object_add(man, "config", descriptor_json(MT_OCI_CONFIG, cfg));
        json_object_object_add(man, "layers", layers);
        for (size_t i = 0; i < img->n_layers; i++) {
                member_file *m = find_member(&files, img->layers[i].path);

                if (!m) {
                        tb_err("%s: manifest.json names a layer %s that is not in the archive", archive, img->layers[i].path);
                        return -EBADMSG;
                }
                r = push_blob(&c, m, mount_from, &up);
                if (r < 0)
                        return r;
                tb_info("layer %s: %s", m->digest, what[up]);
                json_object_array_add(layers, descriptor_json(MT_OCI_LAYER_TAR, m));
        }
        r = push_blob(&c, cfg, mount_from, &up);
        if (r < 0)
                return r;

        text = json_object_to_json_string_ext(man, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = sha256_digest(text, strlen(text), digest);
        if (r < 0)
                return r;
        r = url_for(&c, "manifests", ref->tag ?: digest, &url);
        if (r < 0)
                return r;
        q = (request){ .method = "PUT", .url = url, .up_fd = -1, .up_data = (const uint8_t *)text, .up_len = strlen(text),
                       .content_type = "Content-Type: " MT_OCI_MANIFEST };
        r = send_request(&c, &q, &resp, "manifest upload");
        if (r < 0)
                return r;
        if (resp.status != 201) {
                error_detail(&resp, detail, sizeof(detail));
                tb_err("%s: manifest upload: %s answered %ld%s", c.name, tb_imageref_api_host(ref), resp.status, detail);
                return resp.status == 401 || resp.status == 403 ? -EACCES : -EPROTO;
        }
        if (resp.digest && strcmp(resp.digest, digest) != 0) {
                tb_err("%s: the registry stored the manifest as %.80s, we sent %s", c.name, resp.digest, digest);
                return -EIO;
        }
        if (asprintf(ret_pinned, "%s/%s@%s", ref->domain, ref->path, digest) < 0)
                return tb_log_oom();
        return 0;
}
