/* luks.h — LUKS2 volumes whose key is sealed in the TPM (libcryptsetup): format with a TPM
 * keyslot and a systemd-tpm2 token, an optional recovery key, and unlock through the token. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "tpm/tpm2.h"

#define TB_LUKS_RECOVERY_KEY_SIZE 72 /* 8 groups of 8 modhex digits, dashes, NUL */

typedef struct tb_luks_enroll {
        const char *label;
        const char *uuid;             /* NULL: a random one */
        const tb_tpm2_sealed *sealed; /* the token to write (legacy primary; empty blob: none) */
        const tb_tpm2_sealed *sealed_srk; /* NULL, or the same secret under the SRK: a second token on
                                           * the same keyslot, written after the first */
        const uint8_t *secret;        /* TB_TPM2_SECRET_SIZE bytes sealed in SEALED */
        const char *recovery_key;     /* NULL: no recovery keyslot */
        const char *mkfs;             /* NULL, or a file system type to create inside */
        /* Called with the opened volume's node after mkfs (the new file system is empty and
         * the volume key is still at hand, no TPM unseal needed): install fills OEM here. */
        int (*populate)(const char *node, void *userdata);
        void *userdata;
} tb_luks_enroll;

/* Formats DEVICE (block device or image file) as LUKS2 aes-xts-plain64 with a 512-bit volume
 * key, adds the TPM keyslot directly from the volume key (passphrase = base64 of the secret,
 * PBKDF2-SHA512 1000 iterations, like systemd-cryptenroll), the systemd-tpm2 token, and an
 * argon2id recovery keyslot. Logs what failed. */
int tb_luks_format(const char *device, const tb_luks_enroll *e);

/* The encrypt step in one: seals a fresh secret in TPM to SEAL's PCR binding (twice: legacy primary
 * and SRK, tb_tpm2_seal_pair()), then formats DEVICE with it (E's sealed and secret are filled in here; its other fields as for tb_luks_format()).
 * The secret is wiped before returning. What fails is logged by the step that fails. */
int tb_luks_format_sealed(tb_tpm2 *tpm, const tb_tpm2_seal_params *seal, const char *device, tb_luks_enroll *e);

/* A fresh 256-bit recovery key in systemd's modhex format (xxxxxxxx-…, 71 characters). */
int tb_luks_recovery_key_generate(char out[TB_LUKS_RECOVERY_KEY_SIZE]);

/* Asks for the PIN when a token needs one; *RET is wiped and freed by the caller. */
typedef int (*tb_luks_pin_fn)(char **ret, void *userdata);

typedef struct tb_luks_unlock_params {
        const char *tpm2_device;      /* NULL: auto */
        const char *signature_path;   /* NULL: the default search */
        tb_luks_pin_fn get_pin;
        void *userdata;
} tb_luks_unlock_params;

/* Unseals DEVICE's systemd-tpm2 token and activates it as NAME, or with NAME == NULL only
 * checks that the unsealed key opens its keyslot (no device-mapper needed). Returns the
 * keyslot. -ENOKEY if DEVICE has no usable systemd-tpm2 token. SRK tokens are tried first (no
 * dictionary-attack protected authorization: they work in lockout and leave no trace a power cut
 * could count); a legacy token on the same keyslot only if its SRK token failed for a reason of
 * the SRK (missing, another key), never after a policy refusal. */
int tb_luks_unlock(const char *device, const char *name, const tb_luks_unlock_params *p);

/* PCR key rotation: unseals DEVICE's existing systemd-tpm2 token (P: TPM device, signature
 * file; tokens with a PIN are not used) to get the volume key, then adds a keyslot opened by
 * SECRET and the systemd-tpm2 token SEALED (bound to the new PCR key), and SEALED_SRK's (may be NULL)
 * on the same keyslot. The old tokens stay until removed. Logs. */
int tb_luks_add_tpm2_token(const char *device, const tb_tpm2_sealed *sealed, const tb_tpm2_sealed *sealed_srk,
                           const uint8_t *secret, const tb_luks_unlock_params *p);

/* Whether DEVICE is LUKS2 with a systemd-tpm2 token, and its label (may be NULL; free()). */
bool tb_luks_has_tpm2_token(const char *device, char **ret_label);

/* Whether every TPM keyslot of DEVICE that a systemd-tpm2 token opens has a token sealed under
 * the SRK (the one whose unseal makes no dictionary-attack protected authorization). False
 * without systemd-tpm2 tokens. */
bool tb_luks_tpm2_srk_covers_all(const char *device);

/* Whether a device-mapper volume NAME is active (false without device-mapper). */
bool tb_luks_is_active(const char *name);

/* Calls FN for every block device that is LUKS2 with a systemd-tpm2 token, with the name to
 * map it under: its GPT partition name, else its LUKS2 label (devices with neither are
 * skipped with a warning). Stops at and returns FN's first negative return. */
typedef int (*tb_luks_volume_fn)(const char *device, const char *name, void *userdata);
int tb_luks_foreach_tpm2_volume(tb_luks_volume_fn fn, void *userdata);

/* The distinct PCR signing public keys (PEM) DEVICE's systemd-tpm2 tokens are bound to through
 * a signed policy: two during a PCR key rotation, none without signed policies. -ENOKEY (logged)
 * without a systemd-tpm2 token. Free with tb_luks_pcr_keys_done() (also after a failure). */
typedef struct tb_luks_pcr_keys {
        tb_buf *pem;
        size_t n;
} tb_luks_pcr_keys;
void tb_luks_pcr_keys_done(tb_luks_pcr_keys *k);
int tb_luks_tpm2_pcr_keys(const char *device, tb_luks_pcr_keys *ret);

/* The end of a PCR key rotation: removes DEVICE's systemd-tpm2 tokens bound to the old PCR
 * public key OLD_PEM and their keyslots, only once another systemd-tpm2 token (no PIN) unseals
 * the volume key now (P: TPM device, signature file) — on a boot of a UKI signed with the new
 * key. Returns how many were removed; -ENOENT if none is bound to OLD_PEM, -EKEYREJECTED if no
 * other token unseals now (nothing removed). Logs. */
int tb_luks_remove_tpm2_pcr_key(const char *device, const uint8_t *old_pem, size_t old_len,
                                const tb_luks_unlock_params *p);
