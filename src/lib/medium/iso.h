/* iso.h — the installable medium: an ISO 9660 image (Rock Ridge + Joliet) whose EFI boot image
 * is the ESP (/efiboot.img), reachable through El Torito (CD/DVD) and through an isohybrid GPT
 * entry pointing at the same blocks (USB stick) — the layout of Kairos' `xorriso -as mkisofs
 * -isohybrid-gpt-basdat -e efiboot.img -no-emul-boot`, without a second copy of the ESP. */
#pragma once

#include <stdint.h>

typedef struct tb_iso_options {
        const char *volume_id;   /* e.g. "UKI_ISO_INSTALL" */
        const char *esp_image;   /* the FAT image: El Torito EFI image and GPT partition */
        const char *overlay_dir; /* files placed at the ISO root, or NULL */
        int64_t epoch;           /* every timestamp, and the source of the volume/GPT UUIDs */
} tb_iso_options;

/* Writes the ISO to OUT_PATH atomically. Logs what failed. */
int tb_iso_write(const tb_iso_options *o, const char *out_path);
