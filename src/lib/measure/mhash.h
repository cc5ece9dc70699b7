/* mhash.h — the TPM PCR banks, and one input hashed into every selected bank in the same pass. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "util/macro.h"

/* Enum order is systemd-measure's output order (bank names sorted). */
enum tb_bank {
        TB_BANK_SHA1,
        TB_BANK_SHA256,
        TB_BANK_SHA384,
        TB_BANK_SHA512,
        _TB_BANK_MAX,
};

#define TB_BANK_BIT(b) (1u << (b))
#define TB_BANKS_ALL ((1u << _TB_BANK_MAX) - 1)
#define TB_DIGEST_MAX 64

#define TB_FOREACH_BANK(b, mask)                              \
        for (enum tb_bank b = 0; b < _TB_BANK_MAX; b++)       \
                if ((mask) & TB_BANK_BIT(b))

const char *tb_bank_name(enum tb_bank b); /* "sha256" */
size_t tb_bank_size(enum tb_bank b);
const EVP_MD *tb_bank_md(enum tb_bank b);
/* Any spelling OpenSSL knows ("SHA256", "sha-256", "SHA2-256"); -EINVAL for anything that is
 * not one of the four PCR banks. */
int tb_bank_from_string(const char *s);

/* One digest per bank in BANKS; the other slots are unused. */
typedef struct tb_digests {
        unsigned banks;
        uint8_t d[_TB_BANK_MAX][TB_DIGEST_MAX];
} tb_digests;

/* A streaming hash over all selected banks: feed bytes as they are produced (e.g. while an
 * initrd is compressed and written), then take every bank's digest at once. */
typedef struct tb_mhash tb_mhash;

int tb_mhash_new(unsigned banks, tb_mhash **ret);
int tb_mhash_update(tb_mhash *h, const void *data, size_t len);
/* Reads FD to its end into the hash; a negative errno from read() on failure. */
int tb_mhash_update_fd(tb_mhash *h, int fd);
/* Bytes fed since the last final. */
uint64_t tb_mhash_length(const tb_mhash *h);
/* Writes the digests and the number of bytes hashed (RET_LEN may be NULL), and restarts the
 * hash for the next input. */
int tb_mhash_final(tb_mhash *h, tb_digests *out, uint64_t *ret_len);
void tb_mhash_free(tb_mhash *h);
TB_DEFINE_CLEANUP(tb_mhash *, tb_mhash_free);

/* Every bank's digest of one buffer. */
int tb_digests_of(unsigned banks, const void *data, size_t len, tb_digests *out);
