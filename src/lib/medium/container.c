#include "medium/container.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/codec.h"
#include "util/fileio.h"
#include "util/json.h"
#include "util/log.h"
#include "util/ossl.h"

TB_DEFINE_CLEANUP(struct archive *, archive_write_free)

/* The layer tar goes to a file while its SHA-256 (the diff_id and blob digest) is computed. */
typedef struct hashing_sink {
        int fd;
        EVP_MD_CTX *md;
        uint64_t size;
        int error;
} hashing_sink;

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t len) {
        hashing_sink *s = userdata;
        int r;

        (void)a;
        r = tb_write_all(s->fd, buf, len);
        if (r < 0 || EVP_DigestUpdate(s->md, buf, len) != 1) {
                s->error = r < 0 ? r : -EIO;
                return -1;
        }
        s->size += len;
        return (la_ssize_t)len;
}

static struct archive *new_tar_writer(void) {
        struct archive *a = archive_write_new();

        if (!a)
                return NULL;
        /* pax restricted: plain ustar headers unless a name needs more; no padding to 10 KiB. */
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK) {
                archive_write_free(a);
                return NULL;
        }
        return a;
}

static int add_entry(struct archive *a, const char *name, mode_t mode, int64_t size, int64_t epoch) {
        struct archive_entry *e = archive_entry_new();
        int r;

        if (!e)
                return tb_log_oom();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, mode);
        archive_entry_set_size(e, size);
        archive_entry_set_mtime(e, epoch, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
        archive_entry_free(e);
        return r;
}

