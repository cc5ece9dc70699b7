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
            (r = iso_write_opts_set_gpt_guid(opts, NULL, 2)) < 0)
                return iso_error(r, "reproducibility options");

        /* The boot image also gets a GPT entry (isohybrid style, as xorriso -isohybrid-gpt-basdat)
         * so that the same file boots from a USB stick. */
        r = iso_write_opts_set_part_like_isohybrid(opts, 1);
        if (r < 0)
                return iso_error(r, "hybrid GPT");
        return 0;
}

int tb_iso_write(const tb_iso_options *o, const char *out_path) {
        _cleanup_(iso_image_unrefp) IsoImage *image = NULL;
        _cleanup_(iso_write_opts_freep) IsoWriteOpts *opts = NULL;
        _cleanup_(burn_source_freep) struct burn_source *src = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        ElToritoBootImage *boot = NULL;
        _cleanup_(freep) char *esp_abs = NULL;
        struct stat st;
        _cleanup_(freep) unsigned char *buf = NULL;
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
        esp_abs = realpath(o->esp_image, NULL); /* libisofs resolves only absolute paths */
        if (!esp_abs)
                return tb_log_errno(negative_errno(), "%s: cannot read", o->esp_image);
        r = iso_tree_add_new_node(image, iso_image_get_root(image), ESP_NAME, esp_abs, NULL);
        if (r < 0)
                return iso_error(r, o->esp_image);
        r = iso_image_set_boot_image(image, "/" ESP_NAME, ELTORITO_NO_EMUL, "/boot.catalog", &boot);
        if (r < 0)
                return iso_error(r, "El Torito boot image");
        el_torito_set_boot_platform_id(boot, 0xef); /* EFI */
        /* The load size is what OVMF takes as the El Torito partition's size, in 512-byte units,
         * but the field has only 16 bits. For a larger ESP write 0: OVMF then uses the rest of
         * the volume from the image's start, which holds the whole image. */
        if (stat(o->esp_image, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot read", o->esp_image);
        el_torito_set_load_size(boot, st.st_size / 512 <= 0xffff ? (short)(uint16_t)(st.st_size / 512) : 0);
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
        r = iso_image_create_burn_source(image, opts, &src);
        if (r < 0)
                return iso_error(r, "cannot start writing");

        r = tb_atomic_open(out_path, 0644, &af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", out_path);
        buf = malloc(WRITE_CHUNK);
        if (!buf)
                return tb_log_oom();
        /* libisofs hands out exactly the bytes asked for, except that a read past the end returns
         * EOF and drops the tail: ask for whole chunks up to the announced size, then the rest. */
        off_t size = src->get_size(src);
        if (size <= 0 || size % ISO_BLOCK)
                return iso_error(ISO_ERROR, "unexpected image size");
        for (off_t left = size; left > 0;) {
                int want = left < (off_t)WRITE_CHUNK ? (int)left : (int)WRITE_CHUNK;
                int n = src->read_xt(src, buf, want);

                if (n != want)
                        return iso_error(ISO_ERROR, n < 0 ? "writing failed" : "the image ended early");
                r = tb_write_all(af.fd, buf, (size_t)n);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot write", out_path);
                left -= n;
        }
        r = tb_atomic_commit(&af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", out_path);
        return 0;
}
