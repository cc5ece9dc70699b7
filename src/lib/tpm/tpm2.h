/* tpm2.h — seal a secret in the TPM against a signed PCR policy and unseal it, the way systemd
 * does for its systemd-tpm2 LUKS2 tokens. We seal as 252 does (legacy transient primary key) and
 * as 254+ does (the persistent SRK), and unseal 252…257 tokens: legacy primary or the SRK at a persistent handle (tpm2_srk, 254+), the
 * blob optionally carrying an import seed (offline enrollment with --tpm2-device-key). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/macro.h"
#include "measure/tpm2-policy.h"

#define TB_TPM2_SECRET_SIZE 32
#define TB_TPM2_DEFAULT_SIGNATURE "/run/systemd/tpm2-pcr-signature.json"
#define TB_TPM2_INITRD_SIGNATURE "/.extra/tpm2-pcr-signature.json"

typedef struct tb_tpm2 tb_tpm2; /* an ESAPI context over a TCTI */

/* DEVICE as systemd's tpm2-device=: NULL or "auto" (the kernel resource manager /dev/tpmrm0),
 * a device node path, or "driver:params" for a TCTI library (e.g. "swtpm:path=/run/swtpm.sock").
 * Logs what failed. */
int tb_tpm2_open(const char *device, tb_tpm2 **ret);
void tb_tpm2_free(tb_tpm2 *t);
TB_DEFINE_CLEANUP(tb_tpm2 *, tb_tpm2_free);

/* Whether PEM, the content of the operator's PCR public key file NAME, is a key the token can be
 * bound to (tb_tpm2_pubkey_from_pem): 0, or -EBADMSG after logging "NAME: not an RSA public key
 * in PEM format" — before anything is sealed to it. */
int tb_tpm2_pubkey_check(const uint8_t *pem, size_t len, const char *name);

/* A sealed secret and everything needed to unseal it: the contents of a systemd-tpm2 token. */
typedef struct tb_tpm2_sealed {
        tb_buf blob;              /* TPM2B_PRIVATE ‖ TPM2B_PUBLIC [‖ TPM2B_ENCRYPTED_SECRET import seed] */
        uint8_t policy_hash[TB_TPM2_DIGEST_SIZE];
        uint16_t primary_alg;     /* TPM2_ALG_ECC or TPM2_ALG_RSA (legacy primary; the SRK's type with srk) */
        uint16_t bank;            /* PCR bank of both PCR policies */
        uint32_t pcr_mask;        /* PCRs bound to their values at enrollment */
        uint32_t pubkey_pcr_mask; /* PCRs bound through a signed policy (PCR 11) */
        tb_buf pubkey_pem;        /* the PCR signing public key; empty without a signed policy */
        bool pin;
        tb_buf salt;              /* PIN salt of 253+ tokens (tpm2_salt); we never write one */
        tb_buf srk;               /* tpm2_srk of 254+ tokens: the parent key as an ESYS_TR serialization
                                   * (handle ‖ TPM2B_NAME ‖ TPM2B_PUBLIC…); empty: legacy primary */
} tb_tpm2_sealed;

#define TB_TPM2_SEALED_INIT { .blob = TB_BUF_INIT, .pubkey_pem = TB_BUF_INIT, .salt = TB_BUF_INIT, .srk = TB_BUF_INIT }

void tb_tpm2_sealed_done(tb_tpm2_sealed *s);

typedef struct tb_tpm2_seal_params {
        uint32_t pcr_mask;
        uint32_t pubkey_pcr_mask;        /* 0 without a public key */
        const uint8_t *pubkey_pem;       /* NULL: no signed policy */
        size_t pubkey_pem_len;
        const char *pin;                 /* NULL: no PIN */
} tb_tpm2_seal_params;

/* Generates a fresh random secret, seals it under the legacy primary key (ECC P-256, RSA-2048
 * if the TPM lacks ECC) with policy [PolicyAuthorize(pubkey)] [PolicyPCR(pcr_mask)]
 * [PolicyAuthValue], and returns the secret and the sealed object. */
int tb_tpm2_seal(tb_tpm2 *t, const tb_tpm2_seal_params *p, uint8_t secret[TB_TPM2_SECRET_SIZE],
                 tb_tpm2_sealed *ret);

/* The persistent handle of the shared Storage Root Key (TCG "Provisioning Guidance", systemd's
 * TPM2_SRK_HANDLE). */
#define TB_TPM2_SRK_HANDLE 0x81000001u

/* One fresh random secret sealed twice, for two systemd-tpm2 tokens on the same keyslot:
 * RET_LEGACY under the legacy primary (systemd-cryptsetup 252 recreates it to unseal; its use is
 * dictionary-attack protected) and RET_SRK under the persistent SRK (noDA, created and persisted
 * if absent; nothing on its unseal path is DA-protected — what the boot path uses). If the SRK is
 * unusable (owner hierarchy with an auth value, another kind of key at TB_TPM2_SRK_HANDLE, NV full)
 * RET_SRK's blob stays empty, with a warning; if the legacy seal is refused for a lockout or an
 * owner auth value while the SRK one worked, RET_LEGACY's blob stays empty, with a warning. Both
 * failing is an error (one line; -EACCES for lockout or owner auth). */
int tb_tpm2_seal_pair(tb_tpm2 *t, const tb_tpm2_seal_params *p, uint8_t secret[TB_TPM2_SECRET_SIZE],
                      tb_tpm2_sealed *ret_legacy, tb_tpm2_sealed *ret_srk);

/* Unseals S under the legacy primary key, or under the persistent key S->srk names after checking
 * that the TPM holds that very key there. With a signed policy, the signature for the current PCR state is looked up in
 * SIGNATURE_PATH, or if NULL in TB_TPM2_DEFAULT_SIGNATURE then TB_TPM2_INITRD_SIGNATURE.
 * Refusals are logged in one line each and return: -ENXIO no signature for this state,
 * -EKEYREJECTED signature does not verify, -EPERM literal PCRs changed, -EACCES wrong PIN
 * (or TPM in dictionary-attack lockout), -EREMOTE the token's SRK is missing or another key. */
int tb_tpm2_unseal(tb_tpm2 *t, const tb_tpm2_sealed *s, const char *pin, const char *signature_path,
                   uint8_t secret[TB_TPM2_SECRET_SIZE]);

/* Extends PCR with the digest of DATA in every active bank (sha1, sha256, sha384, sha512), as
 * systemd-pcrphase does for its phase words. Returns the number of banks extended. */
int tb_tpm2_pcr_extend(tb_tpm2 *t, unsigned pcr, const void *data, size_t len);
