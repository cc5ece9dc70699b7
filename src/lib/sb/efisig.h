/* efisig.h — EFI GUIDs, EFI_SIGNATURE_LISTs (.esl) and time-based authenticated variables (.auth).
 * Byte layouts: shared/research/formats.md §7. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

/* An EFI_GUID in its in-memory (mixed-endian) layout, exactly as it appears on disk. */
typedef struct tb_guid {
        uint8_t b[16];
} tb_guid;

#define TB_GUID_STRING_MAX 37

extern const tb_guid TB_GUID_EFI_GLOBAL_VARIABLE;    /* PK, KEK */
extern const tb_guid TB_GUID_IMAGE_SECURITY_DATABASE; /* db, dbx */
extern const tb_guid TB_GUID_CERT_X509;
extern const tb_guid TB_GUID_CERT_SHA256;          /* an image hash (Authenticode, SHA-256) */
extern const tb_guid TB_GUID_CERT_SHA384;
extern const tb_guid TB_GUID_CERT_SHA512;
extern const tb_guid TB_GUID_CERT_X509_SHA256;     /* hash of a certificate's TBSCertificate + EFI_TIME */
extern const tb_guid TB_GUID_CERT_X509_SHA384;
extern const tb_guid TB_GUID_CERT_X509_SHA512;
extern const tb_guid TB_GUID_CERT_TYPE_PKCS7;
extern const tb_guid TB_GUID_OWNER_MICROSOFT; /* 77fa9abd-0359-4d32-bd60-28f4e78f784b */
extern const tb_guid TB_GUID_OWNER_CUSTOM;    /* 88a69775-5ad7-45d9-9f34-cec43e1f1989 */

int tb_guid_from_string(const char *s, tb_guid *ret);
void tb_guid_to_string(const tb_guid *g, char out[TB_GUID_STRING_MAX]);
int tb_guid_random(tb_guid *ret); /* RFC 4122 version 4 */

/* Appends one EFI_SIGNATURE_LIST of TYPE holding one signature (DATA, after the owner GUID). */
int tb_esl_append(tb_buf *esl, const tb_guid *type, const tb_guid *owner, const uint8_t *data, size_t len);

/* Appends one EFI_SIGNATURE_LIST holding one X.509 certificate (DER) owned by OWNER. */
int tb_esl_append_x509(tb_buf *esl, const tb_guid *owner, const uint8_t *der, size_t der_len);

/* One signature inside a signature database. */
typedef struct tb_esl_entry {
        tb_guid type;
        tb_guid owner;
        const uint8_t *data; /* the signature data after the owner GUID */
        size_t len;
} tb_esl_entry;

/* Calls FN for every signature in a concatenation of EFI_SIGNATURE_LISTs. Returns -EBADMSG
 * (without calling FN for anything after the damage) if the lists are malformed. */
int tb_esl_foreach(const uint8_t *data, size_t len, int (*fn)(const tb_esl_entry *e, void *userdata),
                   void *userdata);

#define TB_EFI_VARIABLE_NON_VOLATILE 0x01u
#define TB_EFI_VARIABLE_BOOTSERVICE_ACCESS 0x02u
#define TB_EFI_VARIABLE_RUNTIME_ACCESS 0x04u
#define TB_EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS 0x20u
#define TB_EFI_VARIABLE_APPEND_WRITE 0x40u
/* What systemd-boot passes to SetVariable() when it enrolls keys. */
#define TB_EFI_AUTH_VAR_ATTRS 0x27u

/* Builds VAR_NAME's EFI_VARIABLE_AUTHENTICATION_2 header followed by PAYLOAD, signed by
 * KEY/CERT over name‖vendor‖attrs‖timestamp‖payload (PKCS#7 detached, SHA-256, no signed
 * attributes, bare SignedData — as efitools' sign-efi-sig-list). EPOCH gives the timestamp. */
int tb_auth_build(const char *var_name, const tb_guid *vendor, uint32_t attrs, int64_t epoch, const tb_buf *payload,
                  EVP_PKEY *key, X509 *cert, tb_buf *out);

/* Rebuilds the buffer an .auth's signature covers (for verification by tests and callers). */
int tb_auth_signed_buffer(const char *var_name, const tb_guid *vendor, uint32_t attrs, const uint8_t efi_time[16],
                          const uint8_t *payload, size_t payload_len, tb_buf *out);
