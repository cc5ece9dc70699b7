#include "rootfs/oci.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/log.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REF_NAME "org.opencontainers.image.ref.name"
#define CONTAINERD_NAME "io.containerd.image.name"
#define MAX_NESTING 4

bool tb_oci_digest_valid(const char *digest) {
        if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
                return false;
        for (const char *p = digest + 7; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

void tb_oci_digest_format(const uint8_t sha256[32], char out[TB_OCI_DIGEST_MAX]) {
        static const char hex[] = "0123456789abcdef";
        char *p = stpcpy(out, "sha256:");

        for (size_t i = 0; i < 32; i++) {
                *p++ = hex[sha256[i] >> 4];
                *p++ = hex[sha256[i] & 15];
        }
        *p = '\0';
}

void tb_oci_image_free(tb_oci_image *img) {
        if (!img)
                return;
        for (size_t i = 0; i < img->n_layers; i++) {
                free(img->layers[i].path);
                free(img->layers[i].digest);
                free(img->layers[i].diff_id);
        }
        free(img->layers);
        free(img);
}

static int parse_json(const char *name, const char *json, size_t len, json_type want, json_object **ret) {
        json_tokener *tok;
        json_object *j;
        size_t end;

        if (len > TB_OCI_JSON_MAX) {
                tb_err("%s: too large", name);
                return -EBADMSG;
        }
        tok = json_tokener_new();
        if (!tok)
                return tb_log_oom();
        j = json_tokener_parse_ex(tok, json, (int)len);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!j) {
                tb_err("%s: not valid JSON", name);
                return -EBADMSG;
        }
        for (; end < len; end++)
                if (!strchr(" \t\r\n", json[end])) {
                        json_object_put(j);
                        tb_err("%s: trailing data after the JSON document", name);
                        return -EBADMSG;
                }
        if (!json_object_is_type(j, want)) {
                json_object_put(j);
                tb_err("%s: unexpected JSON type at top level", name);
                return -EBADMSG;
        }
        *ret = j;
        return 0;
}

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static json_object *get_typed(json_object *o, const char *key, json_type t) {
        json_object *v;

        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
            !json_object_is_type(v, t))
                return NULL;
        return v;
}

static int parse_descriptor(const char *name, json_object *o, tb_oci_descriptor *d) {
        const char *mt = get_string(o, "mediaType"), *digest = get_string(o, "digest");
        json_object *size = get_typed(o, "size", json_type_int);

        if (!digest || !size) {
                tb_err("%s: descriptor without digest or size", name);
                return -EBADMSG;
        }
        if (!tb_oci_digest_valid(digest)) {
                tb_err("%s: unsupported or malformed digest '%.80s'", name, digest);
                return -EBADMSG;
        }
        if (json_object_get_int64(size) < 0) {
                tb_err("%s: negative size in descriptor", name);
                return -EBADMSG;
        }
        snprintf(d->media_type, sizeof(d->media_type), "%s", mt ?: "");
        snprintf(d->digest, sizeof(d->digest), "%s", digest);
        d->size = (uint64_t)json_object_get_int64(size);
        return 0;
}

static const char *host_arch(void) {
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#else
        return "";
#endif
}

static bool matches_tag(json_object *m, const char *tag) {
        json_object *ann = get_typed(m, "annotations", json_type_object);
        const char *ref = get_string(ann, REF_NAME), *cname = get_string(ann, CONTAINERD_NAME);

        return (ref && strcmp(ref, tag) == 0) || (cname && strcmp(cname, tag) == 0);
}

static bool matches_platform(json_object *m) {
        json_object *p = get_typed(m, "platform", json_type_object);
        const char *arch = get_string(p, "architecture"), *os = get_string(p, "os");

        return arch && os && strcmp(arch, host_arch()) == 0 && strcmp(os, "linux") == 0;
}

/* An image index's "manifests" array (*RET_MS, borrowed from *RET_J, its length in *RET_N), which
 * must not be empty. Logs what is wrong with NAME. */
static int index_manifests(const char *name, const char *json, size_t len, json_object **ret_j,
                           json_object **ret_ms, size_t *ret_n) {
        int r = parse_json(name, json, len, json_type_object, ret_j);

        if (r < 0)
                return r;
        *ret_ms = get_typed(*ret_j, "manifests", json_type_array);
        if (!*ret_ms || (*ret_n = json_object_array_length(*ret_ms)) == 0) {
                tb_err("%s: no manifests", name);
                return -EBADMSG;
        }
        return 0;
}

