#include "measure/mhash.h"
#include "util/log.h"

#include <errno.h>
#include <openssl/objects.h>
#include <string.h>

static const struct {
        const char *name;
        int nid;
        size_t size;
} banks[_TB_BANK_MAX] = {
        [TB_BANK_SHA1] = { "sha1", NID_sha1, 20 },
        [TB_BANK_SHA256] = { "sha256", NID_sha256, 32 },
        [TB_BANK_SHA384] = { "sha384", NID_sha384, 48 },
        [TB_BANK_SHA512] = { "sha512", NID_sha512, 64 },
};

const char *tb_bank_name(enum tb_bank b) {
        return b < _TB_BANK_MAX ? banks[b].name : NULL;
}

size_t tb_bank_size(enum tb_bank b) {
        return b < _TB_BANK_MAX ? banks[b].size : 0;
}

const EVP_MD *tb_bank_md(enum tb_bank b) {
        switch (b) {
        case TB_BANK_SHA1:
                return EVP_sha1();
        case TB_BANK_SHA256:
                return EVP_sha256();
        case TB_BANK_SHA384:
                return EVP_sha384();
        case TB_BANK_SHA512:
                return EVP_sha512();
        default:
                return NULL;
        }
}

int tb_bank_from_string(const char *s) {
        const EVP_MD *md;

        if (!s || !*s)
                return -EINVAL;
        /* The same lookup systemd-measure does, so every alias it accepts for these banks works. */
        md = EVP_get_digestbyname(s);
        if (!md)
                return -EINVAL;
        for (enum tb_bank b = 0; b < _TB_BANK_MAX; b++)
                if (EVP_MD_get_type(md) == banks[b].nid)
                        return (int)b;
        return -EINVAL;
}

struct tb_mhash {
        unsigned banks;
        uint64_t length;
        EVP_MD_CTX *ctx[_TB_BANK_MAX];
};

static int mhash_init(tb_mhash *h) {
        TB_FOREACH_BANK(b, h->banks)
                if (EVP_DigestInit_ex(h->ctx[b], tb_bank_md(b), NULL) != 1)
                        return -EIO;
        h->length = 0;
        return 0;
}

int tb_mhash_new(unsigned mask, tb_mhash **ret) {
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        int r;

        if (mask == 0 || (mask & ~TB_BANKS_ALL))
                return -EINVAL;
        h = calloc(1, sizeof(*h));
        if (!h)
                return tb_log_oom();
        h->banks = mask;
        TB_FOREACH_BANK(b, mask) {
                h->ctx[b] = EVP_MD_CTX_new();
                if (!h->ctx[b])
                        return tb_log_oom();
        }
        r = mhash_init(h);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

int tb_mhash_update(tb_mhash *h, const void *data, size_t len) {
        if (len == 0)
                return 0;
        TB_FOREACH_BANK(b, h->banks)
                if (EVP_DigestUpdate(h->ctx[b], data, len) != 1)
                        return -EIO;
        h->length += len;
        return 0;
}

int tb_mhash_update_fd(tb_mhash *h, int fd) {
        enum { CHUNK = 256 * 1024 };
        _cleanup_(freep) uint8_t *buf = malloc(CHUNK);
        int r;

        if (!buf)
                return tb_log_oom();
        for (;;) {
                ssize_t n = read(fd, buf, CHUNK);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return 0;
                r = tb_mhash_update(h, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
}

uint64_t tb_mhash_length(const tb_mhash *h) {
        return h->length;
}

int tb_mhash_final(tb_mhash *h, tb_digests *out, uint64_t *ret_len) {
        if (ret_len)
                *ret_len = h->length;
        memset(out, 0, sizeof(*out));
        out->banks = h->banks;
        TB_FOREACH_BANK(b, h->banks)
                if (EVP_DigestFinal_ex(h->ctx[b], out->d[b], NULL) != 1)
                        return -EIO;
        return mhash_init(h);
}

void tb_mhash_free(tb_mhash *h) {
        if (!h)
                return;
        for (enum tb_bank b = 0; b < _TB_BANK_MAX; b++)
                EVP_MD_CTX_free(h->ctx[b]);
        free(h);
}

int tb_digests_of(unsigned mask, const void *data, size_t len, tb_digests *out) {
        if (mask == 0 || (mask & ~TB_BANKS_ALL))
                return -EINVAL;
        memset(out, 0, sizeof(*out));
        out->banks = mask;
        TB_FOREACH_BANK(b, mask)
                if (EVP_Digest(data, len, out->d[b], NULL, tb_bank_md(b), NULL) != 1)
                        return -EIO;
        return 0;
}
