#include "medium/iso.h"

#include <errno.h>
/* Without libburn, libisofs defines struct burn_source itself. */
#define LIBISOFS_WITHOUT_LIBBURN yes
#include <libisofs/libisofs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/fileio.h"
#include "util/log.h"

#define ISO_BLOCK 2048
#define ESP_NAME "efiboot.img"
#define WRITE_CHUNK (1u << 20)
#define ESP_MAX ((uint64_t)4 << 30)

/* libisofs reports through its own message queue; map its errors to one of ours. */
static int iso_error(int ret, const char *what) {
        tb_err("ISO image: %s: %s", what, iso_error_to_msg(ret));
        return -EIO;
}

TB_DEFINE_CLEANUP(IsoImage *, iso_image_unref)
TB_DEFINE_CLEANUP(IsoWriteOpts *, iso_write_opts_free)
static void burn_source_freep(struct burn_source **p) {
        if (*p) {
                (*p)->free_data(*p);
                free(*p);
        }
}

/* The ESP's stand-in for libisofs: the right size, and zeros that are never written, because
 * the ESP is written into that range of the output by tb_iso_options.esp_write. */
typedef struct zero_stream {
        uint64_t size, pos;
} zero_stream;

static int zs_open(IsoStream *s) {
        ((zero_stream *)s->data)->pos = 0;
        return ISO_SUCCESS;
}
static int zs_close(IsoStream *s) {
        (void)s;
        return ISO_SUCCESS;
}
static off_t zs_get_size(IsoStream *s) {
        return (off_t)((zero_stream *)s->data)->size;
}
static int zs_read(IsoStream *s, void *buf, size_t count) {
        zero_stream *z = s->data;
        size_t n = (size_t)MIN((uint64_t)count, z->size - z->pos);

        memset(buf, 0, n);
        z->pos += n;
        return (int)n;
}
static int zs_is_repeatable(IsoStream *s) {
        (void)s;
        return 1;
}
static void zs_get_id(IsoStream *s, unsigned int *fs_id, dev_t *dev_id, ino_t *ino_id) {
        (void)s;
        *fs_id = 0x74627a73; /* "tbzs": no libisofs file system uses it */
        *dev_id = 0;
        *ino_id = 1;
}
static void zs_free(IsoStream *s) {
        free(s->data);
}
static IsoStreamIface zero_stream_class = {
        .version = 0,
        .type = "user",
        .open = zs_open,
        .close = zs_close,
        .get_size = zs_get_size,
        .read = zs_read,
        .is_repeatable = zs_is_repeatable,
        .get_id = zs_get_id,
        .free = zs_free,
};

static int add_zero_stream_file(IsoImage *image, const char *name, uint64_t size) {
        IsoStream *st = calloc(1, sizeof(*st));
        zero_stream *z = calloc(1, sizeof(*z));
        int r;

        if (!st || !z) {
                free(st);
                free(z);
                return ISO_OUT_OF_MEM;
        }
        z->size = size;
        *st = (IsoStream){ .class = &zero_stream_class, .refcount = 1, .data = z };
        r = iso_image_add_new_file(image, iso_image_get_root(image), name, st, NULL);
        if (r < 0)
                iso_stream_unref(st);
        return r;
}

/* Where libisofs put the boot image (the ESP), read from its own output as it streams by: the
 * El Torito boot record (volume descriptors from block 16) names the catalog's block, whose
 * initial entry holds the image's block. Both come before the image in the stream. */
typedef struct boot_finder {
        uint32_t catalog; /* block, 0 until known */
        uint32_t image;   /* block, 0 until known */
} boot_finder;

