#include "medium/container.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
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

/* The image is a tar (the outer one) whose first member is the layer tar. The outer member's
 * header is one ustar block (its name, "<64 hex>/layer.tar", fits), so the layer starts here. */
#define LAYER_BASE 512u

/* libarchive writes every tar header, pax record, padding and end block; the files' data is not
 * pushed through it. Each file's data goes straight into its place in the output (a producer
 * writes it there, a file is copied there with copy_file_range), and its range is a "hole" of the
 * stream: libarchive fills an entry whose data was not written with NULs when the entry is
 * finished, and those bytes are dropped here instead of written over the data. So the bytes of
 * the output are exactly those of the stream (headers from libarchive, the same data), each
 * written once. */
typedef struct placing_sink {
        int fd;            /* -1: lay out only, nothing is written */
        uint64_t base;     /* where the stream starts in FD */
        uint64_t pos;      /* bytes of the stream so far */
        uint64_t hole_end; /* the stream's bytes before this belong to data placed by the caller */
        int error;
} placing_sink;

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t len) {
        placing_sink *s = userdata;
        uint64_t skip = s->hole_end > s->pos ? MIN(s->hole_end - s->pos, (uint64_t)len) : 0;

        (void)a;
        if (s->fd >= 0 && len > skip) {
                int r = tb_pwrite_all(s->fd, (const uint8_t *)buf + skip, len - (size_t)skip,
                                      (off_t)(s->base + s->pos + skip));

                if (r < 0) {
                        s->error = r;
                        return -1;
                }
        }
        s->pos += len;
        return (la_ssize_t)len;
}

static struct archive *new_tar_writer(placing_sink *sink) {
        struct archive *a = archive_write_new();

