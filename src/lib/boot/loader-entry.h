/* loader-entry.h — the Boot Loader Specification's Type #1 entry (loader/entries/NAME.conf):
 * "key value" lines, and the boot counter systemd-boot keeps in the file name
 * (NAME+LEFT[-DONE].conf; shared/research/formats.md §8.3–§8.4). The one parser and writer of the
 * format, for the medium (writing) and the node (listing, rewriting, blessing). Pure: no files,
 * no logging; -ENOMEM and -EINVAL go to the caller, which knows the path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/macro.h"

#define TB_LOADER_ENTRIES_DIR "loader/entries"
#define TB_LOADER_ENTRY_COUNTER_NONE (-1)

typedef struct tb_loader_entry_line {
        char *key;
        char *value; /* trimmed; may be empty */
} tb_loader_entry_line;

/* The entry's lines in file order, comments and blank lines dropped. */
typedef struct tb_loader_entry {
        tb_loader_entry_line *line;
        size_t n;
} tb_loader_entry;

#define TB_LOADER_ENTRY_INIT ((tb_loader_entry){ NULL, 0 })

/* Parses TEXT (LEN bytes): one "key value" per line, key and value separated by spaces or tabs,
 * '#' comments. */
int tb_loader_entry_parse(const char *text, size_t len, tb_loader_entry *ret);
/* The value of the first KEY line, as systemd-boot reads single-valued keys; NULL if absent.
 * "efi" also answers for "uki" (systemd-boot 259's name for it). */
const char *tb_loader_entry_get(const tb_loader_entry *e, const char *key);
/* The profile of a multi-profile UKI (systemd 257+) the entry boots: its "profile" key (systemd-boot
 * 258+), else the "@N" its options begin with (what systemd-stub 257+ takes as the profile, with
 * any systemd-boot); -1 when it names none (profile 0, the UKI's default). */
int tb_loader_entry_profile(const tb_loader_entry *e);
/* Sets the first KEY line to VALUE, or appends KEY VALUE. -EINVAL if VALUE spans lines. */
int tb_loader_entry_set(tb_loader_entry *e, const char *key, const char *value);
/* Appends the line KEY VALUE (keys like "options" may repeat). -EINVAL if VALUE spans lines. */
int tb_loader_entry_add(tb_loader_entry *e, const char *key, const char *value);
/* Appends "key value\n" for every line to OUT. -EINVAL if a value spans lines. */
int tb_loader_entry_format(const tb_loader_entry *e, tb_buf *out);
void tb_loader_entry_done(tb_loader_entry *e);
static inline void tb_loader_entry_donep(tb_loader_entry *e) {
        tb_loader_entry_done(e);
}

/* "active+2-1.conf" → base "active", left 2, done 1. Without a valid counter (the last '+'
 * followed by digits [-digits] right before ".conf") left and done are
 * TB_LOADER_ENTRY_COUNTER_NONE and base is the name without ".conf". -EINVAL unless FILE ends
 * in ".conf". RET_BASE, RET_LEFT, RET_DONE may be NULL. */
int tb_loader_entry_parse_name(const char *file, char **ret_base, int *ret_left, int *ret_done);
