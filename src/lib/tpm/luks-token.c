#include "tpm/luks-token.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/json.h"
#include "util/log.h"

static int add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return tb_log_oom();
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return tb_log_oom();
        }
        return 0;
}

static json_object *base64_string(const uint8_t *data, size_t len) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

        if (tb_base64_encode(data, len, &b) < 0)
                return NULL;
        return json_object_new_string_len((const char *)b.data, (int)b.len);
}

static json_object *pcr_array(uint32_t mask) {
        json_object *a = json_object_new_array();

        for (int i = 0; a && i < TB_TPM2_PCRS; i++)
                if ((mask & (UINT32_C(1) << i)) && json_object_array_add(a, json_object_new_int(i)) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

int tb_luks_token_format(const tb_tpm2_sealed *s, int keyslot, char **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *slots;
        char slot[16], hash[2 * TB_TPM2_DIGEST_SIZE + 1];
        const char *bank = tb_tpm2_bank_name(s->bank), *text;
        int r;

        if (!bank || (s->primary_alg != TPM2_ALG_ECC && s->primary_alg != TPM2_ALG_RSA) || keyslot < 0)
                return -EINVAL;
        snprintf(slot, sizeof(slot), "%d", keyslot);
        o = json_object_new_object();
        slots = json_object_new_array();
        if (!o || !slots || json_object_array_add(slots, json_object_new_string(slot)) < 0) {
                json_object_put(slots);
                return tb_log_oom();
        }
        tb_hex_encode(s->policy_hash, sizeof(s->policy_hash), hash);
        /* Key order as systemd 252 writes it (libcryptsetup keeps it). */
        if ((r = add(o, "type", json_object_new_string(TB_LUKS_TOKEN_TYPE))) < 0 ||
            (r = add(o, "keyslots", slots)) < 0 ||
            (r = add(o, "tpm2-blob", base64_string(s->blob.data, s->blob.len))) < 0 ||
            (r = add(o, "tpm2-pcrs", pcr_array(s->pcr_mask))) < 0 ||
            (r = add(o, "tpm2-pcr-bank", json_object_new_string(bank))) < 0 ||
            (r = add(o, "tpm2-primary-alg", json_object_new_string(s->primary_alg == TPM2_ALG_ECC ? "ecc" : "rsa"))) < 0 ||
            (r = add(o, "tpm2-policy-hash", json_object_new_string(hash))) < 0)
                return r;
        /* 252 always writes tpm2-pin; 254+ (the SRK tokens) only when true. */
        if ((s->pin || s->srk.len == 0) && (r = add(o, "tpm2-pin", json_object_new_boolean(s->pin))) < 0)
                return r;
        if (s->pubkey_pcr_mask) {
                if ((r = add(o, "tpm2_pubkey_pcrs", pcr_array(s->pubkey_pcr_mask))) < 0 ||
                    (r = add(o, "tpm2_pubkey", base64_string(s->pubkey_pem.data, s->pubkey_pem.len))) < 0)
                        return r;
        }
        if (s->salt.len > 0 && (r = add(o, "tpm2_salt", base64_string(s->salt.data, s->salt.len))) < 0)
                return r;
        if (s->srk.len > 0 && (r = add(o, "tpm2_srk", base64_string(s->srk.data, s->srk.len))) < 0)
                return r;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text || !(*ret = strdup(text)))
                return tb_log_oom();
        return 0;
}

static int get(json_object *o, const char *key, json_type type, json_object **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -ENOENT;
        if (!json_object_is_type(v, type))
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int get_base64(json_object *o, const char *key, tb_buf *out) {
        json_object *v;
        int r;

        r = get(o, key, json_type_string, &v);
        if (r < 0)
                return r;
        r = tb_base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), out);
        return r < 0 ? -EBADMSG : 0;
}

/* "tpm2-blob" and "tpm2-policy-hash" are a string, or since 256 an array of them with one entry per
 * shard of a split secret. systemd splits only for pcrlock + a signed policy together, which we refuse
 * anyway: an array of one is the string, more is -EOPNOTSUPP. */
