/* bootentry.h — the Type #1 entries of an installed ESP (loader/entries/NAME.conf) with their boot
 * counters (research/formats.md §8.3–§8.4), and the roles Kairos gives them
 * (research/kairos.md §4.4, §4.7). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "macro.h"

#define TB_BOOTENTRY_DIR "loader/entries"
#define TB_BOOTENTRY_COUNTER_NONE (-1)

/* "active+2-1.conf" → base "active", left 2, done 1. Without a valid counter (the last '+'
 * followed by digits [-digits] right before ".conf") left and done are TB_BOOTENTRY_COUNTER_NONE
 * and base is the name without ".conf". -EINVAL unless FILE ends in ".conf". */
int tb_bootentry_parse_name(const char *file, char **ret_base, int *ret_left, int *ret_done);

typedef enum tb_bootentry_state {
        TB_BOOTENTRY_GOOD,          /* no counter: blessed, or never counted */
        TB_BOOTENTRY_INDETERMINATE, /* tries left */
        TB_BOOTENTRY_BAD,           /* +0-N: sorted last by systemd-boot */
} tb_bootentry_state;

const char *tb_bootentry_state_to_string(tb_bootentry_state s);

typedef struct tb_bootentry {
        char *file;     /* "active+3.conf" (the entry id, as LoaderEntryOneShot wants it) */
        char *base;     /* "active" */
        int left, done;
        tb_bootentry_state state;
        char *title, *efi, *sort_key, *version; /* NULL when the key is absent */
} tb_bootentry;

typedef struct tb_bootentries {
        tb_bootentry *e;
        size_t n;
} tb_bootentries;

/* Reads ESP/loader/entries, sorted by file name. Logs what fails. */
int tb_bootentries_load(const char *esp, tb_bootentries *ret);
void tb_bootentries_done(tb_bootentries *l);
static inline void tb_bootentries_donep(tb_bootentries *l) {
        tb_bootentries_done(l);
}

/* The entry for NAME: an entry id ("active+2-1.conf"), a base name ("active"), or Kairos'
 * aliases: "cos" → active, "fallback" → passive. NULL if none. */
const tb_bootentry *tb_bootentries_find(const tb_bootentries *l, const char *name);

/* The title systemd-boot shows for ROLE given the medium's title (Kairos BootTitleForRole):
 * active TITLE, passive "TITLE (fallback)", recovery "TITLE recovery", statereset
 * "TITLE state reset (auto)", anything else TITLE. Malloc'ed. */
char *tb_bootentry_role_title(const char *role, const char *title);
/* "0001" active, "0002" passive, "0003" recovery, "0004" statereset, else "0010". */
const char *tb_bootentry_role_sort_key(const char *role);

/* A source entry CONF (norole.conf) rewritten for ROLE: title and sort-key as above, efi
 * EFI_PATH; other keys kept in order. */
int tb_bootentry_conf_for_role(const char *conf, size_t len, const char *role, const char *efi_path, tb_buf *out);
