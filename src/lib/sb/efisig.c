#include "sb/efisig.h"

#include <errno.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/macro.h"
#include "util/ossl.h"

#define G(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                                            \
        {                                                                                                    \
                { (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff, (b) & 0xff,         \
                  ((b) >> 8) & 0xff, (c) & 0xff, ((c) >> 8) & 0xff, d0, d1, d2, d3, d4, d5, d6, d7 }          \
        }

const tb_guid TB_GUID_EFI_GLOBAL_VARIABLE = G(0x8be4df61, 0x93ca, 0x11d2, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c);
const tb_guid TB_GUID_IMAGE_SECURITY_DATABASE =
        G(0xd719b2cb, 0x3d3a, 0x4596, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f);
const tb_guid TB_GUID_CERT_X509 = G(0xa5c059a1, 0x94e4, 0x4aa7, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72);
const tb_guid TB_GUID_CERT_SHA256 = G(0xc1c41626, 0x504c, 0x4092, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28);
const tb_guid TB_GUID_CERT_SHA384 = G(0xff3e5307, 0x9fd0, 0x48c9, 0x85, 0xf1, 0x8a, 0xd5, 0x6c, 0x70, 0x1e, 0x01);
const tb_guid TB_GUID_CERT_SHA512 = G(0x093e0fae, 0xa6c4, 0x4f50, 0x9f, 0x1b, 0xd4, 0x1e, 0x2b, 0x89, 0xc1, 0x9a);
const tb_guid TB_GUID_CERT_X509_SHA256 = G(0x3bd2a492, 0x96c0, 0x4079, 0xb4, 0x20, 0xfc, 0xf9, 0x8e, 0xf1, 0x03, 0xed);
const tb_guid TB_GUID_CERT_X509_SHA384 = G(0x7076876e, 0x80c2, 0x4ee6, 0xaa, 0xd2, 0x28, 0xb3, 0x49, 0xa6, 0x86, 0x5b);
const tb_guid TB_GUID_CERT_X509_SHA512 = G(0x446dbf63, 0x2502, 0x4cda, 0xbc, 0xfa, 0x24, 0x65, 0xd2, 0xb0, 0xfe, 0x9d);
const tb_guid TB_GUID_CERT_TYPE_PKCS7 = G(0x4aafd29d, 0x68df, 0x49ee, 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7);
const tb_guid TB_GUID_OWNER_MICROSOFT = G(0x77fa9abd, 0x0359, 0x4d32, 0xbd, 0x60, 0x28, 0xf4, 0xe7, 0x8f, 0x78, 0x4b);
const tb_guid TB_GUID_OWNER_CUSTOM = G(0x88a69775, 0x5ad7, 0x45d9, 0x9f, 0x34, 0xce, 0xc4, 0x3e, 0x1f, 0x19, 0x89);

#define ESL_HEADER_SIZE 28u /* SignatureType GUID + three u32 sizes */
#define WIN_CERT_TYPE_EFI_GUID 0x0EF1u
#define WIN_CERT_REVISION 0x0200u

int tb_guid_from_string(const char *s, tb_guid *ret) {
        unsigned a, b, c, d[8];
        int n = 0;

        if (strlen(s) != 36 ||
            sscanf(s, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%n", &a, &b, &c, &d[0], &d[1], &d[2], &d[3], &d[4], &d[5],
                   &d[6], &d[7], &n) != 11 ||
            n != 36)
                return -EINVAL;
        tb_put_u32le(ret->b, a);
        tb_put_u16le(ret->b + 4, (uint16_t)b);
        tb_put_u16le(ret->b + 6, (uint16_t)c);
        for (int i = 0; i < 8; i++)
                ret->b[8 + i] = (uint8_t)d[i];
        return 0;
}

void tb_guid_to_string(const tb_guid *g, char out[TB_GUID_STRING_MAX]) {
        const uint8_t *d = g->b + 8;

        snprintf(out, TB_GUID_STRING_MAX, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", tb_get_u32le(g->b),
                 tb_get_u16le(g->b + 4), tb_get_u16le(g->b + 6), d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
}

int tb_guid_random(tb_guid *ret) {
        if (RAND_bytes(ret->b, sizeof(ret->b)) != 1)
                return -EIO;
        /* Version 4 in the high nibble of time_hi_and_version (a little-endian u16 at byte 6),
         * RFC 4122 variant in clock_seq_hi (byte 8). */
        ret->b[7] = (uint8_t)((ret->b[7] & 0x0f) | 0x40);
        ret->b[8] = (uint8_t)((ret->b[8] & 0x3f) | 0x80);
        return 0;
}

int tb_esl_append(tb_buf *esl, const tb_guid *type, const tb_guid *owner, const uint8_t *data, size_t len) {
        uint64_t sig_size = sizeof(tb_guid) + (uint64_t)len;
        uint64_t list_size = ESL_HEADER_SIZE + sig_size;
        int r;

        if (len == 0 || list_size > UINT32_MAX)
                return -EINVAL;
        r = tb_buf_reserve(esl, (size_t)list_size);
        if (r < 0)
                return r;
        tb_buf_append(esl, type->b, 16);
        tb_buf_append_u32le(esl, (uint32_t)list_size);
        tb_buf_append_u32le(esl, 0); /* SignatureHeaderSize */
        tb_buf_append_u32le(esl, (uint32_t)sig_size);
        tb_buf_append(esl, owner->b, 16);
        tb_buf_append(esl, data, len);
        return 0;
}

int tb_esl_append_x509(tb_buf *esl, const tb_guid *owner, const uint8_t *der, size_t der_len) {
        return tb_esl_append(esl, &TB_GUID_CERT_X509, owner, der, der_len);
}

int tb_esl_foreach(const uint8_t *data, size_t len, int (*fn)(const tb_esl_entry *e, void *userdata),
                   void *userdata) {
        size_t off = 0;
        int r;

        while (off < len) {
                uint32_t list_size, header_size, sig_size;
                size_t body, pos;
                tb_esl_entry e;

                if (len - off < ESL_HEADER_SIZE)
                        return -EBADMSG;
                memcpy(e.type.b, data + off, 16);
                list_size = tb_get_u32le(data + off + 16);
                header_size = tb_get_u32le(data + off + 20);
                sig_size = tb_get_u32le(data + off + 24);
                if (list_size < ESL_HEADER_SIZE || list_size > len - off)
                        return -EBADMSG;
                if (header_size > list_size - ESL_HEADER_SIZE || sig_size < sizeof(tb_guid))
                        return -EBADMSG;
                body = list_size - ESL_HEADER_SIZE - header_size;
                if (body % sig_size != 0)
                        return -EBADMSG;
                for (pos = off + ESL_HEADER_SIZE + header_size; pos < off + list_size; pos += sig_size) {
                        memcpy(e.owner.b, data + pos, 16);
                        e.data = data + pos + 16;
                        e.len = sig_size - 16;
                        r = fn(&e, userdata);
                        if (r < 0)
                                return r;
                }
                off += list_size;
        }
        return 0;
}

static int efi_time_from_epoch(int64_t epoch, uint8_t out[16]) {
        time_t t = (time_t)epoch;
        struct tm tm;

        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900)
                return -ERANGE;
        memset(out, 0, 16);
        tb_put_u16le(out, (uint16_t)(tm.tm_year + 1900));
        out[2] = (uint8_t)(tm.tm_mon + 1); /* EFI_TIME months are 1-based (sbvarsign gets this wrong) */
        out[3] = (uint8_t)tm.tm_mday;
        out[4] = (uint8_t)tm.tm_hour;
        out[5] = (uint8_t)tm.tm_min;
        out[6] = (uint8_t)tm.tm_sec;
        return 0; /* Pad1, Nanosecond, TimeZone, Daylight, Pad2 stay zero */
}

int tb_auth_signed_buffer(const char *var_name, const tb_guid *vendor, uint32_t attrs, const uint8_t efi_time[16],
                          const uint8_t *payload, size_t payload_len, tb_buf *out) {
        int r = 0;

        /* Variable names here are ASCII (PK, KEK, db, dbx): UTF-16LE is the byte and a zero. */
        for (const char *p = var_name; *p; p++) {
                if ((unsigned char)*p >= 0x80)
                        return -EINVAL;
                r = tb_buf_append_u16le(out, (uint16_t)*p);
                if (r < 0)
                        return r;
        }
        if ((r = tb_buf_append(out, vendor->b, 16)) < 0 || (r = tb_buf_append_u32le(out, attrs)) < 0 ||
            (r = tb_buf_append(out, efi_time, 16)) < 0 || (r = tb_buf_append(out, payload, payload_len)) < 0)
                return r;
        return 0;
}


int tb_auth_build(const char *var_name, const tb_guid *vendor, uint32_t attrs, int64_t epoch, const tb_buf *payload,
                  EVP_PKEY *key, X509 *cert, tb_buf *out) {
        _cleanup_(tb_buf_freep) tb_buf signed_buf = TB_BUF_INIT;
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_(BIO_free_allp) BIO *in = NULL;
        const int flags = PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOATTR | PKCS7_PARTIAL;
        uint8_t efi_time[16];
        unsigned char *der = NULL;
        int der_len, r;

        r = efi_time_from_epoch(epoch, efi_time);
        if (r < 0)
                return r;
        r = tb_auth_signed_buffer(var_name, vendor, attrs, efi_time, payload->data, payload->len, &signed_buf);
        if (r < 0)
                return r;

        in = BIO_new_mem_buf(signed_buf.data, (int)signed_buf.len);
        if (!in)
                return -ENOMEM;
        p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags);
        if (!p7 || !PKCS7_sign_add_signer(p7, cert, key, EVP_sha256(), flags) || !PKCS7_final(p7, in, flags))
                return -EIO;

        /* CertData is the bare SignedData, without the ContentInfo wrapper (as efitools 1.9). */
        der_len = i2d_PKCS7_SIGNED(p7->d.sign, &der);
        if (der_len <= 0)
                return -EIO;

        r = tb_buf_append(out, efi_time, 16);
        if (r >= 0)
                r = tb_buf_append_u32le(out, (uint32_t)(24 + der_len)); /* WIN_CERTIFICATE.dwLength */
        if (r >= 0)
                r = tb_buf_append_u16le(out, WIN_CERT_REVISION);
        if (r >= 0)
                r = tb_buf_append_u16le(out, WIN_CERT_TYPE_EFI_GUID);
        if (r >= 0)
                r = tb_buf_append(out, TB_GUID_CERT_TYPE_PKCS7.b, 16);
        if (r >= 0)
                r = tb_buf_append(out, der, (size_t)der_len);
        if (r >= 0)
                r = tb_buf_append(out, payload->data, payload->len);
        OPENSSL_free(der);
        return r;
}
