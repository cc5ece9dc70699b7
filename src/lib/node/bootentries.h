/* bootentries.h — the installed ESP's boot entries as Kairos lays them out (shared/research/kairos.md
 * §4.4 steps 8–11, §4.7, §4.8): the medium's "norole*" UKIs and entries fanned out to the roles
 * active / passive / recovery / statereset, their titles and sort keys, boot counting ("+3"),
 * and the EFI variables systemd-boot reads and writes (LoaderEntryOneShot, LoaderEntrySelected,
 * LoaderDevicePartUUID).
 *
 * Every function works on a mounted (or plain directory) ESP root: ROOT/EFI/trustboot/ holds the
 * UKIs, ROOT/loader/entries/ the Type #1 entries. Install, upgrade and reset are sequences of
 * these calls:
 *   install: fan_out(norole → all roles); remove("norole"); finish()
 *   upgrade: remove("passive"); copy(active → passive); remove("active");
 *            copy(norole → active); remove("norole"); finish()
 *   reset:   copy(recovery → active) (after remove("active")); finish()
 * where finish() = sort keys + counters + LoaderEntryOneShot = the active entry. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "boot/loader-entry.h"
#include "util/buf.h"

#define TB_BOOT_EFI_DIR "EFI/trustboot"   /* UKIs: EFI/trustboot/<role><suffix>.efi */
#define TB_BOOT_ENTRIES_DIR TB_LOADER_ENTRIES_DIR
#define TB_BOOT_NOROLE "norole"           /* prefix of everything on the medium */
#define TB_BOOT_TRIES 3                   /* boot counting: <name>+3.conf */

/* systemd's loader vendor GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f */
#define TB_LOADER_GUID_STR "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

typedef enum tb_role {
        TB_ROLE_ACTIVE,
        TB_ROLE_PASSIVE,
        TB_ROLE_RECOVERY,
        TB_ROLE_STATERESET,
        _TB_ROLE_MAX,
        TB_ROLE_NONE = -1, /* norole, or an entry of its own (e.g. "my_entry") */
} tb_role;

/* "active", "passive", "recovery", "statereset"; NULL for TB_ROLE_NONE. */
const char *tb_role_to_string(tb_role role);
/* The role whose name the entry id begins with ("active+2-1.conf" → ACTIVE), else NONE. */
tb_role tb_role_from_entry(const char *entry_id);
/* Kairos sort keys: active 0001, passive 0002, recovery 0003, statereset 0004, other 0010.
 * Decided by the entry name containing the role name, as Kairos does. */
const char *tb_role_sort_key(const char *entry_name);
/* Title for ROLE from the medium's title: active = T, passive = "T (fallback)",
 * recovery = "T recovery", statereset = "T state reset (auto)". *RET is malloc'ed. */
int tb_role_title(tb_role role, const char *base_title, char **ret);

/* The medium's (or another role's) entry CONF rewritten as the installed entry NAME ("active",
 * "passive_x", "my_entry"): title as tb_role_title() gives it for NAME's role (from CONF's title
 * minus any role suffix), sort-key tb_role_sort_key(NAME), efi EFI_PATH, then only the keys an
 * installed entry may take from a medium (version, options, machine-id, architecture, cmdline):
 * never linux, initrd, devicetree or other keys that would boot something the signed UKI does
 * not hold. Logs nothing but out-of-memory; -EINVAL for a value that spans lines. */
int tb_bootentries_conf_for(const char *conf, size_t len, const char *name, const char *efi_path, tb_buf *out);

/* Copies every file under ROOT/EFI/trustboot and ROOT/loader/entries whose name starts with
 * FROM (a role name or "norole"; boot counters are dropped from copied entry names) to the same
 * name with FROM replaced by TO's name; copied entries are rewritten by tb_bootentries_conf_for()
 * with the efi/uki path renamed the same way. Existing targets are replaced. Files are written
 * atomically. */
int tb_bootentries_copy(const char *root, const char *from, tb_role to);
/* copy(TB_BOOT_NOROLE → each of active, passive, recovery, statereset). */
int tb_bootentries_fan_out(const char *root);
/* Removes every file under the two directories whose name starts with PREFIX. Returns the
 * number removed. */
int tb_bootentries_remove(const char *root, const char *prefix);
/* Rewrites the sort-key of every entry (tb_role_sort_key) and renames every entry without a
 * counter to <name>+TB_BOOT_TRIES.conf. */
int tb_bootentries_finish_entries(const char *root);
/* The names of the regular, non-hidden files in ROOT/EFI/trustboot (the installed UKIs), sorted,
 * as a NULL-terminated array (tb_strv_free). */
int tb_bootentries_list_ukis(const char *root, char ***ret);
/* The file name ("active+3.conf", "active.conf", "active+0-3.conf") of ROLE's main entry
 * (loader/entries/<role>[+N[-M]].conf). -ENOENT if absent. *RET malloc'ed. */
int tb_bootentries_find(const char *root, tb_role role, char **ret);

/* ---- the next boot ---- */

/* LoaderEntryOneShot = ROLE's entry as found on ROOT, by the id the running systemd-boot gives
 * it (tb_bootentry_select_next: its file name, or without the counter for 257.13+). */
int tb_bootentries_select_oneshot(const char *root, const char *efivarfs, tb_role role);
