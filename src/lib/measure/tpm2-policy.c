#include "measure/tpm2-policy.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "util/codec.h"
#include "util/json.h"
#include "util/macro.h"
#include "util/ossl.h"

static const struct {
        const char *name;
        uint16_t alg;
        size_t size;
} banks[] = {
        { "sha1", TPM2_ALG_SHA1, 20 },
        { "sha256", TPM2_ALG_SHA256, 32 },
        { "sha384", TPM2_ALG_SHA384, 48 },
        { "sha512", TPM2_ALG_SHA512, 64 },
};

const char *tb_tpm2_bank_name(uint16_t alg) {
        for (size_t i = 0; i < ARRAY_SIZE(banks); i++)
                if (banks[i].alg == alg)
                        return banks[i].name;
        return NULL;
}

int tb_tpm2_bank_from_name(const char *name, uint16_t *ret) {
        for (size_t i = 0; i < ARRAY_SIZE(banks); i++)
                if (strcmp(banks[i].name, name) == 0) {
                        *ret = banks[i].alg;
                        return 0;
                }
        return -EINVAL;
}

size_t tb_tpm2_bank_size(uint16_t alg) {
        for (size_t i = 0; i < ARRAY_SIZE(banks); i++)
                if (banks[i].alg == alg)
                        return banks[i].size;
        return 0;
}

int tb_tpm2_pcr_mask_parse(const char *s, uint32_t *ret) {
        uint32_t mask = 0;

        while (*s) {
                unsigned v = 0;
                int digits = 0;

                for (; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
                        v = v * 10 + (unsigned)(*s - '0');
                if (digits == 0 || v >= TB_TPM2_PCRS)
                        return -EINVAL;
                mask |= UINT32_C(1) << v;
                if (*s == '+' || *s == ',') {
                        s++;
                        if (!*s)
                                return -EINVAL;
                } else if (*s)
                        return -EINVAL;
        }
        *ret = mask;
        return 0;
}

int tb_tpm2_pubkey_from_pem(const uint8_t *pem, size_t len, EVP_PKEY **ret) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        EVP_PKEY *key;

        if (len > INT32_MAX)
                return -EFBIG;
        bio = BIO_new_mem_buf(pem, (int)len);
        if (!bio)
                return -ENOMEM;
        key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!key) {
                tb_ossl_drain_errors("PCR public key");
                return -EBADMSG;
        }
        /* systemd 252 can only verify RSASSA signatures at unlock. */
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
                EVP_PKEY_free(key);
                return -EBADMSG;
        }
        *ret = key;
        return 0;
}

int tb_tpm2_pubkey_to_public(EVP_PKEY *key, TPM2B_PUBLIC *ret) {
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        TPMT_PUBLIC *p = &ret->publicArea;
        int nlen;

        if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) ||
            !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e)) {
                tb_ossl_drain_errors("PCR public key");
                return -EBADMSG;
        }
        nlen = BN_num_bytes(n);
        if (nlen <= 0 || nlen > TPM2_MAX_RSA_KEY_BYTES || BN_num_bits(e) > 32)
                return -EBADMSG;

        memset(ret, 0, sizeof(*ret));
        p->type = TPM2_ALG_RSA;
        p->nameAlg = TPM2_ALG_SHA256;
        p->objectAttributes = TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)(nlen * 8);
        /* The real exponent, never the "0 means 65537" shorthand: it is part of the Name. */
        p->parameters.rsaDetail.exponent = (UINT32)BN_get_word(e);
        p->unique.rsa.size = (UINT16)nlen;
        BN_bn2bin(n, p->unique.rsa.buffer);
        return 0;
}