static int write_data(struct archive *a, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                la_ssize_t n = archive_write_data(a, p, len);

                if (n <= 0)
                        return -EIO;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

#define COPY_CHUNK (1u << 20)

static int copy_fd_into(struct archive *a, int fd, uint64_t size) {
        _cleanup_(freep) uint8_t *buf = malloc(COPY_CHUNK);
        int r;

        if (!buf)
                return tb_log_oom();
        while (size > 0) {
                ssize_t n = read(fd, buf, (size_t)MIN((uint64_t)COPY_CHUNK, size));

                if (n <= 0)
                        return n < 0 ? negative_errno() : -EIO;
                r = write_data(a, buf, (size_t)n);
                if (r < 0)
                        return r;
                size -= (uint64_t)n;
        }
        return 0;
}

static int write_layer(const tb_esp *esp, int64_t epoch, const char *tmpdir, int fd, char digest_hex[65],
                       uint64_t *ret_size) {
        /* MD before A: freeing an archive that was not closed (an error path) flushes it through
         * sink_write, which still hashes, so the digest context must outlive it. */
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_(archive_write_freep) struct archive *a = new_tar_writer();
        hashing_sink sink = { .fd = fd };
        unsigned char digest[32];
        int r;

        if (!a || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return tb_log_oom();
        sink.md = md;
        if (archive_write_open2(a, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
                return -EIO;
        for (size_t i = 0; i < tb_esp_count(esp); i++) {
                const tb_esp_entry *e = tb_esp_get(esp, i);
                uint64_t size;

                if (e->is_dir)
                        continue;
                r = tb_esp_entry_size(e, &size);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read", e->src_path);
                r = add_entry(a, e->path, 0644, (int64_t)size, epoch);
                if (r < 0)
                        return r;
                if (e->write) {
                        /* The layer is hashed as a stream: a producer writes into a scratch file
                         * first, or into the file prepared for it (a UKI whose initrd is in it). */
                        _cleanup_(closep) int tmp = e->src_path ? open(e->src_path, O_RDWR | O_CLOEXEC)
                                                                : open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

                        if (tmp < 0)
                                return tb_log_errno(negative_errno(), "%s: cannot create a scratch file", tmpdir);
                        r = e->write(tmp, 0, e->write_userdata);
                        if (r >= 0)
                                r = lseek(tmp, 0, SEEK_SET) < 0 ? negative_errno() : copy_fd_into(a, tmp, size);
                } else if (e->src_path) {
                        _cleanup_(closep) int in = open(e->src_path, O_RDONLY | O_CLOEXEC);

                        if (in < 0)
                                return tb_log_errno(negative_errno(), "%s: cannot read", e->src_path);
                        r = copy_fd_into(a, in, size);
                } else
                        r = write_data(a, e->data.data, e->data.len);
                if (r < 0)
                        return sink.error < 0 ? sink.error : r;
        }
        if (archive_write_close(a) != ARCHIVE_OK)
                return sink.error < 0 ? sink.error : -EIO;
        if (EVP_DigestFinal_ex(md, digest, NULL) != 1)
                return -EIO;
        tb_hex_encode(digest, sizeof(digest), digest_hex);
        *ret_size = sink.size;
        return 0;
}

static int sha256_hex(const void *data, size_t len, char out[65]) {
        unsigned char d[32];

        if (!EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL))
                return -EIO;
        tb_hex_encode(d, sizeof(d), out);
        return 0;
}

static int iso8601(int64_t epoch, char out[32]) {
        time_t t = (time_t)epoch;
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -ERANGE;
        return 0;
}

static int make_config(const tb_container_options *o, const char *layer_hex, tb_buf *out) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *rootfs, *diff_ids, *history, *h;
        char created[32], diff_id[80];
        const char *s;
        int r;

        if (!root)
                return tb_log_oom();
        r = iso8601(o->epoch, created);
        if (r < 0)
                return r;
        snprintf(diff_id, sizeof(diff_id), "sha256:%s", layer_hex);
        rootfs = json_object_new_object();
        diff_ids = json_object_new_array();
        history = json_object_new_array();
        h = json_object_new_object();
        if (!rootfs || !diff_ids || !history || !h)
                return tb_log_oom();
        json_object_object_add(root, "architecture", json_object_new_string(o->arch));
        json_object_object_add(root, "os", json_object_new_string("linux"));
        json_object_object_add(root, "created", json_object_new_string(created));
        json_object_object_add(root, "config", json_object_new_object());
        json_object_object_add(rootfs, "type", json_object_new_string("layers"));
        json_object_array_add(diff_ids, json_object_new_string(diff_id));
        json_object_object_add(rootfs, "diff_ids", diff_ids);
        json_object_object_add(root, "rootfs", rootfs);
        json_object_object_add(h, "created", json_object_new_string(created));
        json_object_object_add(h, "created_by", json_object_new_string("trustboot build-uki"));
        json_object_array_add(history, h);
        json_object_object_add(root, "history", history);
        s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return tb_buf_append(out, s, strlen(s));
}

static int make_manifest(const tb_container_options *o, const char *config_name, const char *layer_name,
                         tb_buf *out) {
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
        json_object *m = json_object_new_object(), *tags = json_object_new_array(), *layers = json_object_new_array();
        const char *s;

        if (!arr || !m || !tags || !layers) {
                json_object_put(m);
                json_object_put(tags);
                json_object_put(layers);
                return tb_log_oom();
        }
        json_object_object_add(m, "Config", json_object_new_string(config_name));
        json_object_array_add(tags, json_object_new_string(o->repo_tag));
        json_object_object_add(m, "RepoTags", tags);
        json_object_array_add(layers, json_object_new_string(layer_name));
        json_object_object_add(m, "Layers", layers);
        json_object_array_add(arr, m);
        s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return tb_buf_append(out, s, strlen(s));
}

int tb_container_write(const tb_esp *esp, const tb_container_options *o, const char *out_path) {
        _cleanup_(tb_atomic_abortp) tb_atomic_file layer = TB_ATOMIC_FILE_INIT, out = TB_ATOMIC_FILE_INIT;
        _cleanup_(archive_write_freep) struct archive *a = NULL;
        _cleanup_(tb_buf_freep) tb_buf config = TB_BUF_INIT, manifest = TB_BUF_INIT;
        _cleanup_(freep) char *layer_tmp = NULL, *tmpdir = NULL;
        char *slash, layer_hex[65], config_hex[65], config_name[80], layer_name[80];
        uint64_t layer_size = 0;
        int r;

        /* The layer goes to a hidden temp file beside the output first: its digest names it. */
        if (asprintf(&layer_tmp, "%s.layer", out_path) < 0)
                return tb_log_oom();
        r = tb_atomic_open(layer_tmp, 0600, &layer);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", out_path);
        tmpdir = strdup(out_path);
        if (!tmpdir)
                return -ENOMEM;
        slash = strrchr(tmpdir, '/');
        if (slash)
                *slash = '\0';
        r = write_layer(esp, o->epoch, slash ? tmpdir : ".", layer.fd, layer_hex, &layer_size);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write the image layer", out_path);
        if (lseek(layer.fd, 0, SEEK_SET) < 0) /* read back through the same (read-write) fd */
                return negative_errno();

        r = make_config(o, layer_hex, &config);
        if (r >= 0)
                r = sha256_hex(config.data, config.len, config_hex);
        if (r < 0)
                return r;
        snprintf(config_name, sizeof(config_name), "%s.json", config_hex);
        snprintf(layer_name, sizeof(layer_name), "%s/layer.tar", layer_hex);
        r = make_manifest(o, config_name, layer_name, &manifest);
        if (r < 0)
                return r;

        r = tb_atomic_open(out_path, 0644, &out);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", out_path);
        a = new_tar_writer();
        if (!a || archive_write_open_fd(a, out.fd) != ARCHIVE_OK)
                return tb_log_errno(-EIO, "%s: cannot write", out_path);
        if ((r = add_entry(a, layer_name, 0644, (int64_t)layer_size, o->epoch)) < 0 ||
            (r = copy_fd_into(a, layer.fd, layer_size)) < 0 ||
            (r = add_entry(a, config_name, 0644, (int64_t)config.len, o->epoch)) < 0 ||
            (r = write_data(a, config.data, config.len)) < 0 ||
            (r = add_entry(a, "manifest.json", 0644, (int64_t)manifest.len, o->epoch)) < 0 ||
            (r = write_data(a, manifest.data, manifest.len)) < 0)
                return tb_log_errno(r, "%s: cannot write", out_path);
        if (archive_write_close(a) != ARCHIVE_OK)
                return tb_log_errno(-EIO, "%s: cannot write: %s", out_path, archive_error_string(a));
        r = tb_atomic_commit(&out);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", out_path);
        return 0; /* the layer temp file is removed by its cleanup */
}
