#include "util/codec.h"

#include <stdlib.h>

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

void tb_hex_encode(const uint8_t *data, size_t len, char *out) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[data[i] >> 4];
                out[2 * i + 1] = digits[data[i] & 15];
        }
        out[2 * len] = '\0';
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int tb_hex_decode(const char *s, uint8_t *out, size_t len) {
        if (strlen(s) != 2 * len)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

int tb_base64_encode(const uint8_t *data, size_t len, tb_buf *out) {
        size_t n = 4 * ((len + 2) / 3);
        int r;

        if (len > (size_t)INT32_MAX)
                return -EFBIG;
        r = tb_buf_reserve(out, n + 1);
        if (r < 0)
                return r;
        EVP_EncodeBlock(out->data + out->len, data, (int)len);
        out->len += n;
        out->data[out->len] = 0;
        return 0;
}

int tb_base64_decode(const char *s, size_t len, tb_buf *out) {
        size_t pad = 0, n;
        int r, k;

        /* Nothing to decode; an empty buffer may have no storage yet (NULL + 0 is undefined). */
        if (len == 0)
                return 0;

        /* EVP_DecodeBlock accepts whitespace and returns padding as zero bytes: check the
         * shape ourselves and trim. */
        if (len % 4 != 0 || len > (size_t)INT32_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (c == '=') {
                        if (i < len - 2)
                                return -EINVAL;
                        pad++;
                } else if (pad > 0 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                        (c >= '0' && c <= '9') || c == '+' || c == '/'))
                        return -EINVAL;
        }
        n = len / 4 * 3;
        r = tb_buf_reserve(out, n);
        if (r < 0)
                return r;
        k = EVP_DecodeBlock(out->data + out->len, (const unsigned char *)s, (int)len);
        if (k < 0 || (size_t)k != n)
                return -EINVAL;
        out->len += n - pad;
        return 0;
}

char *tb_hex_string(const void *data, size_t len) {
        char *s;

        if (len > (SIZE_MAX - 1) / 2)
                return NULL;
        s = malloc(len * 2 + 1);
        if (s)
                tb_hex_encode(data, len, s);
        return s;
}

char *tb_base64_string(const void *data, size_t len) {
        tb_buf b = TB_BUF_INIT;

        if (tb_base64_encode(data, len, &b) < 0) {
                tb_buf_free(&b);
                return NULL;
        }
        return (char *)b.data; /* NUL-terminated by tb_base64_encode */
}
