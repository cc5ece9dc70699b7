/* upgrade.h — replacing the UKIs of an installed node (the layout of bootentries.h) from a new
 * medium, A/B style, without ever leaving it unbootable (shared/research/kairos.md §4.8, done better:
 * everything is checked before the ESP is touched).
 *
 * The default upgrade moves the whole active family, as Kairos does: every installed
 * active<suffix> entry becomes passive<suffix>, every norole<suffix> entry of the medium
 * becomes active<suffix> (upgrade-plan.h). --recovery / --boot-entry NAME replace the one entry
 * NAME from norole.efi and nothing else moves.
 *
 * Before any change: each new EFI binary is allowed by the firmware's db and not revoked by
 * dbx; each new UKI's .pcrpkey is the key the installed node's disks are bound to, its .pcrsig
 * is signed by that key and holds the policy of its own PCR 11 (upgrade-pcrkey.h); the ESP has
 * room for the upgrade at its peak. Then the steps of upgrade-steps.h: nothing is renamed or
 * replaced, a new UKI gets a fresh name only its new, counted entry names, and one complete
 * entry of the old or the new version is bootable at every instant. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rootfs/registry.h"

#define TB_UPGRADE_ENTRY_NAME_MAX 128

/* An entry name --boot-entry accepts: 1 to TB_UPGRADE_ENTRY_NAME_MAX characters, no '/' (a
 * path), no '+' (the boot counter), no leading '.' (hidden, and our temporary names). */
bool tb_upgrade_entry_name_valid(const char *name);

typedef struct tb_upgrade_options {
        const char *source;     /* dir:ESP_TREE, ocifile:TAR[:TAG], oci-layout:DIR[:TAG], an ISO file, or a
                                 * registry image (oci:REF, docker://REF, REF) */
        const char *esp;        /* the mounted ESP */
        const char *efivar_dir; /* NULL: /sys/firmware/efi/efivars */
        const char *entry;      /* NULL: active, with rotation; else the one entry to replace
                                 * ("recovery", "statereset", "my_entry"), nothing else moves */
        const char *workdir;    /* staging area; NULL: $TMPDIR, else /var/tmp */
        const tb_registry_options *registry; /* for a registry SOURCE; NULL: defaults */
        uint64_t max_image_size;        /* an image SOURCE's unpacked bytes; 0: the default limit */
        /* The encrypted volumes whose PCR key the new UKI must carry (besides the installed
         * active UKI's .pcrpkey): these devices, and with luks_scan every LUKS2 volume with a
         * systemd-tpm2 token on this machine. */
        const char *const *luks_devices;
        size_t n_luks_devices;
        bool luks_scan;
} tb_upgrade_options;

typedef struct tb_upgrade_result {
        char *entry_file;       /* the new (main) entry's id ("active+3.conf") */
        bool oneshot;           /* LoaderEntryOneShot now names it */
        bool sdboot_updated;    /* systemd-boot and loader.conf replaced */
} tb_upgrade_result;

void tb_upgrade_result_done(tb_upgrade_result *r);

/* Logs one line naming what was refused or failed. -EPERM/-EKEYREVOKED: the firmware would not
 * run a new binary; -EKEYREJECTED: another PCR key (the disks would not unlock); -ENOSPC;
 * -ENOENT: no such entry installed or missing in the source (also a norole UKI without its
 * entry or the reverse); -EINVAL: an invalid entry name; -E2BIG: more than
 * TB_UPGRADE_MAX_ENTRIES in a family. */
int tb_upgrade_run(const tb_upgrade_options *o, tb_upgrade_result *ret);

/* What `trustboot upgrade` prints of a result: the new entry's line on OUT ("active+3.conf (next
 * boot)" when LoaderEntryOneShot names it), and an info line when systemd-boot was updated. */
void tb_upgrade_print_result(const tb_upgrade_result *r, FILE *out);

/* `trustboot upgrade`: tb_upgrade_run, its result printed (tb_upgrade_print_result), then with
 * REBOOT a reboot: through the service manager under systemd, which stops everything in order;
 * without it (a minimal init, an initrd shell) the file systems are synced and the kernel
 * reboots. 0, or a negative errno, logged. */
int tb_upgrade_command(const tb_upgrade_options *o, bool reboot, FILE *out);

/* The test build's fault points (util/testhook.h): before every step ("remove-entry F",
 * "remove-uki E", "write-uki E", "write-entry F"), after a file's data and before its fsync
 * ("unsynced"), "replace-sdboot" and "set-oneshot"; TRUSTBOOT_TEST_ESP_FREE and
 * TRUSTBOOT_TEST_ESP_SIZE replace the ESP's free space and size. */