int tb_tpm2_public_name(const TPM2B_PUBLIC *pub, uint8_t name[TB_TPM2_NAME_SIZE]) {
        uint8_t buf[sizeof(TPMT_PUBLIC)];
        size_t off = 0;

        if (pub->publicArea.nameAlg != TPM2_ALG_SHA256 ||
            Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        name[0] = TPM2_ALG_SHA256 >> 8;
        name[1] = TPM2_ALG_SHA256 & 0xff;
        SHA256(buf, off, name + 2);
        return 0;
}

static void put_u32be(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

void tb_tpm2_policy_authorize(uint8_t d[TB_TPM2_DIGEST_SIZE], const uint8_t name[TB_TPM2_NAME_SIZE]) {
        uint8_t in[TB_TPM2_DIGEST_SIZE + 4 + TB_TPM2_NAME_SIZE];

        /* PolicyAuthorize replaces whatever came before: the approved policy stands for it. */
        memset(in, 0, TB_TPM2_DIGEST_SIZE);
        put_u32be(in + TB_TPM2_DIGEST_SIZE, TPM2_CC_PolicyAuthorize);
        memcpy(in + TB_TPM2_DIGEST_SIZE + 4, name, TB_TPM2_NAME_SIZE);
        SHA256(in, sizeof(in), d);
        /* second extend with the (empty) policyRef */
        SHA256(d, TB_TPM2_DIGEST_SIZE, d);
}

void tb_tpm2_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *ret) {
        memset(ret, 0, sizeof(*ret));
        ret->count = 1;
        ret->pcrSelections[0].hash = bank;
        ret->pcrSelections[0].sizeofSelect = 3;
        for (unsigned i = 0; i < TB_TPM2_PCRS; i++)
                if (mask & (UINT32_C(1) << i))
                        ret->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

int tb_tpm2_policy_pcr(uint8_t d[TB_TPM2_DIGEST_SIZE], uint16_t bank, uint32_t mask, const uint8_t *values,
                       size_t len) {
        size_t size = tb_tpm2_bank_size(bank);
        uint8_t sel[sizeof(TPML_PCR_SELECTION)], in[TB_TPM2_DIGEST_SIZE + 4 + sizeof(sel) + TB_TPM2_DIGEST_SIZE];
        TPML_PCR_SELECTION s;
        size_t off = 0;

        if (size == 0 || len != size * (size_t)__builtin_popcount(mask))
                return -EINVAL;
        tb_tpm2_pcr_selection(bank, mask, &s);
        if (Tss2_MU_TPML_PCR_SELECTION_Marshal(&s, sel, sizeof(sel), &off) != TSS2_RC_SUCCESS)
                return -EINVAL;

        memcpy(in, d, TB_TPM2_DIGEST_SIZE);
        put_u32be(in + TB_TPM2_DIGEST_SIZE, TPM2_CC_PolicyPCR);
        memcpy(in + TB_TPM2_DIGEST_SIZE + 4, sel, off);
        SHA256(values, len, in + TB_TPM2_DIGEST_SIZE + 4 + off);
        SHA256(in, TB_TPM2_DIGEST_SIZE + 4 + off + TB_TPM2_DIGEST_SIZE, d);
        return 0;
}

void tb_tpm2_policy_auth_value(uint8_t d[TB_TPM2_DIGEST_SIZE]) {
        uint8_t in[TB_TPM2_DIGEST_SIZE + 4];

        memcpy(in, d, TB_TPM2_DIGEST_SIZE);
        put_u32be(in + TB_TPM2_DIGEST_SIZE, TPM2_CC_PolicyAuthValue);
        SHA256(in, sizeof(in), d);
}

void tb_tpm2_pin_auth_value(const char *pin, uint8_t out[TB_TPM2_DIGEST_SIZE]) {
        SHA256((const uint8_t *)pin, strlen(pin), out);
}

int tb_tpm2_pin_auth_value_salted(const char *pin, const uint8_t *salt, size_t salt_len,
                                  uint8_t out[TB_TPM2_DIGEST_SIZE]) {
        uint8_t k[TB_TPM2_DIGEST_SIZE];
        tb_buf b64 = TB_BUF_INIT;
        int r;

        if (salt_len > INT32_MAX || strlen(pin) > INT32_MAX)
                return -EINVAL;
        if (!PKCS5_PBKDF2_HMAC(pin, (int)strlen(pin), salt, (int)salt_len, 10000, EVP_sha256(), sizeof(k), k))
                return -EIO;
        r = tb_base64_encode(k, sizeof(k), &b64);
        OPENSSL_cleanse(k, sizeof(k));
        if (r < 0)
                return r;
        SHA256(b64.data, b64.len, out);
        tb_buf_wipe(&b64);
        return 0;
}

int tb_tpm2_pcr_mask_from_json(json_object *a, uint32_t *ret) {
        uint32_t mask = 0;

        if (!json_object_is_type(a, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *v = json_object_array_get_idx(a, i);
                int64_t n;

                if (!json_object_is_type(v, json_type_int))
                        return -EBADMSG;
                n = json_object_get_int64(v);
                if (n < 0 || n >= TB_TPM2_PCRS)
                        return -EBADMSG;
                mask |= UINT32_C(1) << n;
        }
        *ret = mask;
        return 0;
}

static const char *string_field(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int tb_tpm2_find_signature(const char *json, size_t len, uint16_t bank, uint32_t mask, const char *pkfp,
                           const uint8_t pol[TB_TPM2_DIGEST_SIZE], tb_buf *sig) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_tokener *tok;
        const char *bank_name = tb_tpm2_bank_name(bank);
        json_object *entries;
        char pol_hex[2 * TB_TPM2_DIGEST_SIZE + 1];

        if (!bank_name || len > INT32_MAX)
                return -EINVAL;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, json, (int)len);
        if (root && json_tokener_get_error(tok) == json_tokener_success) {
                size_t end = json_tokener_get_parse_end(tok);

                /* trailing whitespace (the newline systemd-measure prints) only */
                while (end < len && json[end] && strchr(" \t\r\n", json[end]))
                        end++;
                if (end != len) {
                        json_object_put(root);
                        root = NULL;
                }
        }
        json_tokener_free(tok);
        if (!root || !json_object_is_type(root, json_type_object))
                return -EBADMSG;
        if (!json_object_object_get_ex(root, bank_name, &entries))
                return -ENXIO;
        if (!json_object_is_type(entries, json_type_array))
                return -EBADMSG;

        tb_hex_encode(pol, TB_TPM2_DIGEST_SIZE, pol_hex);
        for (size_t i = 0; i < json_object_array_length(entries); i++) {
                json_object *e = json_object_array_get_idx(entries, i), *pcrs;
                const char *fp, *p, *s;
                uint32_t m;

                if (!json_object_is_type(e, json_type_object))
                        return -EBADMSG;
                if (!json_object_object_get_ex(e, "pcrs", &pcrs) || tb_tpm2_pcr_mask_from_json(pcrs, &m) < 0 || m != mask)
                        continue;
                /* Like systemd, an entry without a fingerprint is taken as from any key. */
                fp = string_field(e, "pkfp");
                if (json_object_object_get_ex(e, "pkfp", NULL) && (!fp || strcasecmp(fp, pkfp) != 0))
                        continue;
                p = string_field(e, "pol");
                if (!p || strcasecmp(p, pol_hex) != 0)
                        continue;
                s = string_field(e, "sig");
                if (!s)
                        return -EBADMSG;
                return tb_base64_decode(s, strlen(s), sig) < 0 ? -EBADMSG : 0;
        }
        return -ENXIO;
}
