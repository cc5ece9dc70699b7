/* status.h — a node's trust state at a glance (`trustboot status`): Secure Boot and setup mode,
 * the enrolled PK/KEK/db/dbx, whether the running UKI passes db/dbx, PCR 11 now against the
 * running UKI's signed policies, the TPM2-bound LUKS2 volumes against its PCR key, and the boot
 * entries with their counters — sbctl's and bootctl's views in one. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct tb_status_options {
        const char *efivars;  /* NULL: /sys/firmware/efi/efivars */
        const char *esp;      /* the mounted ESP (default /efi) */
        const char *pcr_dir;  /* NULL: /sys/class/tpm/tpm0/pcr-sha256 */
        bool volumes;         /* look at the LUKS2 volumes (block devices) */
} tb_status_options;

/* The report as JSON ("consistent" and "problems" included); *RET_CONSISTENT is true only when
 * Secure Boot is on and enforced, the running UKI is allowed by db and not revoked, PCR 11 meets
 * one of its signed policies, and every TPM2 volume is bound to its PCR key. Never fails on what
 * it cannot see: that is reported as a problem. -ENOMEM only. */
int tb_status_collect(const tb_status_options *o, struct json_object **ret, bool *ret_consistent);

/* The report as `trustboot status` prints it without --json: one labelled line per item, the
 * certificates, volumes and entries indented or one per line, then "Consistent:" and the problems. */
void tb_status_print_text(struct json_object *report, FILE *out);

/* How many problems REPORT lists. */
size_t tb_status_n_problems(struct json_object *report);
