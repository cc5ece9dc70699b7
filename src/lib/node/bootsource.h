/* bootsource.h — where this boot came from, decided from what an attacker cannot forge from a
 * stick (issue 17, High 2): the installed, from-disk path needs
 *   - a boot loader entry of an installed role (active, passive, recovery, statereset) in
 *     LoaderEntrySelected, and
 *   - the ESP systemd-boot (or the stub) was loaded from (LoaderDevicePartUUID) on the disk that
 *     holds the TPM-sealed LUKS2 volumes,
 * both variables volatile (set before ExitBootServices by the signed boot chain: an operating
 * system can create only non-volatile variables, so a value planted from a root shell on an
 * earlier boot carries the NV attribute and is refused). Everything else — the install/live
 * medium, a copied active.efi on a stick, an EFI shell — is "medium". */
#pragma once

#include <stdbool.h>

#include "node/bootentries.h"

typedef enum tb_boot_source {
        TB_BOOT_SOURCE_MEDIUM,
        TB_BOOT_SOURCE_DISK,
} tb_boot_source;

typedef struct tb_boot_origin {
        tb_boot_source source;
        tb_role role;           /* from LoaderEntrySelected; TB_ROLE_NONE if unknown */
        char *entry;            /* LoaderEntrySelected, or NULL */
        char *esp_partuuid;     /* LoaderDevicePartUUID (lower case), or NULL */
        char *esp_device;       /* /dev/… of that partition, or NULL if no such device is here */
        char *disk;             /* /dev/… of the whole disk holding it, or NULL */
        char *why;              /* one phrase: why this source (for the console line) */
} tb_boot_origin;

void tb_boot_origin_done(tb_boot_origin *o);

/* Decides the origin from the loader variables in EFIVARFS (NULL: the default) and the block
 * devices (libblkid, sysfs). Never fails for lack of information: that is a medium boot. */
int tb_boot_origin_probe(const char *efivarfs, tb_boot_origin *ret);

/* "/dev/vda2" → "/dev/vda" through /sys/class/block (a whole disk is returned as itself). */
int tb_block_whole_disk(const char *device, char **ret);

/* Whether DEVICE (a partition or a disk) is on DISK (a whole disk node). */
bool tb_block_on_disk(const char *device, const char *disk);

/* Whether DISK holds at least one LUKS2 volume with a systemd-tpm2 token. */
bool tb_block_disk_has_sealed_volume(const char *disk);
