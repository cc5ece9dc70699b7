/* tpm2-policy.h — the software side of systemd-tpm2 sealing policies: the PCR public key as
 * a TPM object, policy digests, PIN auth values, and the signed-policy (.pcrsig) JSON lookup.
 * Everything here is pure computation, so it is bit-exact with systemd and unit-testable. */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "util/buf.h"

#define TB_TPM2_DIGEST_SIZE 32   /* every policy digest is SHA-256 (the session hash) */
#define TB_TPM2_NAME_SIZE 34     /* u16be nameAlg ‖ SHA-256 */
#define TB_TPM2_PCRS 24
#define TB_TPM2_PKFP_HEX 65      /* 64 hex digits + NUL */

/* Bank names as systemd writes them ("sha1", "sha256", …) ↔ TPM2_ALG_* ids. */
const char *tb_tpm2_bank_name(uint16_t alg);
int tb_tpm2_bank_from_name(const char *name, uint16_t *ret);
/* Digest size of the bank, 0 if unknown. */
size_t tb_tpm2_bank_size(uint16_t alg);

/* Parses "7+11", "7,11" or "" into a PCR mask. -EINVAL on anything else. */
int tb_tpm2_pcr_mask_parse(const char *s, uint32_t *ret);

/* A JSON array of PCR indexes ("pcrs", "tpm2-pcrs") as a mask; -EBADMSG if it is anything else. */
struct json_object;
int tb_tpm2_pcr_mask_from_json(struct json_object *a, uint32_t *ret);

/* The RSA PCR-signing public key from PEM, and its TPMT_PUBLIC as systemd builds it (the
 * Name — and so the sealing policy — depends on every bit). -EBADMSG if not an RSA key. */
int tb_tpm2_pubkey_from_pem(const uint8_t *pem, size_t len, EVP_PKEY **ret);
int tb_tpm2_pubkey_to_public(EVP_PKEY *key, TPM2B_PUBLIC *ret);
int tb_tpm2_public_name(const TPM2B_PUBLIC *pub, uint8_t name[TB_TPM2_NAME_SIZE]);

/* Policy steps, each updating the running digest D as the TPM would. */
void tb_tpm2_policy_authorize(uint8_t d[TB_TPM2_DIGEST_SIZE], const uint8_t name[TB_TPM2_NAME_SIZE]);
/* VALUES: the selected PCRs' values in ascending PCR order, each tb_tpm2_bank_size(BANK) long. */
int tb_tpm2_policy_pcr(uint8_t d[TB_TPM2_DIGEST_SIZE], uint16_t bank, uint32_t mask, const uint8_t *values,
                       size_t len);
void tb_tpm2_policy_auth_value(uint8_t d[TB_TPM2_DIGEST_SIZE]);

void tb_tpm2_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *ret);

/* systemd 252's PIN transformation (unsalted): SHA256(PIN). */
void tb_tpm2_pin_auth_value(const char *pin, uint8_t out[TB_TPM2_DIGEST_SIZE]);
/* 253+ salted form, for tokens carrying tpm2_salt. */
int tb_tpm2_pin_auth_value_salted(const char *pin, const uint8_t *salt, size_t salt_len,
                                  uint8_t out[TB_TPM2_DIGEST_SIZE]);

/* Finds in a .pcrsig JSON document the "sig" of the entry for BANK whose "pcrs" equal MASK,
 * "pkfp" equals PKFP (hex of tb_pcr_pkfp()) and "pol" equals POL; the raw signature bytes are appended to SIG.
 * -EBADMSG if the document is not the expected JSON shape, -ENXIO if no entry matches. */
int tb_tpm2_find_signature(const char *json, size_t len, uint16_t bank, uint32_t mask, const char *pkfp,
                           const uint8_t pol[TB_TPM2_DIGEST_SIZE], tb_buf *sig);