static void find_boot_image(boot_finder *f, const uint8_t *buf, uint64_t a, uint64_t b) {
        if (!f->catalog)
                for (uint64_t lba = 16; lba < 32 && (lba + 1) * ISO_BLOCK <= b; lba++) {
                        const uint8_t *vd;

                        if (lba * ISO_BLOCK < a)
                                continue;
                        vd = buf + (lba * ISO_BLOCK - a);
                        if (memcmp(vd + 1, "CD001", 5) != 0 || vd[0] == 255)
                                break;
                        if (vd[0] == 0 && memcmp(vd + 7, "EL TORITO SPECIFICATION", 23) == 0) {
                                f->catalog = tb_get_u32le(vd + 0x47);
                                break;
                        }
                }
        if (f->catalog && !f->image && (uint64_t)f->catalog * ISO_BLOCK >= a &&
            (uint64_t)f->catalog * ISO_BLOCK + 64 <= b) {
                const uint8_t *cat = buf + ((uint64_t)f->catalog * ISO_BLOCK - a);

                /* Validation entry, then the initial entry: bootable (0x88), load RBA at 8. */
                if (cat[0] == 0x01 && cat[32] == 0x88)
                        f->image = tb_get_u32le(cat + 40);
        }
}

static int configure(IsoWriteOpts *opts, const tb_iso_options *o) {
        char vol_uuid[17];
        size_t n;
        struct tm tm;
        time_t t = (time_t)o->epoch;
        int r;

        /* Reproducible: every timestamp is the epoch, owners and modes are fixed, and the volume
         * UUID — from which the GPT disk and partition GUIDs are derived — is the epoch too. */
        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
                return -ERANGE;
        n = strftime(vol_uuid, sizeof(vol_uuid), "%Y%m%d%H%M%S00", &tm);
        if (n != 16)
                return -ERANGE;
        if ((r = iso_write_opts_set_pvd_times(opts, t, t, 0, t, vol_uuid)) < 0 ||
            (r = iso_write_opts_set_replace_timestamps(opts, 2)) < 0 ||
            (r = iso_write_opts_set_default_timestamp(opts, t)) < 0 || (r = iso_write_opts_set_always_gmt(opts, 1)) < 0 ||
            (r = iso_write_opts_set_replace_mode(opts, 1, 1, 1, 1)) < 0 ||
            (r = iso_write_opts_set_default_dir_mode(opts, 0555)) < 0 ||
            (r = iso_write_opts_set_default_file_mode(opts, 0444)) < 0 ||
            (r = iso_write_opts_set_gpt_guid(opts, NULL, 2)) < 0 ||
            /* RRIP 1.10: PX entries without file serial numbers. libisofs hands out serial numbers
             * to directories in an order that varies from run to run (1 in 6 builds with a
             * subdirectory in --overlay-iso swapped two), and nothing reads them. */
            (r = iso_write_opts_set_rrip_version_1_10(opts, 1)) < 0)
                return iso_error(r, "reproducibility options");

        /* The boot image also gets a GPT entry (isohybrid style, as xorriso -isohybrid-gpt-basdat)
         * so that the same file boots from a USB stick. */
        r = iso_write_opts_set_part_like_isohybrid(opts, 1);
        if (r < 0)
                return iso_error(r, "hybrid GPT");
        return 0;
}

