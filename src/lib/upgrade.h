/* upgrade.h — replacing the UKIs of an installed node (the layout of bootentries.h) from a new
 * medium, A/B style, without ever leaving it unbootable (research/kairos.md §4.8, done better:
 * everything is checked before the ESP is touched).
 *
 * Before any change: each new EFI binary is allowed by the firmware's db and not revoked by
 * dbx; the new UKI's .pcrpkey is the key the installed node's disks are bound to and its
 * .pcrsig is signed by that key; the ESP has room for every temporary file. Then files are
 * written under hidden temporary names, fsynced, and renamed one at a time in an order that
 * keeps one complete entry bootable at every instant: passive ← active first, active ← new
 * last. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct tb_upgrade_options {
        const char *source;     /* dir:ESP_TREE, ocifile:TAR[:TAG], oci-layout:DIR[:TAG], or an ISO file */
        const char *esp;        /* the mounted ESP */
        const char *efivar_dir; /* NULL: /sys/firmware/efi/efivars */
        const char *entry;      /* NULL: active, with rotation; else the one entry to replace
                                 * ("recovery", "statereset", "my_entry"), nothing else moves */
        const char *workdir;    /* staging area; NULL: $TMPDIR, else /var/tmp */
        /* The encrypted volumes whose PCR key the new UKI must carry (besides the installed
         * active UKI's .pcrpkey): these devices, and with luks_scan every LUKS2 volume with a
         * systemd-tpm2 token on this machine. */
        const char *const *luks_devices;
        size_t n_luks_devices;
        bool luks_scan;
} tb_upgrade_options;

typedef struct tb_upgrade_result {
        char *entry_file;       /* the new entry's id ("active+3.conf") */
        bool oneshot;           /* LoaderEntryOneShot now names it */
        bool sdboot_updated;    /* systemd-boot and loader.conf replaced */
} tb_upgrade_result;

void tb_upgrade_result_done(tb_upgrade_result *r);

/* Logs one line naming what was refused or failed. -EPERM/-EKEYREVOKED: the firmware would not
 * run a new binary; -EKEYREJECTED: another PCR key (the disks would not unlock); -ENOSPC;
 * -ENOENT: no such entry installed or missing in the source. */
int tb_upgrade_run(const tb_upgrade_options *o, tb_upgrade_result *ret);

/* Test hook: TRUSTBOOT_TEST_FAULT=before-last-rename kills the process (SIGKILL) right before
 * the rename that puts the new UKI in place; TRUSTBOOT_TEST_ESP_FREE=BYTES replaces statvfs(). */
