/* encrypt.h — `trustboot encrypt`: a LUKS2 volume whose key is sealed in the TPM (luks.h) from
 * the operator's inputs — the PCR public key's file, the PIN, the recovery key's file, checked
 * before the TPM or the device is touched — and the PCR key rotation of existing volumes
 * (pcrkey-rotate.h) from the new or old key's file. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "tpm/luks.h"

typedef struct tb_encrypt_options {
        const char *device;         /* a block device or an existing image file (NULL for a
                                     * rotation: every LUKS2 volume with a systemd-tpm2 token) */
        const char *label;          /* LUKS2 label */
        const char *uuid;           /* NULL: random */
        const char *mkfs;           /* NULL, or a file system type to create inside */
        const char *pcr_public_key; /* PEM file of the RSA key that signs PCR policies, or NULL */
        uint32_t pubkey_pcr_mask;   /* PCRs bound through the signed policy (with a public key) */
        uint32_t pcr_mask;          /* PCRs bound to their current values */
        const char *tpm2_device;    /* NULL: auto */
        const char *recovery_key;   /* NULL: no recovery keyslot; "-": its key printed once on the
                                     * output; else the file to write it to (0600, must not exist) */
        tb_luks_pin_fn get_pin;     /* NULL: no PIN; else asked for the new PIN (*ret is wiped) */
        void *userdata;
        /* PCR key rotation */
        const char *add_pcr_key;    /* the new key's PEM file, or NULL */
        const char *remove_pcr_key; /* the old key's PEM file, or NULL */
        const char *signature;      /* the signed policies that unseal the token kept; NULL: default */
} tb_encrypt_options;

/* Formats O->device as LUKS2 with its key sealed in the TPM (tb_luks_format_sealed). Before the
 * TPM is opened: the device must exist, the public key must be an RSA key in PEM, the PIN is
 * asked for, and the recovery key file is created (temporary, 0600) — it must not exist: its key
 * exists only once. After the format the file is synced and renamed into place without newline
 * (usable as cryptsetup's --key-file), or the key is printed on OUT with one. The key is wiped;
 * a failure leaves no file. Logs. */
int tb_encrypt(const tb_encrypt_options *o, FILE *out);

/* PCR key rotation: tb_pcrkey_add() with the key in O->add_pcr_key's file, or tb_pcrkey_remove()
 * with O->remove_pcr_key's, on O->device or (NULL) on every TPM2 volume, then says how many
 * volumes changed. Logs. */
int tb_encrypt_rotate(const tb_encrypt_options *o);
