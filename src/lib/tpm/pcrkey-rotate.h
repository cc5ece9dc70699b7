/* pcrkey-rotate.h — PCR key rotation on a node's encrypted volumes (issue 18). The volumes'
 * systemd-tpm2 tokens are bound to the PCR key's public half, so a new PCR key is added to every
 * volume (a second keyslot + token) while a UKI signed by the old key still runs, the UKIs signed
 * by the new key are installed (`trustboot upgrade` accepts a key the volumes are bound to), and
 * after the first boot with the new key the old key's keyslots are removed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct tb_pcrkey_rotate {
        const char *device;          /* NULL: every LUKS2 volume with a systemd-tpm2 token */
        const uint8_t *pem;          /* the new (add) or old (remove) PCR public key, PEM */
        size_t pem_len;
        const char *pem_name;        /* for messages */
        uint32_t pubkey_pcr_mask;    /* add: PCRs bound through the signed policy (0: PCR 11) */
        const char *tpm2_device;     /* NULL: auto */
        const char *signature;       /* the signed policies that unseal the token kept; NULL: the
                                      * default search (/run/systemd, /.extra) */
} tb_pcrkey_rotate;

/* Adds a TPM2 keyslot + systemd-tpm2 token bound to the new key to the volume(s), unsealing the
 * current token to get the volume key (so in a boot state the current policy accepts). A volume
 * already bound to the key is left as it is (a second run after a failure adds nothing twice).
 * Returns the number of volumes that got the key; logs each failure (one line). -ENOENT (logged)
 * when DEVICE is NULL and no such volume exists. */
int tb_pcrkey_add(const tb_pcrkey_rotate *o);

/* Removes the keyslots + tokens bound to the old key from the volume(s), each only once another
 * token unseals now (tb_luks_remove_tpm2_pcr_key). With DEVICE NULL, volumes not bound to the old
 * key are skipped (already done); a named DEVICE not bound to it is an error. Returns the number
 * of volumes changed. */
int tb_pcrkey_remove(const tb_pcrkey_rotate *o);