int tb_oci_parse_index(const char *name, const char *json, size_t len, const char *tag, tb_oci_descriptor *ret) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        json_object *ms, *pick = NULL;
        size_t n, hits = 0;
        int r;

        r = index_manifests(name, json, len, &j, &ms, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                json_object *m = json_object_array_get_idx(ms, i);
                bool hit = tag ? matches_tag(m, tag) : n == 1 || matches_platform(m);

                if (hit && !pick)
                        pick = m;
                hits += hit;
        }
        if (!pick) {
                if (tag)
                        tb_err("%s: no image tagged '%s'", name, tag);
                else
                        tb_err("%s: %zu images and none for linux/%s; name one with :TAG", name, n, host_arch());
                return -ENOENT;
        }
        if (hits > 1 && tag) {
                tb_err("%s: more than one image tagged '%s'", name, tag);
                return -EBADMSG;
        }
        return parse_descriptor(name, pick, ret);
}

static int add_layer(tb_oci_image *img, tb_oci_layer **ret) {
        tb_oci_layer *l = reallocarray(img->layers, img->n_layers + 1, sizeof(*l));

        if (!l)
                return tb_log_oom();
        img->layers = l;
        l = &img->layers[img->n_layers++];
        *l = (tb_oci_layer){ .size = UINT64_MAX };
        *ret = l;
        return 0;
}

static bool is_layer_type(const char *mt) {
        return strncmp(mt, "application/vnd.oci.image.layer.", 32) == 0 ||
               strncmp(mt, "application/vnd.docker.image.rootfs.", 36) == 0;
}

int tb_oci_parse_manifest(const char *name, const char *json, size_t len, tb_oci_image *img, tb_oci_descriptor *config) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        json_object *ls, *cfg;
        size_t n;
        int r;

        r = parse_json(name, json, len, json_type_object, &j);
        if (r < 0)
                return r;
        cfg = get_typed(j, "config", json_type_object);
        ls = get_typed(j, "layers", json_type_array);
        if (!cfg || !ls) {
                tb_err("%s: manifest without config or layers", name);
                return -EBADMSG;
        }
        r = parse_descriptor(name, cfg, config);
        if (r < 0)
                return r;
        n = json_object_array_length(ls);
        for (size_t i = 0; i < n; i++) {
                tb_oci_descriptor d;
                tb_oci_layer *l;

                r = parse_descriptor(name, json_object_array_get_idx(ls, i), &d);
                if (r < 0)
                        return r;
                if (!is_layer_type(d.media_type)) {
                        tb_err("%s: layer %zu has unsupported media type '%s'", name, i, d.media_type);
                        return -EBADMSG;
                }
                r = add_layer(img, &l);
                if (r < 0)
                        return r;
                l->digest = strdup(d.digest);
                if (!l->digest || asprintf(&l->path, "blobs/sha256/%s", d.digest + 7) < 0)
                        return tb_log_oom();
                l->size = d.size;
        }
        return 0;
}

int tb_oci_parse_config(const char *name, const char *json, size_t len, tb_oci_image *img) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        json_object *ids;
        int r;

        r = parse_json(name, json, len, json_type_object, &j);
        if (r < 0)
                return r;
        ids = get_typed(get_typed(j, "rootfs", json_type_object), "diff_ids", json_type_array);
        if (!ids || json_object_array_length(ids) != img->n_layers) {
                tb_err("%s: rootfs.diff_ids missing or not one per layer (%zu layers)", name, img->n_layers);
                return -EBADMSG;
        }
        for (size_t i = 0; i < img->n_layers; i++) {
                json_object *v = json_object_array_get_idx(ids, i);
                const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

                if (!s || !tb_oci_digest_valid(s)) {
                        tb_err("%s: diff_ids[%zu] is not a sha256 digest", name, i);
                        return -EBADMSG;
                }
                img->layers[i].diff_id = strdup(s);
                if (!img->layers[i].diff_id)
                        return tb_log_oom();
        }
        return 0;
}

static const char *strip_prefix(const char *s, const char *prefix) {
        size_t n = strlen(prefix);

        return strncmp(s, prefix, n) == 0 ? s + n : s;
}

static bool repo_tag_matches(json_object *m, const char *tag) {
        json_object *tags = get_typed(m, "RepoTags", json_type_array);
        size_t n = tags ? json_object_array_length(tags) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_array_get_idx(tags, i);

                const char *s = json_object_is_type(t, json_type_string) ? json_object_get_string(t) : NULL;

                /* docker and skopeo store normalized references: "docker.io/library/name:tag". */
                if (s && (strcmp(s, tag) == 0 || strcmp(strip_prefix(s, "docker.io/"), tag) == 0 ||
                          strcmp(strip_prefix(s, "docker.io/library/"), tag) == 0))
                        return true;
        }
        return false;
}

