/* install.h — installing the medium to a disk (shared/research/kairos.md §4.4–§4.5): GPT, the ESP filled
 * from the medium and fanned out to the boot roles, LUKS2 volumes sealed to the TPM by the signed
 * PCR 11 policy with their file systems inside, the cloud-config copied into OEM.
 *
 * tb_install_check() does every refusal that does not need to write: call it first, then
 * tb_install_run(). A run that fails midway can simply be repeated: it starts with a new GPT. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/cloudconfig.h"
#include "node/disk.h"

#define TB_INSTALL_PCR_PUBLIC_KEY "/.extra/tpm2-pcr-public-key.pem"
#define TB_INSTALL_RUN_DIR "/run/trustboot"

typedef struct tb_install_params {
        const tb_cloudconfig *config;
        const char *device;           /* resolved target (not "auto") */
        const char *source_dir;       /* the medium's ESP tree (EFI/, loader/) */
        const char *const *config_files; /* copied into OEM as 90_custom.yaml, 91_custom.yaml, … */
        size_t n_config_files;
        const char *pcr_public_key;   /* PEM; NULL: TB_INSTALL_PCR_PUBLIC_KEY */
        const char *tpm2_device;      /* NULL: auto */
        bool encrypt;                 /* false (tests): nothing encrypted, no TPM needed */
        bool check_images;            /* every EFI binary of the medium against the firmware's db/dbx,
                                       * every UKI's PCR key against the one the volumes are sealed
                                       * to (upgrade's checks); false only with Secure Boot off */
        const char *efivarfs;         /* NULL: the default; "" to not set LoaderEntryOneShot */
        const char *work_dir;         /* mount points; NULL: TB_INSTALL_RUN_DIR/install */
} tb_install_params;

/* The ESP is sized for the node's life, from the medium it is installed from (U = the bytes of
 * every norole* UKI, O = everything else: systemd-boot, loader.conf, keys):
 *   - it must hold the four boot roles (active, passive, recovery, statereset: 4 U) plus what an
 *     upgrade writes before it removes anything (the next generation, U): 5 U; systemd-boot and
 *     the keys twice (an upgrade writes the new ones beside the old): 2 O;
 *   - the images grow over the node's life: every generation is given room to double
 *     (TB_INSTALL_ESP_GROWTH);
 *   - 10 % and 16 MiB for the FAT's own tables and cluster slack.
 *     minimum = (5 U + 2 O) × 1.1 + 16 MiB           (no growth: refused below this)
 *     default = (5 × 2 U + 2 O) × 1.1 + 16 MiB, at least 64 MiB
 * Kairos instead takes max(15 GiB, 3 × the source image); trustboot knows the UKI sizes exactly, so
 * the default follows them (a 190 MiB UKI gives 2.1 GiB, the 30 MiB busybox test medium 343 MiB).
 * install.partitions.efi.size overrides the default; an override below the minimum is refused. */
#define TB_INSTALL_ESP_GENERATIONS 5
#define TB_INSTALL_ESP_GROWTH 2

typedef struct tb_install_esp_size {
        uint64_t uki_bytes;   /* U: the norole* files of one generation */
        uint64_t other_bytes; /* O */
        uint64_t min_mib;
        uint64_t default_mib;
} tb_install_esp_size;

int tb_install_esp_size_from_medium(const char *source_dir, tb_install_esp_size *ret);

/* The ESP size to create: the default, or CONFIG_MIB (install.partitions.efi.size, 0: none) when
 * it is at least the minimum. A smaller override is refused with the numbers. */
int tb_install_efi_mib(const char *source_dir, uint64_t config_mib, uint64_t *ret);

/* Checks before any write: the target exists, is a block device that is not the boot medium
 * (compared by device number), not in use (mounted, swap, holders, an exclusive opener) and large
 * enough; the configuration is consistent; the medium's EFI binaries would boot under the
 * firmware's db/dbx and its UKIs carry the PCR key the volumes are sealed to (check_images); the
 * PCR public key is readable and, when encrypting, a TPM answers. Fills L. Logs the one reason
 * for a refusal. */
int tb_install_check(const tb_install_params *p, tb_disk_layout *l);

/* Partitions, formats, encrypts and fills the disk per L. */
int tb_install_run(const tb_install_params *p, const tb_disk_layout *l);

/* Secure Boot state from the SecureBoot EFI variable: 1 on, 0 off, -ENOENT no such variable. */
int tb_install_secure_boot(const char *efivarfs);
