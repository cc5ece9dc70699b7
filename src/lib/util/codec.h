/* codec.h — hex and base64 text encodings of byte strings (JSON fields, token blobs). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Lowercase hex of DATA, NUL-terminated; OUT must hold 2*LEN+1 bytes. */
void tb_hex_encode(const uint8_t *data, size_t len, char *out);
/* Strict: exactly 2*LEN hex digits (either case) → LEN bytes. -EINVAL otherwise. */
int tb_hex_decode(const char *s, uint8_t *out, size_t len);

/* Standard base64 with '=' padding and no line breaks, appended to OUT and NUL-terminated
 * (the NUL is not counted in OUT->len). */
int tb_base64_encode(const uint8_t *data, size_t len, tb_buf *out);
/* Decodes standard padded base64 (no whitespace) into OUT (appending). -EINVAL if malformed. */
int tb_base64_decode(const char *s, size_t len, tb_buf *out);

/* The same encodings as a NUL-terminated string to free(); NULL on allocation failure. */
char *tb_hex_string(const void *data, size_t len);
char *tb_base64_string(const void *data, size_t len);
