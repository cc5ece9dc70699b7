#include "encode.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

char *tb_hex_encode(const void *data, size_t len) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *p = data;
        char *s;

        if (len > (SIZE_MAX - 1) / 2)
                return NULL;
        s = malloc(len * 2 + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                s[2 * i] = digits[p[i] >> 4];
                s[2 * i + 1] = digits[p[i] & 0xf];
        }
        s[len * 2] = '\0';
        return s;
}

char *tb_base64_encode(const void *data, size_t len) {
        char *s;

        if (len > INT_MAX / 4 * 3 - 3)
                return NULL;
        s = malloc((len + 2) / 3 * 4 + 1);
        if (!s)
                return NULL;
        EVP_EncodeBlock((unsigned char *)s, data, (int)len); /* no line breaks, '=' padding, NUL */
        return s;
}
