/* inspect.h — what is inside a PE image, UKI or signed binary (`trustboot inspect`): the headers,
 * the sections, the systemd-stub version (.sdmagic), the Authenticode SHA-256 image hash, the
 * embedded signatures, the SBAT entries and, for a UKI, the sections its stub measures into
 * PCR 11. One JSON object holds the report; the text is a view of that object, so both always
 * say the same. It reads PE (pe/) and the stub's measuring rules (measure/), hence medium/. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "pe/pe.h"

typedef struct tb_inspect_options {
        const char *path; /* the image */
        bool json;        /* print the JSON object instead of the text */
} tb_inspect_options;

/* The report of PE, which is named PATH in it ("file"). Logs what fails. */
int tb_inspect_build(const tb_pe *pe, const char *path, json_object **ret);

/* The text view of a report made by tb_inspect_build(). */
void tb_inspect_print_text(json_object *report, FILE *out);

/* The JSON view: json-c's pretty layout, '/' not escaped, then a newline. */
int tb_inspect_print_json(json_object *report, FILE *out);

/* Opens O->path, builds its report and prints it to OUT as O asks. Logs what fails. */
int tb_inspect(const tb_inspect_options *o, FILE *out);