static int get_shard(json_object *o, const char *key, json_object **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -ENOENT;
        if (json_object_is_type(v, json_type_array)) {
                if (json_object_array_length(v) == 0)
                        return -EBADMSG;
                if (json_object_array_length(v) > 1)
                        return -EOPNOTSUPP;
                v = json_object_array_get_idx(v, 0);
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_keyslot(json_object *o, int *ret) {
        json_object *a, *v;
        const char *s;
        char *end;
        long n;

        if (get(o, "keyslots", json_type_array, &a) < 0 || json_object_array_length(a) < 1)
                return -EBADMSG;
        v = json_object_array_get_idx(a, 0);
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        s = json_object_get_string(v);
        errno = 0;
        n = strtol(s, &end, 10);
        if (errno || end == s || *end || n < 0 || n > 1023)
                return -EBADMSG;
        *ret = (int)n;
        return 0;
}

int tb_luks_token_parse(const char *json, size_t len, tb_tpm2_sealed *ret, int *ret_keyslot) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_tokener *tok;
        json_object *v;
        int keyslot, r;

        if (len > INT32_MAX)
                return -EBADMSG;
        tok = json_tokener_new();
        if (!tok)
                return tb_log_oom();
        o = json_tokener_parse_ex(tok, json, (int)len);
        if (o && (json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len)) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;

        if (get(o, "type", json_type_string, &v) < 0 || strcmp(json_object_get_string(v), TB_LUKS_TOKEN_TYPE) != 0)
                return -EMEDIUMTYPE;
        if (get(o, "tpm2_pcrlock", json_type_boolean, &v) == 0 && json_object_get_boolean(v))
                return -EOPNOTSUPP;
        if (parse_keyslot(o, &keyslot) < 0)
                return -EBADMSG;

        r = get_shard(o, "tpm2-blob", &v);
        if (r < 0)
                return r == -ENOENT ? -EBADMSG : r;
        if (tb_base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &ret->blob) < 0 ||
            ret->blob.len == 0)
                return -EBADMSG;
        r = get(o, "tpm2-pcrs", json_type_array, &v);
        if (r == -EBADMSG || (r == 0 && tb_tpm2_pcr_mask_from_json(v, &ret->pcr_mask) < 0))
                return -EBADMSG;
        /* Tokens before systemd 250 had no bank field and were always SHA-256. */
        ret->bank = TPM2_ALG_SHA256;
        r = get(o, "tpm2-pcr-bank", json_type_string, &v);
        if (r == -EBADMSG || (r == 0 && tb_tpm2_bank_from_name(json_object_get_string(v), &ret->bank) < 0))
                return -EBADMSG;
        ret->primary_alg = TPM2_ALG_ECC;
        r = get(o, "tpm2-primary-alg", json_type_string, &v);
        if (r == -EBADMSG)
                return r;
        if (r == 0) {
                const char *a = json_object_get_string(v);

                if (strcmp(a, "rsa") == 0)
                        ret->primary_alg = TPM2_ALG_RSA;
                else if (strcmp(a, "ecc") != 0)
                        return -EBADMSG;
        }
        r = get_shard(o, "tpm2-policy-hash", &v);
        if (r == -EOPNOTSUPP)
                return r;
        if (r < 0 || tb_hex_decode(json_object_get_string(v), ret->policy_hash, sizeof(ret->policy_hash)) < 0)
                return -EBADMSG;
        r = get(o, "tpm2-pin", json_type_boolean, &v);
        if (r == -EBADMSG)
                return r;
        ret->pin = r == 0 && json_object_get_boolean(v);

        r = get(o, "tpm2_pubkey_pcrs", json_type_array, &v);
        if (r == -EBADMSG || (r == 0 && tb_tpm2_pcr_mask_from_json(v, &ret->pubkey_pcr_mask) < 0))
                return -EBADMSG;
        r = get_base64(o, "tpm2_pubkey", &ret->pubkey_pem);
        if (r == -EBADMSG || (ret->pubkey_pcr_mask && ret->pubkey_pem.len == 0))
                return -EBADMSG;
        r = get_base64(o, "tpm2_salt", &ret->salt);
        if (r == -EBADMSG)
                return r;
        r = get_base64(o, "tpm2_srk", &ret->srk);
        if (r == -EBADMSG || (r == 0 && ret->srk.len == 0))
                return -EBADMSG;

        if (ret_keyslot)
                *ret_keyslot = keyslot;
        return 0;
}
