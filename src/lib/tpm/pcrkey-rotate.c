/* pcrkey-rotate.c — PCR key rotation on a node's volumes (see pcrkey-rotate.h). */
#include "tpm/pcrkey-rotate.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdbool.h>

#include "measure/tpm2-policy.h"
#include "tpm/luks.h"
#include "tpm/tpm2.h"
#include "util/log.h"
#include "util/ossl.h"

struct ctx {
        const tb_pcrkey_rotate *o;
        EVP_PKEY *key;
        bool all;
        int seen, done;
};

/* Whether DEVICE has a systemd-tpm2 token bound to KEY: 1, 0, or a negative error (logged). */
static int bound_to(const char *device, EVP_PKEY *key) {
        _cleanup_(tb_luks_pcr_keys_done) tb_luks_pcr_keys keys = {};
        int r = tb_luks_tpm2_pcr_keys(device, &keys);

        if (r < 0)
                return r;
        for (size_t i = 0; i < keys.n; i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
                if (tb_tpm2_pubkey_from_pem(keys.pem[i].data, keys.pem[i].len, &k) >= 0 && EVP_PKEY_eq(k, key) == 1)
                        return 1;
        }
        return 0;
}

static int add_one(const char *device, const char *name, void *userdata) {
        struct ctx *c = userdata;
        const tb_pcrkey_rotate *o = c->o;
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed sealed = TB_TPM2_SEALED_INIT, srk = TB_TPM2_SEALED_INIT;
        uint8_t secret[TB_TPM2_SECRET_SIZE];
        tb_luks_unlock_params up = { .tpm2_device = o->tpm2_device, .signature_path = o->signature };
        tb_tpm2_seal_params sp = {
                .pubkey_pcr_mask = o->pubkey_pcr_mask ? o->pubkey_pcr_mask : UINT32_C(1) << 11,
                .pubkey_pem = o->pem,
                .pubkey_pem_len = o->pem_len,
        };
        int r;

        (void)name;
        c->seen++;
        if (!tb_luks_has_tpm2_token(device, NULL)) {
                tb_err("%s: not a LUKS2 volume with a systemd-tpm2 token", device);
                return -EMEDIUMTYPE;
        }
        r = bound_to(device, c->key);
        if (r < 0)
                return r;
        if (r > 0) {
                tb_info("%s: already bound to %s, left as it is", device, o->pem_name);
                return 0;
        }
        r = tb_tpm2_open(o->tpm2_device, &tpm);
        if (r < 0)
                return r;
        r = tb_tpm2_seal_pair(tpm, &sp, secret, &sealed, &srk);
        tb_tpm2_free(tpm); /* the unseal opens its own context */
        tpm = NULL;
        if (r >= 0)
                r = tb_luks_add_tpm2_token(device, &sealed, &srk, secret, &up);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (r < 0)
                return r;
        c->done++;
        return 0;
}

static int remove_one(const char *device, const char *name, void *userdata) {
        struct ctx *c = userdata;
        const tb_pcrkey_rotate *o = c->o;
        tb_luks_unlock_params up = { .tpm2_device = o->tpm2_device, .signature_path = o->signature };
        int r;

        (void)name;
        c->seen++;
        if (c->all) {
                r = bound_to(device, c->key);
                if (r < 0)
                        return r;
                if (r == 0) {
                        tb_info("%s: not bound to %s, left as it is", device, o->pem_name);
                        return 0;
                }
        }
        r = tb_luks_remove_tpm2_pcr_key(device, o->pem, o->pem_len, &up);
        if (r < 0)
                return r;
        c->done++;
        return 0;
}

static int run(const tb_pcrkey_rotate *o, tb_luks_volume_fn fn) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        struct ctx c = { .o = o, .all = !o->device };
        int r;

        if (tb_tpm2_pubkey_from_pem(o->pem, o->pem_len, &key) < 0) {
                tb_err("%s: not an RSA public key in PEM format", o->pem_name);
                return -EBADMSG;
        }
        c.key = key;
        r = o->device ? fn(o->device, NULL, &c) : tb_luks_foreach_tpm2_volume(fn, &c);
        if (r < 0)
                return r;
        if (c.seen == 0) {
                tb_err("no LUKS2 volume with a systemd-tpm2 token on this machine");
                return -ENOENT;
        }
        return c.done;
}

int tb_pcrkey_add(const tb_pcrkey_rotate *o) {
        return run(o, add_one);
}

int tb_pcrkey_remove(const tb_pcrkey_rotate *o) {
        return run(o, remove_one);
}
