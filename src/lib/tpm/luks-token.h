/* luks-token.h — the "systemd-tpm2" LUKS2 token JSON. We write the systemd 252 shape (legacy
 * primary key, unsalted PIN), which every systemd from 252 on can unlock, and read 252…257 tokens:
 * legacy primary or SRK (tpm2_srk), salted PIN (tpm2_salt), blob/policy hash as a string or a
 * one-shard array. A parsed 257 token formats back to the same bytes (tpm2-pin only when true). */
#pragma once

#include <stddef.h>

#include "tpm/tpm2.h"

#define TB_LUKS_TOKEN_TYPE "systemd-tpm2"

/* The token for S protecting KEYSLOT, as a NUL-terminated JSON string (free()). */
int tb_luks_token_format(const tb_tpm2_sealed *s, int keyslot, char **ret);

/* Parses a token. -EMEDIUMTYPE if it is not a systemd-tpm2 token, -EBADMSG if a field is
 * missing or malformed, -EOPNOTSUPP for features we cannot unseal (pcrlock, a secret sharded
 * over several blobs).
 * RET_KEYSLOT (may be NULL) gets the first keyslot it names. */
int tb_luks_token_parse(const char *json, size_t len, tb_tpm2_sealed *ret, int *ret_keyslot);
