/* sdmagic.c — systemd's .sdmagic LoaderInfo (see sdmagic.h). */
#include "pe/sdmagic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define SDMAGIC_MAX 4096

/* The "PRODUCT VERSION" span after "LoaderInfo: ", up to " ####", a NUL or the end. */
static int find_info(const char *s, size_t len, const char **ret, size_t *ret_len) {
        static const char tag[] = "LoaderInfo: ";
        const char *p, *end, *e;

        /* An empty section has no data at all (NULL): NULL + 0 is undefined (fuzz-pcr-uki). */
        if (!s || len == 0)
                return -EBADMSG;
        p = memmem(s, len, tag, sizeof(tag) - 1);
        end = s + len;
        if (!p)
                return -EBADMSG;
        p += sizeof(tag) - 1;
        e = memmem(p, (size_t)(end - p), " ####", 5);
        if (!e)
                e = end;
        const char *nul = memchr(p, '\0', (size_t)(e - p));
        if (nul)
                e = nul;
        *ret = p;
        *ret_len = (size_t)(e - p);
        return 0;
}

int tb_sdmagic_info(const void *data, size_t len, char **ret) {
        const char *p;
        size_t n;

        if (find_info(data, len, &p, &n) < 0)
                return -EBADMSG;
        *ret = strndup(p, n);
        return *ret ? 0 : -ENOMEM;
}

int tb_sdmagic_major(const void *data, size_t len, const char *product) {
        size_t pl = strlen(product), n;
        const char *p;
        long v = 0;

        if (find_info(data, len, &p, &n) < 0 || n <= pl + 1 || memcmp(p, product, pl) != 0 || p[pl] != ' ')
                return -EBADMSG;
        p += pl + 1;
        n -= pl + 1;
        if (*p < '0' || *p > '9')
                return -EBADMSG;
        for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '9' && v < 100000; i++)
                v = v * 10 + (p[i] - '0');
        return (int)v;
}

static int read_section(const tb_pe *pe, tb_buf *b) {
        const tb_pe_section *s = tb_pe_find_section(pe, ".sdmagic");

        if (!s)
                return -EBADMSG;
        return tb_pe_section_read(pe, s, SDMAGIC_MAX, b) < 0 ? -EBADMSG : 0;
}

int tb_pe_sdmagic_info(const tb_pe *pe, char **ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

        if (read_section(pe, &b) < 0)
                return -EBADMSG;
        return tb_sdmagic_info(b.data, b.len, ret);
}

int tb_pe_sdmagic_major(const tb_pe *pe, const char *product) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

        if (read_section(pe, &b) < 0)
                return -EBADMSG;
        return tb_sdmagic_major(b.data, b.len, product);
}
