/* upgrade-steps.h — the ordered write steps of an upgrade and the ESP space they need at their
 * peak, decided from names and sizes alone (no I/O: upgrade.c gathers the inputs and carries
 * the steps out).
 *
 * Crash safety without renames: FAT renames are not crash-atomic (both names, or neither, may
 * survive, sharing clusters), so nothing is renamed and nothing is replaced. A new UKI is
 * written under a fresh, content-derived name that no entry references yet; an entry is
 * written under its final name only after its UKI is complete and synced, and only where no
 * entry of that name exists; an old entry is removed before its name is used again; a UKI is
 * removed only once no entry names it. At every instant some complete entry boots the old or
 * the new version:
 *
 *   per suffix s (the main entry "" last):
 *     1. remove the passive<s> entries, then their UKIs nothing else names   (credit)
 *     2. write passive<s>+3.conf naming the UKI of the installed active<s>; the same for each
 *        installed profile entry active<s>-profileN (a --cmd-lines-v2 UKI's profile N: no UKI
 *        of its own) → passive<s>-profileN naming that same old UKI
 *     3. write the new UKI under its fresh name                               (the peak)
 *     4. for each of the medium's profile entries of it: remove active<s>-profileN, write
 *        active<s>-profileN+3.conf naming the new UKI
 *     5. remove the active<s> entries  (passive<s> boots the old version meanwhile)
 *     6. write active<s>+3.conf naming the new UKI: counted, and the last entry written, so that
 *        a rerun after a power loss finds the suffix done only when all of it is
 *   first the passive entries nothing rotates into and the UKIs no entry names (credit),
 *   last the active entries the medium no longer has and the UKIs that leaves unnamed.
 *
 * The passive UKI is the old active file itself: no copy. The peak is the largest new UKI
 * minus what was freed before it, so an ESP that holds the installed roles has room for the
 * upgrade as long as a new UKI is not larger than the old passive one plus the free space. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/upgrade-plan.h"

/* An installed entry (loader/entries/FILE) and the UKI it names. */
typedef struct tb_upgrade_installed_entry {
        const char *file; /* "active+2-1.conf" */
        const char *base; /* "active" */
        const char *efi;  /* its efi key ("/EFI/trustboot/active.efi"), NULL if none */
} tb_upgrade_installed_entry;

/* A UKI on the ESP under EFI/trustboot, as an efi key names it ("/EFI/trustboot/x.efi"). */
typedef struct tb_upgrade_installed_uki {
        const char *efi;
        uint64_t bytes; /* allocated on the ESP */
} tb_upgrade_installed_uki;

/* A UKI the upgrade installs for an entry suffix. */
typedef struct tb_upgrade_new_uki {
        const char *suffix;
        const char *efi;  /* its fresh name as the entry's efi key */
        uint64_t bytes;   /* its size */
        bool present;     /* already on the ESP with these bytes (an earlier run): not written */
} tb_upgrade_new_uki;

typedef struct tb_upgrade_steps_input {
        const tb_upgrade_plan *plan;             /* NULL: replace the one entry NAME, no rotation */
        const char *name;                        /* with plan NULL: the entry ("recovery") */
        char *const *profiles;                   /* with plan NULL: the medium's profile entries of its
                                                  * UKI ("-profile1"): NAME-profileN written with it,
                                                  * other installed NAME-profileN removed (may be NULL) */
        const tb_upgrade_installed_entry *entries;
        size_t n_entries;
        const tb_upgrade_installed_uki *ukis;
        size_t n_ukis;
        const tb_upgrade_new_uki *news;          /* with plan NULL: one, suffix "" */
        size_t n_news;
        uint64_t entry_bytes;                    /* what one entry file takes at most */
        uint64_t cluster;                        /* the ESP's allocation unit (0: 1) */
} tb_upgrade_steps_input;

typedef enum tb_upgrade_step_kind {
        TB_UPGRADE_REMOVE_ENTRY, /* unlink loader/entries/<file> */
        TB_UPGRADE_REMOVE_UKI,   /* unlink the UKI <efi> */
        TB_UPGRADE_WRITE_UKI,    /* write the new UKI of <suffix> as <efi> */
        TB_UPGRADE_WRITE_ENTRY,  /* write loader/entries/<file> for entry <name> naming <efi>; its
                                  * text is the installed entry <from>'s, or (from NULL) the
                                  * medium's entry for <suffix> */
} tb_upgrade_step_kind;

typedef struct tb_upgrade_step {
        tb_upgrade_step_kind kind;
        char *file;         /* REMOVE_ENTRY, WRITE_ENTRY: "passive+3.conf" */
        char *name;         /* WRITE_ENTRY: "passive" */
        char *efi;          /* REMOVE_UKI, WRITE_UKI, WRITE_ENTRY */
        char *from;         /* WRITE_ENTRY: installed entry file, or NULL */
        char *suffix;       /* WRITE_UKI, WRITE_ENTRY */
        int64_t delta;      /* bytes this step takes (+) or frees (-) on the ESP */
} tb_upgrade_step;

typedef struct tb_upgrade_steps {
        tb_upgrade_step *s;
        size_t n;
        uint64_t peak;      /* the most the ESP holds beyond today's use, at any step */
        uint64_t written;   /* bytes written in all */
        uint64_t credited;  /* bytes freed before the peak */
} tb_upgrade_steps;

/* -ENOENT if an active<s> to rotate has no entry (the plan rotates only installed ones). */
int tb_upgrade_steps_make(const tb_upgrade_steps_input *in, tb_upgrade_steps *ret);
void tb_upgrade_steps_done(tb_upgrade_steps *s);

/* Entry efi keys compare as FAT does: case-insensitive, '/' and '\' alike. */
bool tb_upgrade_efi_equal(const char *a, const char *b);
