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
        const char *efivarfs;         /* NULL: the default; "" to not set LoaderEntryOneShot */
        const char *work_dir;         /* mount points; NULL: TB_INSTALL_RUN_DIR/install */
} tb_install_params;

/* ESP size for three generations of the medium's UKIs: every norole* file will exist as active,
 * passive, recovery and statereset, plus one new generation during an upgrade; everything else
 * once; 10% and 16 MiB for the FAT. At least 64 MiB. */
int tb_install_efi_mib(const char *source_dir, uint64_t *ret);

/* Checks before any write: the target exists, is not the boot medium and is large enough, the
 * configuration is consistent, the PCR public key is readable and, when encrypting, a TPM
 * answers. Fills L. Logs the one reason for a refusal. */
int tb_install_check(const tb_install_params *p, tb_disk_layout *l);

/* Partitions, formats, encrypts and fills the disk per L. */
int tb_install_run(const tb_install_params *p, const tb_disk_layout *l);

/* Secure Boot state from the SecureBoot EFI variable: 1 on, 0 off, -ENOENT no such variable. */
int tb_install_secure_boot(const char *efivarfs);
