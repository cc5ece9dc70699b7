/* report.h — where the bytes of an initrd go: the size per directory of a root file system, raw
 * and an estimate compressed, and what --slim (and --exclude) would leave out. Nothing is
 * written; files are read only as far as the estimate's sample. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rootfs/exclude.h"
#include "rootfs/rootfs.h"

typedef struct tb_report_row {
        char *path;         /* directory, relative ("usr/lib"), "" for files at the top */
        uint64_t files;     /* regular files below it (a hardlinked file counts once) */
        uint64_t raw;       /* their bytes */
        uint64_t estimate;  /* compressed, estimated */
        uint64_t dropped;   /* raw bytes below it that the exclusion leaves out */
} tb_report_row;

typedef struct tb_report {
        tb_report_row *rows; /* sorted by raw size, largest first */
        size_t n;
        uint64_t files, raw, estimate;       /* the whole tree (what the initrd would hold without exclusion) */
        uint64_t dropped, dropped_estimate;  /* what EXCLUDE leaves out */
        struct {
                const char *name; /* --slim group, or "--exclude" */
                uint64_t raw;
        } groups[8];
        size_t n_groups;
} tb_report;

/* Sums the regular files of FS per directory down to DEPTH components (1: /usr, 2: /usr/lib, ...);
 * EXCLUDE (may be NULL) is evaluated on every entry but left-out directories are still walked,
 * so that the report says what they hold. LEVEL: the zstd level the estimate is made for. */
int tb_report_build(tb_rootfs *fs, const tb_exclude *exclude, unsigned depth, int level, tb_report *ret);
void tb_report_done(tb_report *r);
static inline void tb_report_donep(tb_report *r) {
        tb_report_done(r);
}

/* The report as `trustboot initrd --report` prints it: one line per row (sizes in MiB, one
 * decimal), the total, then what the exclusion leaves out per group (EXCLUDING: an exclusion
 * was given; without one, a hint that --slim/--exclude would show it). */
void tb_report_print_text(const tb_report *rep, bool excluding, FILE *out);

/* The report as one JSON object in systemd's pretty layout (util/json), without a trailing
 * newline: totals, "excluded" (raw, estimate, and raw per group) and "directories". Logs what
 * fails. */
int tb_report_print_json(const tb_report *rep, FILE *out);
