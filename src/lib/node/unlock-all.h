/* unlock-all.h — `trustboot unlock-all`: open every TPM2-sealed LUKS2 volume of the node that is
 * not open yet, one report line per volume, and say why the TPM unseals nothing when that is
 * init's record (node/boot-state.h). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "tpm/luks.h"

typedef struct tb_unlock_all_options {
        tb_luks_unlock_params unlock; /* TPM device, signature file, PIN callback */
        bool test;                    /* only check that each key opens its keyslot (nothing activated) */
        FILE *out;                    /* where the report lines go */
} tb_unlock_all_options;

/* One volume: skips NAME when it is open already (not with O->test), else unlocks DEVICE as
 * NAME (or only checks its key), and writes one line to O->out: "NAME DEVICE: unlocked (keyslot
 * N)", "key verified (keyslot N)", "already open, skipped" or "FAILED". 0, or 1 when it failed. */
int tb_unlock_all_volume(const char *device, const char *name, const tb_unlock_all_options *o);

/* Every volume tb_luks_foreach_tpm2_volume finds, as tb_unlock_all_volume. Returns how many
 * failed (after logging boot-state's explanation, if there is one), or a negative errno when the
 * block devices cannot be listed (logged). */
int tb_unlock_all(const tb_unlock_all_options *o);
