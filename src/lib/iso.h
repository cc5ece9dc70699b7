/* iso.h — the installable medium: an ISO 9660 image (Rock Ridge + Joliet) whose EFI boot image
 * is the ESP, reachable both through El Torito (CD/DVD) and a GPT partition (USB stick).
 * Layout as `xorriso -as mkisofs -append_partition 2 0xef ESP -e --interval:appended_partition_2:all::
 * -no-emul-boot`, which boots under OVMF as a CD-ROM and as a disk (research/machine.md §6). */
#pragma once

#include <stdint.h>

typedef struct tb_iso_options {
        const char *volume_id;   /* e.g. "UKI_ISO_INSTALL" */
        const char *esp_image;   /* the FAT image, appended as partition 2 and El Torito EFI image */
        const char *overlay_dir; /* files placed at the ISO root, or NULL */
        int64_t epoch;           /* every timestamp, and the source of the volume/GPT UUIDs */
} tb_iso_options;

/* Writes the ISO to OUT_PATH atomically. Logs what failed. */
int tb_iso_write(const tb_iso_options *o, const char *out_path);
