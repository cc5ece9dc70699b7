/* bootentry.h — the Type #1 entries of an installed ESP (loader/entries/NAME.conf) with their boot
 * counters (shared/research/formats.md §8.3–§8.4): what `bootentry --list` shows, and blessing. The
 * format is boot/loader-entry.h; the role layout (titles, sort keys) is bootentries.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

typedef enum tb_bootentry_state {
        TB_BOOTENTRY_GOOD,          /* no counter: blessed, or never counted */
        TB_BOOTENTRY_INDETERMINATE, /* tries left */
        TB_BOOTENTRY_BAD,           /* +0-N: sorted last by systemd-boot */
} tb_bootentry_state;

const char *tb_bootentry_state_to_string(tb_bootentry_state s);

typedef struct tb_bootentry {
        char *file;     /* "active+3.conf": the file name (systemd-boot's id for it may lack the
                         * counter: tb_bootentry_loader_id) */
        char *base;     /* "active" */
        int left, done;
        tb_bootentry_state state;
        char *title, *efi, *sort_key, *version; /* NULL when the key is absent */
        int profile;    /* the multi-profile UKI's profile it boots (tb_loader_entry_profile), or -1 */
} tb_bootentry;

typedef struct tb_bootentry_list {
        tb_bootentry *e;
        size_t n;
} tb_bootentry_list;

/* Reads ESP/loader/entries, sorted by file name. Logs what fails. */
int tb_bootentry_list_load(const char *esp, tb_bootentry_list *ret);
void tb_bootentry_list_done(tb_bootentry_list *l);
static inline void tb_bootentry_list_donep(tb_bootentry_list *l) {
        tb_bootentry_list_done(l);
}

/* The entry for NAME: an entry file ("active+2-1.conf"), a base name ("active",
 * "active-profile1"), ROLE@N (profile N of ROLE's entries: the one whose base is ROLE or begins
 * with "ROLE-" and that boots profile N; @0 is the entry naming no profile), or Kairos' aliases:
 * "cos" → active, "fallback" → passive (also before "@N"). NULL if none. */
const tb_bootentry *tb_bootentry_list_find(const tb_bootentry_list *l, const char *name);

/* Whether E is the entry LoaderEntrySelected (SELECTED; NULL: none) names. systemd-boot names it
 * as it found it, before it counted the try ("active+3.conf", now "active+2-1.conf", or
 * "active.conf" once blessed): the same file, or the same base name. */
bool tb_bootentry_is_selected(const tb_bootentry *e, const char *selected);

/* The first entry of L that SELECTED names (tb_bootentry_is_selected), or NULL. */
const tb_bootentry *tb_bootentry_list_find_selected(const tb_bootentry_list *l, const char *selected);

/* Whether E is the entry LoaderEntryOneShot (ONESHOT; NULL: none) names, by systemd-boot's id:
 * its file name, or (257.13+) the name without the counter (see below). */
bool tb_bootentry_is_oneshot(const tb_bootentry *e, const char *oneshot);

/* ---- the id systemd-boot gives an entry (what LoaderEntryOneShot must name) ----
 *
 * systemd-boot matches LoaderEntryOneShot (lowercased, as a glob) against its entry ids. The id of
 * a Type #1 entry is its file name, lowercased, but for a counted entry ("active+3.conf") it
 * depends on the loader: up to 257.7 the id keeps the counter ("active+3.conf"; systemd issue
 * 38813), in 257.13 (read in its source, boot_entry_parse_tries) and upstream since PR 38897 it
 * is the name without it ("active.conf"), as bootctl's ids have always been. Writing the other
 * form makes systemd-boot ignore the one-shot and boot its default.
 *
 * tb_bootentry_loader_id() decides, for the entry file FILE (ESP_FILES: the entry files on the
 * ESP now; PUBLISHED: the running loader's LoaderEntries, the ids of the files as they were at
 * its start; either NULL or empty: unknown):
 *   1. no counter: FILE (both rules agree);
 *   2. PUBLISHED holds FILE or any counted id: that loader keeps counters in ids: FILE;
 *   3. PUBLISHED holds the counter-less form of another counted file G on the ESP (one that is
 *      not also on the ESP without counter): that loader drops counters: the counter-less form.
 *      (The counter-less form of FILE itself proves nothing: after an upgrade a 252 loader has
 *      published the old, blessed "active.conf" that the new "active+3.conf" replaced.)
 *   4. LOADER_INFO ("systemd-boot 257.13-1~deb13u1"; NULL: not booted by systemd-boot) names a
 *      version: >= 257.13 the counter-less form, older FILE;
 *   5. PUBLISHED holds the counter-less form of FILE: that form;
 *   6. else FILE, the Boot Loader Specification's file name.
 * Where PUBLISHED names the chosen form, its spelling is returned. *RET is malloc'ed. -EINVAL if
 * FILE is not an entry file name (NAME.conf), -ENOMEM. */
int tb_bootentry_loader_id(const char *file, char *const *esp_files, char *const *published, const char *loader_info,
                           char **ret);
/* tb_bootentry_loader_id() with ESP_FILES read from ESP's loader/entries and PUBLISHED and
 * LOADER_INFO from EFIVARS (NULL: the default); absent or unreadable variables count as unknown.
 * Logs what fails. */
int tb_bootentry_oneshot_id(const char *efivars, const char *esp, const char *file, char **ret);
/* Writes LoaderEntryOneShot = tb_bootentry_oneshot_id(FILE) in EFIVARS; *RET_ID (may be NULL)
 * the id written. Logs what fails. */
int tb_bootentry_select_next(const char *efivars, const char *esp, const char *file, char **ret_id);

/* What systemd-bless-boot does, for systems without it: systemd-boot counted this boot's try by
 * renaming the entry and told where in LoaderBootCountPath ("\loader\entries\active+2-1.conf").
 * Marked good the entry loses its counter ("active.conf": blessed, no more counting); marked bad
 * it becomes "+0-DONE" ("active+0-1.conf": sorted last, the fallback boots next).
 * tb_bootentry_marked_name() works on the variable's value alone: *RET_FROM and *RET_TO are the
 * file names in loader/entries; 0 with both NULL when the name has no counter (nothing to do);
 * -EINVAL when the path is not a file directly in \loader\entries\ or not a .conf. */
int tb_bootentry_marked_name(const char *count_path, bool good, char **ret_from, char **ret_to);

/* Reads LoaderBootCountPath from EFIVARS (NULL: the default), renames the entry under ESP and
 * syncs the directory. 0 with *RET_FROM and *RET_TO NULL when this boot was not counted (no
 * variable, or an entry without a counter); already-renamed entries (a second call) are fine. */
int tb_bootentry_mark(const char *esp, const char *efivars, bool good, char **ret_from, char **ret_to);