/* The image and its write options for O, ready to stream. */
static int prepare_image(const tb_iso_options *o, IsoImage **ret_image, IsoWriteOpts **ret_opts) {
        _cleanup_(iso_image_unrefp) IsoImage *image = NULL;
        _cleanup_(iso_write_opts_freep) IsoWriteOpts *opts = NULL;
        ElToritoBootImage *boot = NULL;
        _cleanup_(freep) char *esp_abs = NULL;
        struct stat st;
        uint64_t esp_size;
        int r;

        r = iso_init();
        if (r < 0)
                return iso_error(r, "cannot initialize libisofs");
        iso_set_msgs_severities("NEVER", "FAILURE", "trustboot");

        r = iso_image_new(o->volume_id, &image);
        if (r < 0)
                return iso_error(r, "cannot create image");
        iso_image_set_publisher_id(image, "trustboot");
        iso_image_set_data_preparer_id(image, "trustboot");
        iso_image_set_ignore_aclea(image, 3);
        if (o->overlay_dir) {
                /* libisofs resolves only absolute paths. */
                _cleanup_(freep) char *abs = realpath(o->overlay_dir, NULL);

                if (!abs)
                        return tb_log_errno(negative_errno(), "%s: cannot read overlay directory", o->overlay_dir);
                r = iso_tree_add_dir_rec(image, iso_image_get_root(image), abs);
                if (r < 0)
                        return iso_error(r, o->overlay_dir);
        }
        if (o->esp_write) {
                esp_size = o->esp_size;
                r = esp_size >= ESP_MAX ? -EFBIG : add_zero_stream_file(image, ESP_NAME, esp_size);
        } else {
                if (stat(o->esp_image, &st) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot read", o->esp_image);
                esp_size = (uint64_t)st.st_size;
                esp_abs = realpath(o->esp_image, NULL); /* libisofs resolves only absolute paths */
                if (!esp_abs)
                        return tb_log_errno(negative_errno(), "%s: cannot read", o->esp_image);
                r = esp_size >= ESP_MAX ? -EFBIG
                                        : iso_tree_add_new_node(image, iso_image_get_root(image), ESP_NAME, esp_abs, NULL);
        }
        if (r == -EFBIG) {
                tb_err("ISO image: the ESP image is %.1f GiB; an installable ISO holds less than 4 GiB "
                       "(one ISO 9660 extent, El Torito and its GPT entry)", (double)esp_size / (1 << 30));
                return -EFBIG;
        }
        if (r < 0)
                return iso_error(r, o->esp_write ? ESP_NAME : o->esp_image);
        r = iso_image_set_boot_image(image, "/" ESP_NAME, ELTORITO_NO_EMUL, "/boot.catalog", &boot);
        if (r < 0)
                return iso_error(r, "El Torito boot image");
        el_torito_set_boot_platform_id(boot, 0xef); /* EFI */
        /* The load size is what OVMF takes as the El Torito partition's size, in 512-byte units,
         * but the field has only 16 bits. For a larger ESP write 0: OVMF then uses the rest of
         * the volume from the image's start, which holds the whole image. */
        el_torito_set_load_size(boot, esp_size / 512 <= 0xffff ? (short)(uint16_t)(esp_size / 512) : 0);
        r = el_torito_set_isolinux_options(boot, 1 << 2, 0); /* in the GPT, as Basic Data */
        if (r < 0)
                return iso_error(r, "El Torito GPT entry");
        iso_image_set_boot_catalog_hidden(image, LIBISO_HIDE_ON_RR | LIBISO_HIDE_ON_JOLIET);

        r = iso_write_opts_new(&opts, 2); /* "distribution": Rock Ridge + Joliet */
        if (r < 0)
                return iso_error(r, "write options");
        r = configure(opts, o);
        if (r < 0)
                return r;
        *ret_image = TAKE_PTR(image);
        *ret_opts = TAKE_PTR(opts);
        return 0;
}

/* Streams the image of O to FN block range by block range: FN(buf, a, b, userdata) gets output
 * bytes [a, b); a positive return stops early (and cancels libisofs' writer). */
typedef int (*stream_fn)(const uint8_t *buf, uint64_t a, uint64_t b, uint64_t size, void *userdata);

static int stream_image(const tb_iso_options *o, stream_fn fn, void *userdata) {
        _cleanup_(iso_image_unrefp) IsoImage *image = NULL;
        _cleanup_(iso_write_opts_freep) IsoWriteOpts *opts = NULL;
        _cleanup_(burn_source_freep) struct burn_source *src = NULL;
        _cleanup_(freep) unsigned char *buf = NULL;
        off_t size;
        int r;

        r = prepare_image(o, &image, &opts);
        if (r < 0)
                return r;
        r = iso_image_create_burn_source(image, opts, &src);
        if (r < 0)
                return iso_error(r, "cannot start writing");
        buf = malloc(WRITE_CHUNK);
        if (!buf)
                return tb_log_oom();
        /* libisofs hands out exactly the bytes asked for, except that a read past the end returns
         * EOF and drops the tail: ask for whole chunks up to the announced size, then the rest. */
        size = src->get_size(src);
        if (size <= 0 || size % ISO_BLOCK)
                return iso_error(ISO_ERROR, "unexpected image size");
        for (uint64_t pos = 0; pos < (uint64_t)size;) {
                int want = (uint64_t)size - pos < WRITE_CHUNK ? (int)((uint64_t)size - pos) : (int)WRITE_CHUNK;
                int n = src->read_xt(src, buf, want);

                if (n != want)
                        return iso_error(ISO_ERROR, n < 0 ? "writing failed" : "the image ended early");
                r = fn(buf, pos, pos + (uint64_t)n, (uint64_t)size, userdata);
                if (r != 0) {
                        if (r > 0)
                                src->cancel(src);
                        return r < 0 ? r : 0;
                }
                pos += (uint64_t)n;
        }
        return 0;
}

typedef struct probe {
        boot_finder found;
} probe;

static int probe_chunk(const uint8_t *buf, uint64_t a, uint64_t b, uint64_t size, void *userdata) {
        probe *p = userdata;

        (void)size;
        find_boot_image(&p->found, buf, a, b);
        return p->found.image ? 1 : 0;
}

int tb_iso_esp_offset(const tb_iso_options *o, uint64_t *ret) {
        probe p = {};
        int r;

        if (!o->esp_write)
                return -EINVAL;
        r = stream_image(o, probe_chunk, &p);
        if (r < 0)
                return r;
        if (!p.found.image)
                return iso_error(ISO_ERROR, "no El Torito boot image in the output");
        *ret = (uint64_t)p.found.image * ISO_BLOCK;
        return 0;
}

typedef struct writer {
        const tb_iso_options *o;
        int fd;
        const char *name;
        boot_finder found;
        uint64_t esp_off, esp_end;
} writer;

static int write_chunk(const uint8_t *buf, uint64_t a, uint64_t b, uint64_t size, void *userdata) {
        writer *w = userdata;
        int r = 0;

        if (w->o->esp_write && !w->found.image) {
                find_boot_image(&w->found, buf, a, b);
                if (w->found.image) {
                        w->esp_off = (uint64_t)w->found.image * ISO_BLOCK;
                        w->esp_end = w->esp_off + ALIGN_TO(w->o->esp_size, (uint64_t)ISO_BLOCK);
                        if (w->esp_off < a || w->esp_end > size)
                                return iso_error(ISO_ERROR, "boot image outside the expected range");
                }
        }
        /* Everything but the ESP's range, which stays a hole until esp_write fills it. */
        if (a < w->esp_off)
                r = tb_pwrite_all(w->fd, buf, (size_t)(MIN(b, w->esp_off) - a), (off_t)a);
        if (r >= 0 && b > w->esp_end) {
                uint64_t from = MAX(a, w->esp_end);

                r = tb_pwrite_all(w->fd, buf + (from - a), (size_t)(b - from), (off_t)from);
        }
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", w->name);
        if (b == size && w->o->esp_write) {
                if (!w->found.image)
                        return iso_error(ISO_ERROR, "no El Torito boot image in the output");
                if (ftruncate(w->fd, (off_t)size) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot write", w->name);
        }
        return 0;
}

int tb_iso_write_fd(const tb_iso_options *o, int fd, const char *name) {
        writer w = { .o = o, .fd = fd, .name = name, .esp_off = UINT64_MAX, .esp_end = UINT64_MAX };
        int r;

        r = stream_image(o, write_chunk, &w);
        if (r < 0)
                return r;
        if (o->esp_write)
                return o->esp_write(fd, w.esp_off, o->esp_userdata);
        return 0;
}

int tb_iso_write(const tb_iso_options *o, const char *out_path) {
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        int r;

        r = tb_atomic_open(out_path, 0644, &af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", out_path);
        r = tb_iso_write_fd(o, af.fd, out_path);
        if (r < 0)
                return r;
        r = tb_atomic_commit(&af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", out_path);
        return 0;
}
