/* buf.h — a growable byte buffer; the unit of in-memory data passed between library files. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

typedef struct tb_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
} tb_buf;

#define TB_BUF_INIT { NULL, 0, 0 }

int tb_buf_reserve(tb_buf *b, size_t extra);
int tb_buf_append(tb_buf *b, const void *data, size_t len);
int tb_buf_append_str(tb_buf *b, const char *s); /* without its NUL */
int tb_buf_append_zero(tb_buf *b, size_t len);
int tb_buf_append_u16le(tb_buf *b, uint16_t v);
int tb_buf_append_u32le(tb_buf *b, uint32_t v);

/* Frees the storage; tb_buf_wipe() also overwrites it first (for key material). */
void tb_buf_free(tb_buf *b);
void tb_buf_wipe(tb_buf *b);

static inline void tb_buf_freep(tb_buf *b) {
        tb_buf_free(b);
}
static inline void tb_buf_wipep(tb_buf *b) {
        tb_buf_wipe(b);
}

/* A malloc'ed NUL-terminated secret (a PIN): overwritten up to its NUL, then freed. */
void tb_secret_free(char *s);
static inline void tb_secret_freep(char **s) {
        tb_secret_free(*s);
}

static inline void tb_put_u16le(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
}
static inline void tb_put_u32le(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tb_put_u64le(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t tb_get_u16le(const uint8_t *p) {
        return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tb_get_u32le(const uint8_t *p) {
        return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tb_get_u64le(const uint8_t *p) {
        return (uint64_t)tb_get_u32le(p) | ((uint64_t)tb_get_u32le(p + 4) << 32);
}