int tb_oci_parse_docker_manifest(const char *name, const char *json, size_t len, const char *tag,
                                 char **ret_config, tb_oci_image *img) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        json_object *pick = NULL, *ls;
        const char *cfg;
        size_t n;
        int r;

        r = parse_json(name, json, len, json_type_array, &j);
        if (r < 0)
                return r;
        n = json_object_array_length(j);
        for (size_t i = 0; i < n && !pick; i++) {
                json_object *m = json_object_array_get_idx(j, i);

                if (tag ? repo_tag_matches(m, tag) : n == 1)
                        pick = m;
        }
        if (!pick) {
                if (tag)
                        tb_err("%s: no image tagged '%s'", name, tag);
                else
                        tb_err("%s: %zu images; name one with :TAG", name, n);
                return -ENOENT;
        }
        cfg = get_string(pick, "Config");
        ls = get_typed(pick, "Layers", json_type_array);
        if (!cfg || !ls) {
                tb_err("%s: entry without Config or Layers", name);
                return -EBADMSG;
        }
        n = json_object_array_length(ls);
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(ls, i);
                tb_oci_layer *l;

                if (!json_object_is_type(v, json_type_string)) {
                        tb_err("%s: Layers[%zu] is not a string", name, i);
                        return -EBADMSG;
                }
                r = add_layer(img, &l);
                if (r < 0)
                        return r;
                l->path = strdup(json_object_get_string(v));
                if (!l->path)
                        return tb_log_oom();
        }
        *ret_config = strdup(cfg);
        return *ret_config ? 0 : tb_log_oom();
}

/* Reads PATH through OPEN_FN; checks DIGEST and SIZE when given. */
static int read_blob(tb_oci_open_fn open_fn, void *userdata, const char *path, const char *digest,
                     uint64_t size, bool optional, tb_buf *out) {
        _cleanup_(closep) int fd = -1;
        uint8_t md[32];
        char got[TB_OCI_DIGEST_MAX];
        int r;

        r = open_fn(userdata, path, &fd);
        if (r == -ENOENT && optional)
                return r;
        if (r < 0)
                return tb_log_errno(r, "%s: cannot open", path);
        for (;;) {
                ssize_t n;

                if (out->len > TB_OCI_JSON_MAX) {
                        tb_err("%s: larger than %zu bytes", path, TB_OCI_JSON_MAX);
                        return -EBADMSG;
                }
                r = tb_buf_reserve(out, (size_t)64 * 1024);
                if (r < 0)
                        return r;
                n = read(fd, out->data + out->len, out->cap - out->len);
                if (n < 0)
                        return tb_log_errno(negative_errno(), "%s: read error", path);
                if (n == 0)
                        break;
                out->len += (size_t)n;
        }
        if (size != UINT64_MAX && size != out->len) {
                tb_err("%s: size mismatch: expected %llu bytes, got %zu", path, (unsigned long long)size, out->len);
                return -EIO;
        }
        if (digest) {
                if (EVP_Digest(out->data, out->len, md, NULL, EVP_sha256(), NULL) != 1)
                        return -EIO;
                tb_oci_digest_format(md, got);
                if (strcmp(got, digest) != 0) {
                        tb_err("%s: digest mismatch: expected %s, got %s", path, digest, got);
                        return -EIO;
                }
        }
        return 0;
}

static int load_oci(tb_oci_open_fn open_fn, void *userdata, const char *tag, tb_buf *index, tb_oci_image *img) {
        tb_oci_descriptor d, cfg;
        char name[256];
        int r;

        r = tb_oci_parse_index("index.json", (const char *)index->data, index->len, tag, &d);
        for (int depth = 0; r >= 0; depth++) {
                _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

                snprintf(name, sizeof(name), "blobs/sha256/%s", d.digest + 7);
                r = read_blob(open_fn, userdata, name, d.digest, d.size, false, &b);
                if (r < 0)
                        return r;
                if (strcmp(d.media_type, MT_OCI_INDEX) != 0 && strcmp(d.media_type, MT_DOCKER_LIST) != 0) {
                        if (d.media_type[0] && strcmp(d.media_type, MT_OCI_MANIFEST) != 0 &&
                            strcmp(d.media_type, MT_DOCKER_MANIFEST) != 0) {
                                tb_err("%s: unsupported media type '%s'", name, d.media_type);
                                return -EBADMSG;
                        }
                        r = tb_oci_parse_manifest(name, (const char *)b.data, b.len, img, &cfg);
                        break;
                }
                if (depth >= MAX_NESTING) {
                        tb_err("%s: image indexes nested too deep", name);
                        return -EBADMSG;
                }
                /* A nested index (multi-platform image): the tag was used at the top. */
                r = tb_oci_parse_index(name, (const char *)b.data, b.len, NULL, &d);
        }
        if (r < 0)
                return r;

        _cleanup_(tb_buf_freep) tb_buf c = TB_BUF_INIT;
        snprintf(name, sizeof(name), "blobs/sha256/%s", cfg.digest + 7);
        r = read_blob(open_fn, userdata, name, cfg.digest, cfg.size, false, &c);
        if (r < 0)
                return r;
        return tb_oci_parse_config(name, (const char *)c.data, c.len, img);
}