        if (!a)
                return NULL;
        /* pax restricted: plain ustar headers unless a name needs more; no padding to 10 KiB.
         * Unblocked, so that the sink has seen every header byte when archive_write_header()
         * returns (its position is then where the entry's data starts); the bytes are the same
         * as blocked output, whose last block is not padded either. */
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
            archive_write_open2(a, sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK) {
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

/* An entry whose data (SIZE bytes) the caller places itself: its header now; its data's range,
 * from the returned offset on, is a hole of the stream. */
static int add_placed_entry(struct archive *a, placing_sink *s, const char *name, uint64_t size, int64_t epoch,
                            uint64_t *ret_data_off) {
        int r = add_entry(a, name, 0644, (int64_t)size, epoch);

        if (r < 0)
                return s->error < 0 ? s->error : r;
        *ret_data_off = s->base + s->pos;
        s->hole_end = s->pos + size;
        return 0;
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

/* SIZE bytes of SRC_PATH to OFF of FD: copy_file_range (no pass through user space; on the same
 * file system possibly no data write at all), read/pwrite where the kernel cannot. */
static int copy_at(const char *src_path, uint64_t size, int fd, uint64_t off) {
        _cleanup_(closep) int src = open(src_path, O_RDONLY | O_CLOEXEC);
        uint64_t done = 0;
        struct stat st;

        if (src < 0 || fstat(src, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot read", src_path);
        if ((uint64_t)st.st_size != size)
                return tb_log_errno(-EBUSY, "%s: changed while the image was written", src_path);
        while (done < size) {
                loff_t out_off = (loff_t)(off + done);
                ssize_t k = copy_file_range(src, NULL, fd, &out_off, (size_t)MIN(size - done, (uint64_t)(1u << 30)), 0);

                if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
                        k = 0; /* read and write below */
                if (k < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot copy", src_path);
                if (k == 0) {
                        uint8_t buf[1 << 16];
                        ssize_t m = read(src, buf, (size_t)MIN((uint64_t)sizeof(buf), size - done));
                        int r;

                        if (m <= 0)
                                return tb_log_errno(m < 0 ? negative_errno() : -EBUSY, "%s: changed while the image was written",
                                                    src_path);
                        r = tb_pwrite_all(fd, buf, (size_t)m, (off_t)(off + done));
                        if (r < 0)
                                return r;
                        k = m;
                }
                done += (uint64_t)k;
        }
        return 0;
}

/* The layer tar at LAYER_BASE of FD: headers through libarchive, every file's data straight into
 * its place. With FD < 0 nothing is written: the layout only, up to STOP's data offset (if STOP
 * is given, *RET is where its data starts; else *RET is the layer's size). */
static int write_layer(const tb_esp *esp, int64_t epoch, int fd, const char *stop, uint64_t *ret) {
        placing_sink sink = { .fd = fd, .base = LAYER_BASE };
        _cleanup_(archive_write_freep) struct archive *a = new_tar_writer(&sink);
        int r;

        if (!a)
                return tb_log_oom();
        for (size_t i = 0; i < tb_esp_count(esp); i++) {
                const tb_esp_entry *e = tb_esp_get(esp, i);
                uint64_t size, off = 0;

                if (e->is_dir)
                        continue;
                r = tb_esp_entry_size(e, &size);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read", e->src_path);
                /* Small bytes held in memory (configuration) go through libarchive; files and
                 * producers are placed. */
                r = e->write || e->src_path ? add_placed_entry(a, &sink, e->path, size, epoch, &off)
                                            : add_entry(a, e->path, 0644, (int64_t)size, epoch);
                if (r < 0)
                        return sink.error < 0 ? sink.error : r;
                if (stop && strcmp(e->path, stop) == 0) {
                        *ret = sink.base + sink.pos;
                        return 0;
                }
                if (!e->write && !e->src_path) {
                        r = write_data(a, e->data.data, e->data.len);
                        if (r < 0)
                                return sink.error < 0 ? sink.error : r;
                        continue;
                }
                if (fd < 0)
                        continue;
                /* A producer writes at its offset of the output itself (a UKI signed into its
                 * place); a prepared file (tb_esp_add_producer_in) is read by its producer. */
                r = e->write ? e->write(fd, off, e->write_userdata) : copy_at(e->src_path, size, fd, off);
                if (r < 0)
                        return r;
        }
        if (stop)
                return -ENOENT;
        if (archive_write_close(a) != ARCHIVE_OK)
                return sink.error < 0 ? sink.error : -EIO;
        *ret = sink.pos;
        return 0;
}

int tb_container_data_offset(const tb_esp *esp, const tb_container_options *o, const char *path, uint64_t *ret) {
        return write_layer(esp, o->epoch, -1, path, ret);
}

/* The layer's SHA-256 (its diff_id and blob digest), from where it lies in FD: the page cache,
 * the bytes just written, after every write into it. */
static int hash_range(int fd, uint64_t off, uint64_t size, char hex[65]) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_(freep) uint8_t *buf = malloc(1u << 20);
        unsigned char digest[32];

        if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return tb_log_oom();
        for (uint64_t done = 0; done < size;) {
                size_t n = (size_t)MIN(size - done, (uint64_t)(1u << 20));
                int r = tb_pread_full(fd, buf, n, (off_t)(off + done));

                if (r < 0)
                        return r;
                if (EVP_DigestUpdate(md, buf, n) != 1)
                        return -EIO;
                done += n;
        }
        if (EVP_DigestFinal_ex(md, digest, NULL) != 1)
                return -EIO;
        tb_hex_encode(digest, sizeof(digest), hex);
        return 0;
}

typedef struct layer_hash {
        int fd;
        uint64_t size;
        char hex[65];
        int r;
} layer_hash;

static void *layer_hash_thread(void *userdata) {
        layer_hash *h = userdata;

        h->r = hash_range(h->fd, LAYER_BASE, h->size, h->hex);
        return NULL;
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

int tb_container_write_fd(const tb_esp *esp, const tb_container_options *o, int fd, const char *out_path,
                          tb_container_check_fn check, void *userdata) {
        _cleanup_(tb_buf_freep) tb_buf config = TB_BUF_INIT, manifest = TB_BUF_INIT;
        char layer_hex[65], config_hex[65], config_name[80], layer_name[80];
        uint64_t layer_size = 0, off = 0;
        placing_sink sink = { .fd = fd };
        _cleanup_(archive_write_freep) struct archive *a = NULL;
        layer_hash lh;
        pthread_t t;
        bool threaded;
        int r;

        r = write_layer(esp, o->epoch, fd, NULL, &layer_size);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write the image layer", out_path);
        /* The layer is complete and nothing writes into it any more: its digest is taken beside
         * the check (both only read the page cache, after the compression: cores are free), and only
         * used if the check passes. */
        lh = (layer_hash){ .fd = fd, .size = layer_size };
        threaded = check && pthread_create(&t, NULL, layer_hash_thread, &lh) == 0;
        r = check ? check(fd, userdata) : 0;
        if (threaded)
                pthread_join(t, NULL);
        else
                layer_hash_thread(&lh);
        if (r < 0)
                return r;
        if (lh.r < 0)
                return tb_log_errno(lh.r, "%s: cannot read back the image layer", out_path);
        memcpy(layer_hex, lh.hex, sizeof(layer_hex));

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

        /* The outer tar around the layer, which is a hole of its stream. */
        a = new_tar_writer(&sink);
        if (!a)
                return tb_log_oom();
        r = add_placed_entry(a, &sink, layer_name, layer_size, o->epoch, &off);
        if (r >= 0 && off != LAYER_BASE) {
                tb_err("%s: the layer's header is %llu bytes, not %u", out_path, (unsigned long long)off, LAYER_BASE);
                return -EIO;
        }
        if (r < 0 || (r = add_entry(a, config_name, 0644, (int64_t)config.len, o->epoch)) < 0 ||
            (r = write_data(a, config.data, config.len)) < 0 ||
            (r = add_entry(a, "manifest.json", 0644, (int64_t)manifest.len, o->epoch)) < 0 ||
            (r = write_data(a, manifest.data, manifest.len)) < 0)
                return tb_log_errno(sink.error < 0 ? sink.error : r, "%s: cannot write", out_path);
        if (archive_write_close(a) != ARCHIVE_OK)
                return tb_log_errno(sink.error < 0 ? sink.error : -EIO, "%s: cannot write: %s", out_path,
                                    archive_error_string(a));
        /* A file written with holes ends at its last byte written: the size must be the stream's. */
        if (ftruncate(fd, (off_t)sink.pos) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot write", out_path);
        return 0;
}

int tb_container_write(const tb_esp *esp, const tb_container_options *o, const char *out_path) {
        _cleanup_(tb_atomic_abortp) tb_atomic_file out = TB_ATOMIC_FILE_INIT;
        int r;

        r = tb_atomic_open(out_path, 0644, &out);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", out_path);
        r = tb_container_write_fd(esp, o, out.fd, out_path, NULL, NULL);
        if (r < 0)
                return r;
        r = tb_atomic_commit(&out);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", out_path);
        return 0;
}
