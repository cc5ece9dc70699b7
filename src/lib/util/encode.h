/* encode.h — bytes as text: lowercase hex and base64 (standard alphabet, padded, one line). */
#pragma once

#include <stddef.h>

/* Both return a NUL-terminated string to free(), or NULL on allocation failure. */
char *tb_hex_encode(const void *data, size_t len);
char *tb_base64_encode(const void *data, size_t len);
