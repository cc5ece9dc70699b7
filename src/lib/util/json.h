/* json.h — json-c values written in systemd's layout, so our output matches its tools byte for byte. */
#pragma once

#include <json-c/json.h>

#include "util/buf.h"

enum tb_json_style {
        TB_JSON_SHORT,  /* no whitespace at all */
        TB_JSON_PRETTY, /* one member per line, tab indentation, "key" : value */
};

/* Appends the text of O (no trailing newline) to OUT. -EILSEQ if a string is not valid UTF-8:
 * systemd refuses those too. */
int tb_json_format(struct json_object *o, enum tb_json_style style, tb_buf *out);

TB_DEFINE_CLEANUP(struct json_object *, json_object_put)
