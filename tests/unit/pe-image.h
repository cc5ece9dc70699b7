/* pe-image.h — crafted PE32+ images for the pe and authenticode unit tests. */
#pragma once

#include <string.h>

#include "util/buf.h"

#define IMG_PE_OFF 0x40u
#define IMG_COFF_OFF (IMG_PE_OFF + 4)
#define IMG_OPT_OFF (IMG_COFF_OFF + 20)
#define IMG_SECT_OFF (IMG_OPT_OFF + 0xf0) /* 0x148: 4 section headers fit below 0x200 */
#define IMG_CHECKSUM_OFF (IMG_OPT_OFF + 64)
#define IMG_CERTDIR_OFF (IMG_OPT_OFF + 112 + 4 * 8)

typedef struct img_section {
        const char *name;
        uint32_t va, vs, raw_off, raw_size;
        uint8_t fill;
} img_section;

/* An x86-64 PE32+ with SectionAlignment 0x1000, FileAlignment 0x200, SizeOfHeaders SOH and the
 * given sections, each filled with its byte; the file ends at the end of the last raw data. */
static inline void img_make(tb_buf *b, uint32_t soh, const img_section *s, size_t n) {
        uint64_t size = soh, image = 0x1000;
        uint8_t *p, *opt;

        for (size_t i = 0; i < n; i++) {
                if (s[i].raw_size && s[i].raw_off + s[i].raw_size > size)
                        size = s[i].raw_off + s[i].raw_size;
                if (s[i].va + s[i].vs > image)
                        image = s[i].va + s[i].vs;
        }
        b->len = 0;
        tb_buf_append_zero(b, size);
        p = b->data;
        p[0] = 'M';
        p[1] = 'Z';
        tb_put_u32le(p + 0x3c, IMG_PE_OFF);
        memcpy(p + IMG_PE_OFF, "PE\0\0", 4);
        tb_put_u16le(p + IMG_COFF_OFF, 0x8664);
        tb_put_u16le(p + IMG_COFF_OFF + 2, (uint16_t)n);
        tb_put_u16le(p + IMG_COFF_OFF + 16, 0xf0);
        tb_put_u16le(p + IMG_COFF_OFF + 18, 0x206);
        opt = p + IMG_OPT_OFF;
        tb_put_u16le(opt, 0x20b);
        tb_put_u32le(opt + 32, 0x1000);
        tb_put_u32le(opt + 36, 0x200);
        tb_put_u32le(opt + 56, (uint32_t)((image + 0xfff) & ~0xfffull));
        tb_put_u32le(opt + 60, soh);
        tb_put_u32le(opt + 64, 0x12345);
        tb_put_u16le(opt + 68, 10);
        tb_put_u32le(opt + 108, 16);
        for (size_t i = 0; i < n; i++) {
                uint8_t *h = p + IMG_SECT_OFF + 40 * i;

                memcpy(h, s[i].name, strlen(s[i].name));
                tb_put_u32le(h + 8, s[i].vs);
                tb_put_u32le(h + 12, s[i].va);
                tb_put_u32le(h + 16, s[i].raw_size);
                tb_put_u32le(h + 20, s[i].raw_off);
                tb_put_u32le(h + 36, 0x40000040);
                if (s[i].raw_size)
                        memset(p + s[i].raw_off, s[i].fill, s[i].raw_size);
        }
}

/* Two sections: .text (0x400 bytes of 0xaa at 0x200) and .data (0x200 of 0xbb at 0x600). */
static inline void img_make_basic(tb_buf *b) {
        static const img_section s[] = {
                { ".text", 0x1000, 0x3f0, 0x200, 0x400, 0xaa },
                { ".data", 0x2000, 0x300, 0x600, 0x200, 0xbb },
        };

        img_make(b, 0x200, s, 2);
}
