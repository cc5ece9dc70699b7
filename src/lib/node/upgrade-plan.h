/* upgrade-plan.h — which entries the default (active) upgrade writes and removes, decided from
 * file names alone: every "norole<suffix>" entry of the medium becomes "active<suffix>", every
 * installed "active<suffix>" becomes "passive<suffix>" (shared/research/kairos.md §4.8 step 4), and
 * what the new medium no longer has goes. No I/O: upgrade.c lists the directories, checks the
 * UKIs and does the writing. */
#pragma once

#include <stdbool.h>

#define TB_UPGRADE_MAX_ENTRIES 32 /* per role family: more is a broken medium or ESP, not a plan */
#define TB_UPGRADE_SUFFIX_MAX 96  /* "_install-mode_<cmdline>", well below FAT's 255 */

/* Whether SUFFIX may follow a role name in an entry name: at most TB_UPGRADE_SUFFIX_MAX
 * letters, digits, '.', '_' or '-' (what Kairos' NameFromCmdline produces). No '/' (a path),
 * no '+' (the boot counter), and after a role name never a leading '.'. */
bool tb_upgrade_suffix_valid(const char *suffix);

typedef struct tb_upgrade_plan_input {
        const char *medium;           /* for messages: the --source */
        char *const *medium_efi;      /* file names in the medium's EFI/trustboot (NULL-terminated) */
        char *const *medium_conf;     /* file names in the medium's loader/entries */
        const char *esp;              /* for messages */
        char *const *installed_conf;  /* entry ids in the ESP's loader/entries ("active_x+2-1.conf") */
        char *const *installed_complete; /* those of them whose UKI (efi key) is on the ESP */
} tb_upgrade_plan_input;

/* Whether SUFFIX is BASE + "-profileN" (N: digits, the profile of a multi-profile UKI): the
 * name build-uki --cmd-lines-v2 gives the entry that boots profile N of norole<BASE>.efi. */
bool tb_upgrade_profile_of(const char *suffix, const char *base);

/* Suffix lists, sorted, "" (the main entry) first where present; NULL-terminated. */
typedef struct tb_upgrade_plan {
        char **install;      /* the medium's norole<s> (a UKI and an entry each) → active<s> */
        char **profiles;     /* the medium's norole<b>-profileN entries without a UKI of their own
                              * (they boot profile N of norole<b>.efi, b in install) → active<b>-profileN
                              * naming the new UKI of b, written with b's */
        char **rotate;       /* installed active<s> (entry and UKI) → passive<s> */
        char **drop_active;  /* installed active<s> the medium no longer has, removed at the end */
        char **drop_passive; /* installed passive<s> nothing rotates into, removed at the end */
} tb_upgrade_plan;

/* Names outside the role families are ignored. Refuses, logging the file it names: a medium
 * without norole.efi + norole.conf (-ENOENT, "not a trustboot medium"), a norole UKI without its
 * entry or the reverse (-ENOENT; but for a profile entry norole<b>-profileN.conf beside
 * norole<b>.efi), an ESP without an active entry and UKI (-ENOENT, "not an
 * installed node"), a name with an invalid suffix (-EINVAL), more than TB_UPGRADE_MAX_ENTRIES
 * in a family (-E2BIG). */
int tb_upgrade_plan_make(const tb_upgrade_plan_input *in, tb_upgrade_plan *ret);
void tb_upgrade_plan_done(tb_upgrade_plan *p);

/* Whether suffix S is in the NULL-terminated list L. */
bool tb_upgrade_plan_has(char *const *l, const char *s);
