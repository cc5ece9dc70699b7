/* bootentry-show.h — what `trustboot bootentry` does in each of its modes, output included: the
 * ESP's entries as a table or as JSON (counter state, which one booted, which one boots next),
 * the one-shot choice of the next boot (--select), blessing this boot's entry (--mark-good/-bad).
 * The entries and their counters are bootentry.h; this file only drives and prints them. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "node/bootentry.h"

/* Writes L to OUT: with JSON an array of objects (id, name, title, efi, sort-key, version,
 * profile, state, tries-left, tries-done, selected, oneshot; systemd's pretty layout, no final
 * newline), else one line per entry ("FILE STATE COUNTER TITLE [profile N] [booted] [next]").
 * SELECTED and ONESHOT are LoaderEntrySelected and LoaderEntryOneShot (NULL: unset). Logs. */
int tb_bootentry_show_format(const tb_bootentry_list *l, const char *selected, const char *oneshot, bool json,
                             FILE *out);

/* --list: ESP's entries with EFIVARS' (NULL: the default) LoaderEntrySelected and
 * LoaderEntryOneShot, formatted to OUT. Absent variables are not errors. Logs what fails. */
int tb_bootentry_show_list(const char *esp, const char *efivars, bool json, FILE *out);

/* --select NAME (tb_bootentry_list_find): sets the one-shot to the entry and writes the id it
 * wrote to OUT, one line. Logs what fails, an unknown NAME too (-ENOENT). */
int tb_bootentry_show_select(const char *esp, const char *efivars, const char *name, FILE *out);

/* --mark-good / --mark-bad: tb_bootentry_mark(), then "FROM -> TO" on OUT, or an info line when
 * this boot was not counted. Logs what fails. */
int tb_bootentry_show_mark(const char *esp, const char *efivars, bool good, FILE *out);
