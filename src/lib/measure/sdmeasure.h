/* sdmeasure.h — systemd-measure's two verbs over section files or a built UKI, printed byte for
 * byte as systemd-measure 252 prints them: `calculate` (PCR 11 per boot phase and bank, as text or
 * JSON) and `sign` (the signed PolicyPCR JSON a UKI carries as .pcrsig). What `trustboot measure`
 * runs once its options are parsed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "measure/mhash.h"
#include "measure/pcr.h"
#include "util/buf.h"

enum tb_sdmeasure_verb {
        TB_SDMEASURE_CALCULATE,
        TB_SDMEASURE_SIGN,
};

/* systemd-measure's --json. DEFAULT (none given) is text for calculate and AUTO for sign, which
 * always prints JSON; AUTO is pretty on a terminal, short otherwise. */
enum tb_sdmeasure_json {
        TB_SDMEASURE_JSON_DEFAULT,
        TB_SDMEASURE_JSON_OFF,
        TB_SDMEASURE_JSON_AUTO,
        TB_SDMEASURE_JSON_SHORT,
        TB_SDMEASURE_JSON_PRETTY,
};

typedef struct tb_sdmeasure_options {
        enum tb_sdmeasure_verb verb;
        /* Files holding the exact bytes of each section; they override the UKI's sections. A
         * section the stub generation does not measure is ignored with a warning. */
        const char *sections[_TB_UKI_SECTION_MAX];
        const char *uki;         /* a built UKI to take the sections from, or NULL */
        unsigned uki_profile;    /* the profile of UKI to predict (0: the default boot) */
        unsigned banks;          /* TB_BANK_BIT()s; 0: all four */
        char *const *phases;     /* as given (valid words; normalized and sorted here) */
        size_t n_phases;         /* 0: systemd-measure's default phase list */
        const char *private_key; /* sign: a PEM file or a pkcs11: URI */
        const char *public_key;  /* sign: PEM, for the fingerprint; NULL: from the private key */
        int stub_gen;            /* a forced stub generation; 0: the UKI's stub's, else the installed stub's */
        enum tb_sdmeasure_json json;
} tb_sdmeasure_options;

/* Runs O's verb and prints its output to OUT. calculate's text puts each phase's "# PCR[11] Phase
 * <…>" line on COMMENTS instead (systemd-measure's stderr), so that OUT stays parseable. Logs one
 * line naming the file or key and the problem. */
int tb_sdmeasure_run(const tb_sdmeasure_options *o, FILE *out, FILE *comments);

/* One phase of calculate's text: "# PCR[11] Phase <PHASE>\n" (PHASE "" shown as ":") appended to
 * COMMENT, and "11:<bank>=<hex>\n" for each bank of BANKS, in bank order, to VALUES. -ENOMEM only. */
int tb_sdmeasure_text(const char *phase, unsigned banks, const tb_digests *v, tb_buf *comment, tb_buf *values);

/* calculate's JSON: {"<bank>":[{"phase":…,"pcr":11,"hash":"<hex>"} for each of PHASES]} for P's
 * banks in bank order; no "phase" member for the phase "" (sections only). Pure: errors of
 * tb_pcr11_value() or -ENOMEM. */
int tb_sdmeasure_calculate_json(const tb_pcr11 *p, char *const *phases, struct json_object **ret);

/* Appends the JSON text VERB prints for O under MODE to OUT: pretty for PRETTY, or AUTO when TTY,
 * short otherwise, with a newline — except sign with --json=off, which systemd-measure 252 prints
 * short and without one. -EINVAL for calculate without JSON (DEFAULT, OFF: it prints text);
 * -ENOMEM, or -EILSEQ as tb_json_format(). */
int tb_sdmeasure_json_text(struct json_object *o, enum tb_sdmeasure_verb verb, enum tb_sdmeasure_json mode, bool tty,
                           tb_buf *out);