static int load_docker(tb_oci_open_fn open_fn, void *userdata, const char *tag, tb_buf *manifest, tb_oci_image *img) {
        _cleanup_(tb_buf_freep) tb_buf c = TB_BUF_INIT;
        _cleanup_(freep) char *config = NULL;
        char want[TB_OCI_DIGEST_MAX];
        const char *base, *want_p = NULL;
        int r;

        r = tb_oci_parse_docker_manifest("manifest.json", (const char *)manifest->data, manifest->len, tag, &config, img);
        if (r < 0)
                return r;
        /* The config is content-addressed by its name ("HEX.json" or "blobs/sha256/HEX"); the
         * layers are then pinned by the config's diff_ids. */
        base = strrchr(config, '/') ? strrchr(config, '/') + 1 : config;
        snprintf(want, sizeof(want), "sha256:%.64s", base);
        if (tb_oci_digest_valid(want) && (base[64] == '\0' || strcmp(base + 64, ".json") == 0))
                want_p = want;
        else
                tb_warn("%s: config name is not its digest; trusting it as is", config);
        r = read_blob(open_fn, userdata, config, want_p, UINT64_MAX, false, &c);
        if (r < 0)
                return r;
        return tb_oci_parse_config(config, (const char *)c.data, c.len, img);
}

int tb_oci_load(tb_oci_open_fn open_fn, void *userdata, const char *tag, tb_oci_image **ret) {
        _cleanup_(tb_oci_image_freep) tb_oci_image *img = NULL;
        _cleanup_(tb_buf_freep) tb_buf top = TB_BUF_INIT;
        int r;

        img = calloc(1, sizeof(*img));
        if (!img)
                return tb_log_oom();
        r = read_blob(open_fn, userdata, "index.json", NULL, UINT64_MAX, true, &top);
        if (r >= 0)
                r = load_oci(open_fn, userdata, tag, &top, img);
        else if (r == -ENOENT) {
                r = read_blob(open_fn, userdata, "manifest.json", NULL, UINT64_MAX, true, &top);
                if (r >= 0)
                        r = load_docker(open_fn, userdata, tag, &top, img);
                else if (r == -ENOENT)
                        tb_err("neither index.json (OCI) nor manifest.json (docker archive) found in the image");
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(img);
        return 0;
}

int tb_oci_select_platform(const char *name, const char *json, size_t len, const tb_oci_platform *want,
                           tb_oci_descriptor *ret) {
        _cleanup_(json_object_putp) json_object *j = NULL;
        _cleanup_(tb_buf_freep) tb_buf have = TB_BUF_INIT;
        json_object *ms, *pick = NULL;
        size_t n;
        int r;

        r = index_manifests(name, json, len, &j, &ms, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && !pick; i++) {
                json_object *m = json_object_array_get_idx(ms, i);
                json_object *p = get_typed(m, "platform", json_type_object);
                const char *arch = get_string(p, "architecture"), *os = get_string(p, "os");
                const char *variant = get_string(p, "variant");

                if (!arch || !os)
                        continue;
                /* Attestation manifests (buildx) carry "unknown/unknown": not an image. */
                if (strcmp(os, want->os) == 0 && strcmp(arch, want->arch) == 0 &&
                    (!want->variant || (variant && strcmp(variant, want->variant) == 0)))
                        pick = m;
                else if (have.len < 400 && strcmp(os, "unknown") != 0) {
                        char one[160];

                        snprintf(one, sizeof(one), "%s%.40s/%.40s%s%.20s", have.len ? ", " : "", os, arch,
                                 variant ? "/" : "", variant ?: "");
                        r = tb_buf_append(&have, one, strlen(one));
                        if (r < 0)
                                return r;
                }
        }
        if (!pick) {
                (void)tb_buf_append_zero(&have, 1);
                tb_err("%s: no image for %s/%s%s%s in the index (it has %s)", name, want->os, want->arch,
                       want->variant ? "/" : "", want->variant ?: "", have.data ? (const char *)have.data : "none");
                return -ENOENT;
        }
        return parse_descriptor(name, pick, ret);
}

const char *tb_oci_host_arch(void) {
        return host_arch();
}
