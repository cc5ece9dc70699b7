/* installer.h — `trustboot install` as one run: the configuration in effect, the Secure Boot
 * gate, the target disk, the checks and the layout they chose, the install (node/install.h),
 * then what the configuration asks for after it (power off, reboot). PID 1's install-mode
 * (node/boot) takes the configuration and the target disk from here too. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "node/cloudconfig.h"
#include "node/disk.h"

typedef struct tb_installer_options {
        const char *const *configs;   /* the cloud-config files to merge, in order; none: */
        size_t n_configs;             /*   tb_cloudconfig_discover's (the running system's) */
        const char *device;           /* overrides install.device ("auto": tb_installer_device) */
        const char *source_dir;       /* the medium's ESP tree; NULL: TB_INSTALL_RUN_DIR/medium */
        const char *pcr_public_key;   /* NULL: TB_INSTALL_PCR_PUBLIC_KEY */
        const char *tpm2_device;      /* NULL: auto */
        const char *efivarfs;         /* NULL: the default; "": the default for the Secure Boot state,
                                       * and LoaderEntryOneShot not set */
        bool insecure;                /* install with Secure Boot off (as trustboot.insecure on the kernel
                                       * command line): the medium's images are then not checked */
        bool no_encrypt;              /* encrypt nothing, no TPM needed (tests) */
        bool no_lifecycle;            /* ignore install.reboot/poweroff */
        bool dry_run;                 /* every check, the layout printed, nothing written */
        FILE *out;                    /* the layout lines ("PARTNO NAME LABEL FS SIZE") */
} tb_installer_options;

/* The whole run. Refuses (logged, before anything is written) when Secure Boot is not on unless
 * insecure, and whatever tb_install_check refuses. After a failed install, says the disk can be
 * installed again. 0 (also when a power off or reboot was asked and the kernel returned), or a
 * negative errno, logged. */
int tb_installer_run(const tb_installer_options *o);

/* The configuration in effect: the N CONFIGS files, else those tb_cloudconfig_discover finds,
 * merged over the defaults into *RET; *RET_FILES (strv) lists them. Logs what fails. */
int tb_installer_config(const char *const *configs, size_t n, char ***ret_files, size_t *ret_n,
                        tb_cloudconfig **ret);

/* The target disk WANT names: a copy, or for "auto" the largest blank fixed disk that is not the
 * boot medium (tb_disk_pick_auto, FORCE: install.force), said in an info line. Logs. */
int tb_installer_device(const char *want, bool force, char **ret);

/* One line per partition of L: "PARTNO NAME LABEL FS|- SIZEMiB", or " (rest)" for the last. */
void tb_installer_print_layout(const tb_disk_layout *l, FILE *out);
