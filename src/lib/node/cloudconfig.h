/* cloudconfig.h — the cloud-config YAML keys trustboot honours when installing (shared/research/kairos.md
 * §4.3): install.{device,auto,reboot,poweroff,partitions,extra-partitions,encrypted_partitions},
 * bind-pcrs, bind-public-pcrs, and trustboot's own install.encrypt-system-partitions and
 * install.force. Several files can be merged over the defaults, later keys win.
 *
 * Encryption, as the seed promises: COS_OEM and COS_PERSISTENT are always encrypted, and
 * install.encrypted_partitions adds labels to them (Kairos' agent lets a list replace the pair,
 * which leaves both in plain text with the seed's own example). Only
 * install.encrypt-system-partitions: false leaves the system pair out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

#define TB_CLOUDCONFIG_OEM_LABEL "COS_OEM"
#define TB_CLOUDCONFIG_PERSISTENT_LABEL "COS_PERSISTENT"
#define TB_CLOUDCONFIG_EFI_LABEL "COS_GRUB"

typedef struct tb_cloudconfig_partition {
        char *name;        /* GPT partition name */
        uint64_t size_mib; /* 0: the rest of the disk */
        char *fs;          /* mkfs type, NULL: left unformatted ("-", "none", "noformat") */
        char *label;       /* file system label */
} tb_cloudconfig_partition;

typedef struct tb_cloudconfig {
        char *device;             /* "auto" (default): the largest disk that is not the boot medium */
        bool auto_install;
        bool reboot;
        bool poweroff;
        uint64_t efi_mib;         /* 0: sized from the medium's UKIs */
        uint64_t oem_mib;         /* 64 */
        uint64_t persistent_mib;  /* 0: the rest */
        tb_cloudconfig_partition *extra;
        size_t n_extra;
        char **encrypted;         /* install.encrypted_partitions: labels encrypted besides the system pair */
        size_t n_encrypted;
        bool encrypt_system;      /* install.encrypt-system-partitions (default true): COS_OEM, COS_PERSISTENT */
        bool force;               /* install.force: "auto" may take a disk that carries data */
        uint32_t bind_pcrs;        /* PCRs bound literally (mask), default none */
        uint32_t bind_public_pcrs; /* PCRs bound through the signed policy (mask), default 11 */
} tb_cloudconfig;

int tb_cloudconfig_new(tb_cloudconfig **ret); /* the defaults */
void tb_cloudconfig_free(tb_cloudconfig *c);
TB_DEFINE_CLEANUP(tb_cloudconfig *, tb_cloudconfig_free);

/* Merges the YAML document TEXT (named NAME in messages) into C. YAML and type errors are
 * logged once as "NAME:LINE:COLUMN: what" and return -EINVAL; unknown keys are warned about. */
int tb_cloudconfig_merge(tb_cloudconfig *c, const char *name, const char *text, size_t len);
/* tb_cloudconfig_merge() of the file PATH. */
int tb_cloudconfig_merge_file(tb_cloudconfig *c, const char *path);

/* Where the configuration comes from when the user names no file (`trustboot install` without
 * --config, and init's install-mode): trustboot.config=PATH on the kernel command line; else
 * every ROOT/oem/NAME.yaml in name order; else ROOT/etc/trustboot/config.yaml when readable; else
 * none, and the defaults hold. ROOT: NULL for the running system. *RET is a strv (strset.h),
 * possibly empty. -ENOMEM only. */
#define TB_CLOUDCONFIG_OEM_DIR "/oem"
#define TB_CLOUDCONFIG_ETC_FILE "/etc/trustboot/config.yaml"
int tb_cloudconfig_discover(const char *root, char ***ret, size_t *ret_n);

/* The defaults with the N FILES merged over them in order. Logs the file and the problem. */
int tb_cloudconfig_load_files(const char *const *files, size_t n, tb_cloudconfig **ret);

/* Checks the merged result: one size-0 partition at most, labels unique, every encrypted label
 * belongs to a partition. Logs the first problem. */
int tb_cloudconfig_validate(const tb_cloudconfig *c);

/* Whether the partition labelled LABEL is encrypted: a system partition unless
 * install.encrypt-system-partitions is false, or any label listed in encrypted_partitions. */
bool tb_cloudconfig_encrypts(const tb_cloudconfig *c, const char *label);

/* Whether a file system type from the configuration names a mkfs program we may run: lower-case
 * letters and digits only (no '/', no "..", nothing a shell or a path could make more of). */
bool tb_cloudconfig_fs_name_ok(const char *fs);

