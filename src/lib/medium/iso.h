/* iso.h — the installable medium: an ISO 9660 image (Rock Ridge + Joliet) whose EFI boot image
 * is the ESP (/efiboot.img), reachable through El Torito (CD/DVD) and through an isohybrid GPT
 * entry pointing at the same blocks (USB stick) — the layout of Kairos' `xorriso -as mkisofs
 * -isohybrid-gpt-basdat -e efiboot.img -no-emul-boot`, without a second copy of the ESP. */
#pragma once

#include <stdint.h>

/* Writes the ESP image (ESP_SIZE bytes) at offset OFF of FD, whose range reads as zeros. */
typedef int (*tb_iso_esp_write_fn)(int fd, uint64_t off, void *userdata);

typedef struct tb_iso_options {
        const char *volume_id;   /* e.g. "UKI_ISO_INSTALL" */
        const char *esp_image;   /* the FAT image: El Torito EFI image and GPT partition */
        /* Or, instead of ESP_IMAGE, an image written straight into its place in the ISO: the
         * ISO 9660 metadata is written around it and its bytes never pass through libisofs. */
        uint64_t esp_size;
        tb_iso_esp_write_fn esp_write;
        void *esp_userdata;
        const char *overlay_dir; /* files placed at the ISO root, or NULL */
        int64_t epoch;           /* every timestamp, and the source of the volume/GPT UUIDs */
} tb_iso_options;

/* Where the ESP image of O (O->esp_write set, O->esp_size as it will be or any other size) will
 * start in the ISO, in bytes: libisofs lays the image out and the boot catalog says, before any
 * of the ESP is produced. The place does not depend on the ESP's size (the metadata before it
 * holds sizes in fixed-width fields); tb_iso_write_fd() passes the real one to esp_write. */
int tb_iso_esp_offset(const tb_iso_options *o, uint64_t *ret);
/* tb_iso_write() into FD, an open new file (not committed; NAME for messages): parts of the
 * ESP's range may already hold their bytes, the ISO writer never writes that range. */
int tb_iso_write_fd(const tb_iso_options *o, int fd, const char *name);
/* Writes the ISO to OUT_PATH atomically. Logs what failed. ESP images of 4 GiB or more are
 * refused (-EFBIG): one ISO 9660 extent and the El Torito/GPT entries must hold them. */
int tb_iso_write(const tb_iso_options *o, const char *out_path);
