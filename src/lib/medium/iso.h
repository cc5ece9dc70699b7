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

/* Writes the ISO to OUT_PATH atomically. Logs what failed. ESP images of 4 GiB or more are
 * refused (-EFBIG): one ISO 9660 extent and the El Torito/GPT entries must hold them. */
int tb_iso_write(const tb_iso_options *o, const char *out_path);
