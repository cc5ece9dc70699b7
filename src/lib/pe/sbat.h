/* sbat.h — SBAT metadata (shim's SBAT.md): the ".sbat" section of an EFI binary, CSV lines
 * "component,generation,vendor,package,version,url" after a first "sbat,1,…" line that names the
 * format. Shim and systemd-boot revoke binaries by component generation; a UKI carries its stub's
 * entries, its kernel's and its builder's, merged the way ukify does. Pure functions, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* The format line every merged .sbat starts with, and ukify's default entry for a UKI. */
#define TB_SBAT_HEADER "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md"
#define TB_SBAT_UKI_ENTRY "uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/"

/* The lines of DATA (LEN bytes, trailing NULs ignored), split at the ASCII line breaks Python's
 * str.splitlines() knows (\n, \r\n, \r, \v, \f, \x1c–\x1e; a final break ends the last line, it
 * does not start an empty one). *RET is a NULL-terminated strv, *RET_N its length (may be NULL).
 * -ENOMEM only. */
int tb_sbat_lines(const void *data, size_t len, char ***ret, size_t *ret_n);

/* Whether DATA is SBAT text: its first line starts with "sbat,". */
bool tb_sbat_is_valid(const void *data, size_t len);

typedef struct tb_sbat_part {
        const void *data;
        size_t len;
} tb_sbat_part;

/* ukify's merge: TB_SBAT_HEADER, then the lines after the first one of every part in order (the
 * stub's, the kernel's, the user's), joined by '\n', then "\n\0". A part that is not SBAT text
 * (tb_sbat_is_valid) is left out, as ukify does, and counted in *RET_SKIPPED (may be NULL).
 * Appends to OUT; -ENOMEM only. */
int tb_sbat_merge(const tb_sbat_part *parts, size_t n_parts, tb_buf *out, size_t *ret_skipped);
