#include "util/buf.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

int tb_buf_reserve(tb_buf *b, size_t extra) {
        size_t want, cap;
        uint8_t *p;

        if (extra > SIZE_MAX - b->len)
                return -ENOMEM;
        want = b->len + extra;
        if (want <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 256;
        while (cap < want)
                cap = cap > SIZE_MAX / 2 ? want : cap * 2;
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

/* Grows B by LEN bytes, filled from DATA, or with zeros when DATA is NULL. */
static int append(tb_buf *b, const void *data, size_t len) {
        int r;

        if (len == 0)
                return 0;
        r = tb_buf_reserve(b, len);
        if (r < 0)
                return r;
        if (data)
                memcpy(b->data + b->len, data, len);
        else
                memset(b->data + b->len, 0, len);
        b->len += len;
        return 0;
}

int tb_buf_append(tb_buf *b, const void *data, size_t len) {
        return append(b, data, len);
}

int tb_buf_append_str(tb_buf *b, const char *s) {
        return append(b, s, strlen(s));
}

int tb_buf_append_zero(tb_buf *b, size_t len) {
        return append(b, NULL, len);
}

int tb_buf_append_u16le(tb_buf *b, uint16_t v) {
        uint8_t p[2];

        tb_put_u16le(p, v);
        return tb_buf_append(b, p, sizeof(p));
}

int tb_buf_append_u32le(tb_buf *b, uint32_t v) {
        uint8_t p[4];

        tb_put_u32le(p, v);
        return tb_buf_append(b, p, sizeof(p));
}

void tb_buf_free(tb_buf *b) {
        free(b->data);
        *b = (tb_buf)TB_BUF_INIT;
}

void tb_buf_wipe(tb_buf *b) {
        if (b->data)
                OPENSSL_cleanse(b->data, b->cap);
        tb_buf_free(b);
}

void tb_secret_free(char *s) {
        if (s)
                OPENSSL_cleanse(s, strlen(s));
        free(s);
}
