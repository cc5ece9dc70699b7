#include "tpm/luks.h"

#include <blkid/blkid.h>
#include <errno.h>
#include <libcryptsetup.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/exec.h"
#include "util/log.h"
#include "util/ossl.h"
#include "util/testhook.h"
#include "measure/tpm2-policy.h"
#include "tpm/luks-token.h"

#define VOLUME_KEY_SIZE 64 /* aes-xts-plain64 with AES-256: two 256-bit keys */
#define TOKENS_MAX 32

TB_DEFINE_CLEANUP(struct crypt_device *, crypt_free)

/* libcryptsetup's messages go to the debug log: we report each failure in one line. */
static void crypt_log_cb(int level, const char *msg, void *userdata) {
        size_t n = strlen(msg);

        (void)level;
        (void)userdata;
        if (n > 0 && msg[n - 1] == '\n')
                n--;
        tb_debug("libcryptsetup: %.*s", (int)n, msg);
}

static int open_device(const char *device, bool load, struct crypt_device **ret) {
        struct crypt_device *cd = NULL;
        int r;

        crypt_set_log_callback(NULL, crypt_log_cb, NULL);
        r = crypt_init(&cd, device);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot open", device);
        crypt_set_log_callback(cd, crypt_log_cb, NULL);
        if (load) {
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
                if (r < 0) {
                        crypt_free(cd);
                        if (r == -EINVAL)
                                tb_err("%s: not a LUKS2 volume", device);
                        else
                                tb_log_errno(r, "%s: cannot read the LUKS2 header", device);
                        return r;
                }
        }
        *ret = cd;
        return 0;
}

/* The keyslot passphrase systemd derives from the unsealed secret: its base64 text. */
static int secret_passphrase(const uint8_t *secret, tb_buf *out) {
        return tb_base64_encode(secret, TB_TPM2_SECRET_SIZE, out);
}

/* A write step of the volume LABEL (test builds: a power loss may happen here). */
static void step(const tb_luks_enroll *e, const char *what) {
        char s[96];

        snprintf(s, sizeof(s), "%s %s", what, e->label ? e->label : "-");
        tb_testhook_step(s);
}

static int run_mkfs(struct crypt_device *cd, const char *device, const uint8_t *vk, const tb_luks_enroll *e) {
        uint8_t b[4];
        char name[64], node[96], prog[64], rnd[2 * sizeof(b) + 1];
        const char *argv[] = { prog, "-q", "-L", e->label, node, NULL };
        int r, k;

        if (RAND_bytes(b, sizeof(b)) != 1)
                return -EIO;
        tb_hex_encode(b, sizeof(b), rnd);
        snprintf(name, sizeof(name), "trustboot-mkfs-%s", rnd);
        snprintf(node, sizeof(node), "/dev/mapper/%s", name);
        snprintf(prog, sizeof(prog), "mkfs.%s", e->mkfs);
        r = crypt_activate_by_volume_key(cd, name, (const char *)vk, VOLUME_KEY_SIZE, 0);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot activate for mkfs (device-mapper)", device);
        step(e, "luks-mkfs");
        r = tb_exec_checked(argv, NULL);
        if (r >= 0 && e->populate) {
                step(e, "luks-populate");
                r = e->populate(node, e->userdata);
        }
        k = crypt_deactivate(cd, name);
        if (r < 0)
                return r;
        if (k < 0)
                return tb_log_errno(k, "%s: cannot deactivate %s", device, name);
        return 0;
}

static int add_recovery_slot(struct crypt_device *cd, const char *device, const uint8_t *vk, const char *key) {
        const struct crypt_pbkdf_type *def = crypt_get_pbkdf_default(CRYPT_LUKS2);
        struct crypt_pbkdf_type pbkdf;
        int r;

        /* A human-typed key: argon2id with libcryptsetup's benchmarked defaults. */
        pbkdf = *def;
        pbkdf.type = CRYPT_KDF_ARGON2ID;
        r = crypt_set_pbkdf_type(cd, &pbkdf);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot set the recovery keyslot's PBKDF", device);
        r = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, (const char *)vk, VOLUME_KEY_SIZE, key, strlen(key));
        if (r < 0)
                return tb_log_errno(r, "%s: cannot add the recovery keyslot", device);
        tb_info("%s: recovery key enrolled in keyslot %d", device, r);
        return 0;
}

/* The mkfs.<fs> name comes from a cloud-config: only a plain type name ("ext4") may pick the
 * program, never a path ("../../tmp/x" would run mkfs.. + a file of the attacker's). */
static bool fs_type_ok(const char *fs) {
        size_t n = strlen(fs);

        if (n == 0 || n > 16)
                return false;
        for (; *fs; fs++)
                if (!((*fs >= 'a' && *fs <= 'z') || (*fs >= '0' && *fs <= '9')))
                        return false;
        return true;
}

/* The systemd-tpm2 tokens of one TPM keyslot: the legacy-primary token first (systemd-cryptsetup
 * 252 tries tokens in order and gives up at the first that fails to load), then the SRK token
 * (systemd >= 254 and trustboot, which try it first). Either may be absent (empty blob). */
static int write_tokens(struct crypt_device *cd, const char *device, const tb_tpm2_sealed *legacy,
                        const tb_tpm2_sealed *srk, int slot) {
        const tb_tpm2_sealed *which[] = { legacy, srk };
        int written = 0;

        for (size_t i = 0; i < ARRAY_SIZE(which); i++) {
                _cleanup_(freep) char *token = NULL;
                int r;

                if (!which[i] || which[i]->blob.len == 0)
                        continue;
                r = tb_luks_token_format(which[i], slot, &token);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot build the systemd-tpm2 token", device);
                r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN, token);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot store the systemd-tpm2 token", device);
                tb_info("%s: TPM2 keyslot %d, systemd-tpm2 token %d (%s)", device, slot, r,
                        i == 0 ? "legacy primary" : "SRK");
                written++;
        }
        if (written == 0) {
                tb_err("%s: no sealed secret to write a systemd-tpm2 token for", device);
                return -EINVAL;
        }
        return 0;
}

/* The KDF of a TPM keyslot. Its passphrase is a 256-bit random secret: a slow KDF would add
 * nothing but boot time. */
static const struct crypt_pbkdf_type tpm_slot_pbkdf = {
        .type = CRYPT_KDF_PBKDF2,
        .hash = "sha512",
        .iterations = 1000,
        .flags = CRYPT_PBKDF_NO_BENCHMARK,
};

int tb_luks_format(const char *device, const tb_luks_enroll *e) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(tb_buf_wipep) tb_buf pass = TB_BUF_INIT;
        struct crypt_params_luks2 params = { .label = e->label, .sector_size = 512 };
        uint8_t vk[VOLUME_KEY_SIZE];
        int r, slot;

        if (e->mkfs && !fs_type_ok(e->mkfs)) {
                tb_err("%s: '%s' is not a file system type (lower-case letters and digits, as in mkfs.ext4)", device,
                       e->mkfs);
                return -EINVAL;
        }
        r = open_device(device, false, &cd);
        if (r < 0)
                return r;
        if (RAND_priv_bytes(vk, sizeof(vk)) != 1) {
                tb_err("cannot generate a volume key");
                return -EIO;
        }
        step(e, "luks-format");
        r = crypt_format(cd, CRYPT_LUKS2, "aes", "xts-plain64", e->uuid, (const char *)vk, sizeof(vk), &params);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot format as LUKS2", device);
                goto out;
        }
        r = crypt_set_pbkdf_type(cd, &tpm_slot_pbkdf);
        if (r >= 0)
                r = secret_passphrase(e->secret, &pass);
        if (r < 0) {
                tb_log_errno(r, "%s: cannot prepare the TPM keyslot", device);
                goto out;
        }
        step(e, "luks-keyslot");
        slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, (const char *)vk, sizeof(vk),
                                               (const char *)pass.data, pass.len);
        if (slot < 0) {
                r = tb_log_errno(slot, "%s: cannot add the TPM keyslot", device);
                goto out;
        }
        step(e, "luks-token");
        r = write_tokens(cd, device, e->sealed, e->sealed_srk, slot);
        if (r < 0)
                goto out;
        if (e->recovery_key) {
                r = add_recovery_slot(cd, device, vk, e->recovery_key);
                if (r < 0)
                        goto out;
        }
        r = e->mkfs ? run_mkfs(cd, device, vk, e) : 0;
out:
        OPENSSL_cleanse(vk, sizeof(vk));
        return r;
}

int tb_luks_recovery_key_generate(char out[TB_LUKS_RECOVERY_KEY_SIZE]) {
        static const char modhex[] = "cbdefghijklnrtuv";
        uint8_t k[32];
        size_t n = 0;

        if (RAND_priv_bytes(k, sizeof(k)) != 1)
                return -EIO;
        for (size_t i = 0; i < sizeof(k); i++) {
                if (i > 0 && i % 4 == 0)
                        out[n++] = '-';
                out[n++] = modhex[k[i] >> 4];
                out[n++] = modhex[k[i] & 15];
        }
        out[n] = 0;
        OPENSSL_cleanse(k, sizeof(k));
        return 0;
}

/* A systemd-tpm2 token, in the order they are tried. */
typedef struct token_ref {
        int id;
        int slot; /* -1: the token does not parse */
        bool srk;
} token_ref;

/* CD's systemd-tpm2 tokens in unseal order: SRK tokens first (nothing DA-protected on their way:
 * they work in lockout and a power cut after them is not counted), then the others, each group
 * in token order. Tokens that do not parse come last (unlock_token() says why it skips them). */
static size_t unseal_order(struct crypt_device *cd, token_ref out[TOKENS_MAX]) {
        size_t n = 0;

        for (int pass = 0; pass < 2; pass++)
                for (int id = 0; id < TOKENS_MAX; id++) {
                        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                        const char *json;
                        int slot = -1;
                        bool srk;

                        if (crypt_token_json_get(cd, id, &json) < 0)
                                continue;
                        if (tb_luks_token_parse(json, strlen(json), &s, &slot) < 0)
                                slot = -1;
                        srk = slot >= 0 && s.srk.len > 0;
                        if (srk != (pass == 0))
                                continue;
                        out[n++] = (token_ref){ .id = id, .slot = slot, .srk = srk };
                }
        return n;
}

/* Whether an SRK token's failure R leaves the legacy token on the same keyslot worth a try: only
 * when the SRK itself failed (missing, another key: -EREMOTE; the TPM refused to load under it:
 * -EIO). Any refusal of this boot's state (policy, signature file, PIN) the legacy token would
 * only repeat — after a dictionary-attack protected load, and with a second error line. */
static bool state_refused(int r) {
        return r != -EREMOTE && r != -EIO;
}

static bool slot_in(uint64_t set, int slot) {
        return slot >= 0 && slot < 64 && (set & (UINT64_C(1) << slot));
}

static void slot_add(uint64_t *set, int slot) {
        if (slot >= 0 && slot < 64)
                *set |= UINT64_C(1) << slot;
}

static int unlock_token(struct crypt_device *cd, const char *device, const char *name, int id, const char *json,
                        tb_tpm2 **tpm, const tb_luks_unlock_params *p) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        _cleanup_(tb_buf_wipep) tb_buf pass = TB_BUF_INIT;
        _cleanup_(tb_secret_freep) char *pin = NULL;
        uint8_t secret[TB_TPM2_SECRET_SIZE];
        int r, slot;

        r = tb_luks_token_parse(json, strlen(json), &s, &slot);
        if (r == -EMEDIUMTYPE)
                return -ENOKEY;
        if (r == -EOPNOTSUPP) {
                tb_warn("%s: token %d: needs a pcrlock policy (or a sharded secret), which trustboot does not support",
                        device, id);
                return -ENOKEY;
        }
        if (r < 0) {
                tb_warn("%s: token %d: malformed systemd-tpm2 token", device, id);
                return -ENOKEY;
        }
        if (!*tpm) {
                r = tb_tpm2_open(p->tpm2_device, tpm);
                if (r < 0)
                        return r;
        }
        if (s.pin) {
                if (!p->get_pin) {
                        tb_err("%s: token %d needs a PIN", device, id);
                        return -EACCES;
                }
                r = p->get_pin(&pin, p->userdata);
                if (r < 0)
                        return r;
        }
        r = tb_tpm2_unseal(*tpm, &s, pin, p->signature_path, secret);
        if (r < 0)
                return r;
        r = secret_passphrase(secret, &pass);
        OPENSSL_cleanse(secret, sizeof(secret));
        if (r < 0)
                return r;
        r = crypt_activate_by_passphrase(cd, name, slot, (const char *)pass.data, pass.len, 0);
        if (r == -EPERM) {
                tb_err("%s: the key unsealed from token %d does not open keyslot %d", device, id, slot);
                return -EKEYREJECTED;
        }
        if (r == -ENOTSUP)
                return tb_log_errno(r, "%s: cannot activate as %s (no device-mapper?)", device, name);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot activate as %s", device, name ? name : "(test)");
        return r;
}

int tb_luks_unlock(const char *device, const char *name, const tb_luks_unlock_params *p) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        token_ref order[TOKENS_MAX];
        uint64_t refused = 0;
        size_t n;
        int r, result = -ENOKEY;

        r = open_device(device, true, &cd);
        if (r < 0)
                return r;
        n = unseal_order(cd, order);
        for (size_t i = 0; i < n; i++) {
                const char *json;

                if (!order[i].srk && slot_in(refused, order[i].slot)) {
                        tb_debug("%s: token %d: keyslot %d's SRK token was refused, the legacy one is not tried",
                                 device, order[i].id, order[i].slot);
                        continue;
                }
                if (crypt_token_json_get(cd, order[i].id, &json) < 0)
                        continue;
                r = unlock_token(cd, device, name, order[i].id, json, &tpm, p);
                if (r >= 0)
                        return r;
                if (r != -ENOKEY)
                        result = r;
                if (order[i].srk && state_refused(r))
                        slot_add(&refused, order[i].slot);
                /* A wrong PIN counts towards the TPM's lockout: do not try it on other tokens. */
                if (r == -EACCES || r == -ENODEV)
                        break;
        }
        if (result == -ENOKEY)
                tb_err("%s: no systemd-tpm2 token", device);
        return result;
}

bool tb_luks_has_tpm2_token(const char *device, char **ret_label) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;

        crypt_set_log_callback(NULL, crypt_log_cb, NULL);
        if (crypt_init(&cd, device) < 0 || crypt_load(cd, CRYPT_LUKS2, NULL) < 0)
                return false;
        for (int id = 0; id < TOKENS_MAX; id++) {
                const char *type;

                if (crypt_token_status(cd, id, &type) == CRYPT_TOKEN_INACTIVE || !type ||
                    strcmp(type, TB_LUKS_TOKEN_TYPE) != 0)
                        continue;
                if (ret_label) {
                        const char *label = crypt_get_label(cd);

                        *ret_label = label && *label ? strdup(label) : NULL;
                }
                return true;
        }
        return false;
}

bool tb_luks_tpm2_srk_covers_all(const char *device) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        uint64_t slots = 0, srk = 0;

        crypt_set_log_callback(NULL, crypt_log_cb, NULL);
        if (crypt_init(&cd, device) < 0 || crypt_load(cd, CRYPT_LUKS2, NULL) < 0)
                return false;
        for (int id = 0; id < TOKENS_MAX; id++) {
                _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                const char *json;
                int slot;

                if (crypt_token_json_get(cd, id, &json) < 0 || tb_luks_token_parse(json, strlen(json), &s, &slot) < 0)
                        continue;
                slot_add(&slots, slot);
                if (s.srk.len > 0)
                        slot_add(&srk, slot);
        }
        return slots != 0 && slots == srk;
}

bool tb_luks_is_active(const char *name) {
        crypt_status_info st = crypt_status(NULL, name);

        return st == CRYPT_ACTIVE || st == CRYPT_BUSY;
}

int tb_luks_foreach_tpm2_volume(tb_luks_volume_fn fn, void *userdata) {
        blkid_cache cache = NULL;
        blkid_dev_iterate it;
        blkid_dev dev;
        int r = 0;

        /* A private cache (no /run/blkid file): always probe what is there now. */
        if (blkid_get_cache(&cache, "/dev/null") < 0)
                return tb_log_oom();
        blkid_probe_all(cache);
        it = blkid_dev_iterate_begin(cache);
        if (!it) {
                blkid_put_cache(cache);
                return tb_log_oom();
        }
        blkid_dev_set_search(it, (char *)"TYPE", (char *)"crypto_LUKS");
        while (r >= 0 && blkid_dev_next(it, &dev) == 0) {
                const char *node = blkid_dev_devname(dev);
                _cleanup_(freep) char *partlabel = NULL, *label = NULL;

                if (!tb_luks_has_tpm2_token(node, &label))
                        continue;
                partlabel = blkid_get_tag_value(cache, "PARTLABEL", node);
                if ((!partlabel || !*partlabel) && !label) {
                        tb_warn("%s: neither a partition name nor a LUKS2 label to map it under, skipped", node);
                        continue;
                }
                r = fn(node, partlabel && *partlabel ? partlabel : label, userdata);
        }
        blkid_dev_iterate_end(it);
        blkid_put_cache(cache);
        return r < 0 ? r : 0;
}

/* ---- PCR key rotation: a second TPM2 keyslot and token (issue 18) ---- */

/* Token ID of CD as a systemd-tpm2 token, parsed into S (and its keyslot into *RET_SLOT, may be
 * NULL): 0; -ENOENT where there is no token or one of another type; the parser's error else. */
static int tpm2_token_get(struct crypt_device *cd, int id, tb_tpm2_sealed *s, int *ret_slot) {
        const char *json;
        int r;

        if (crypt_token_json_get(cd, id, &json) < 0)
                return -ENOENT;
        r = tb_luks_token_parse(json, strlen(json), s, ret_slot);
        return r == -EMEDIUMTYPE ? -ENOENT : r;
}

/* Whether the token S is bound (signed policy) to the PCR public key KEY. */
static bool token_bound_to(const tb_tpm2_sealed *s, EVP_PKEY *key) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;

        return key && s->pubkey_pem.len > 0 && tb_tpm2_pubkey_from_pem(s->pubkey_pem.data, s->pubkey_pem.len, &k) >= 0 &&
               EVP_PKEY_eq(k, key) == 1;
}

/* The volume key, from the first systemd-tpm2 token whose sealed secret the TPM releases now;
 * tokens bound to SKIP (may be NULL) are not tried. */
static int volume_key_from_tpm(struct crypt_device *cd, const tb_luks_unlock_params *p, EVP_PKEY *skip,
                               uint8_t vk[VOLUME_KEY_SIZE]) {
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        token_ref order[TOKENS_MAX];
        uint64_t refused = 0;
        size_t n = unseal_order(cd, order);
        int result = -ENOKEY;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                _cleanup_(tb_buf_wipep) tb_buf pass = TB_BUF_INIT;
                uint8_t secret[TB_TPM2_SECRET_SIZE];
                size_t vk_size = VOLUME_KEY_SIZE;
                int r, slot;

                if (tpm2_token_get(cd, order[i].id, &s, &slot) < 0 || s.pin || token_bound_to(&s, skip))
                        continue; /* PIN tokens: not for an unattended rotation */
                if (!order[i].srk && slot_in(refused, slot))
                        continue;
                if (!tpm && (r = tb_tpm2_open(p->tpm2_device, &tpm)) < 0)
                        return r;
                r = tb_tpm2_unseal(tpm, &s, NULL, p->signature_path, secret);
                if (r < 0) {
                        result = r;
                        if (order[i].srk && state_refused(r))
                                slot_add(&refused, slot);
                        continue;
                }
                r = secret_passphrase(secret, &pass);
                OPENSSL_cleanse(secret, sizeof(secret));
                if (r >= 0)
                        r = crypt_volume_key_get(cd, slot, (char *)vk, &vk_size, (const char *)pass.data, pass.len);
                if (r >= 0 && vk_size == VOLUME_KEY_SIZE)
                        return 0;
                result = r < 0 ? r : -EKEYREJECTED;
        }
        return result;
}

/* After a failed write_tokens(): the tokens it did write for SLOT go with the keyslot. */
static void remove_slot_tokens(struct crypt_device *cd, int slot) {
        for (int id = 0; id < TOKENS_MAX; id++) {
                _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                const char *json;
                int ts;

                if (crypt_token_json_get(cd, id, &json) >= 0 && tb_luks_token_parse(json, strlen(json), &s, &ts) >= 0 &&
                    ts == slot)
                        (void)crypt_token_json_set(cd, id, NULL);
        }
}

int tb_luks_add_tpm2_token(const char *device, const tb_tpm2_sealed *sealed, const tb_tpm2_sealed *sealed_srk,
                           const uint8_t *secret, const tb_luks_unlock_params *p) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(tb_buf_wipep) tb_buf pass = TB_BUF_INIT;
        uint8_t vk[VOLUME_KEY_SIZE];
        int r, slot;

        r = open_device(device, true, &cd);
        if (r < 0)
                return r;
        r = volume_key_from_tpm(cd, p, NULL, vk);
        if (r < 0) {
                if (r == -ENOKEY)
                        tb_err("%s: no systemd-tpm2 token without a PIN to unlock it with", device);
                else
                        tb_log_errno(r, "%s: the TPM does not release its key now (boot with the current PCR key "
                                        "first)", device);
                goto out;
        }
        r = crypt_set_pbkdf_type(cd, &tpm_slot_pbkdf);
        if (r >= 0)
                r = secret_passphrase(secret, &pass);
        if (r < 0)
                goto out;
        slot = crypt_keyslot_add_by_volume_key(cd, CRYPT_ANY_SLOT, (const char *)vk, sizeof(vk),
                                               (const char *)pass.data, pass.len);
        if (slot < 0) {
                r = tb_log_errno(slot, "%s: cannot add the new TPM keyslot", device);
                goto out;
        }
        r = write_tokens(cd, device, sealed, sealed_srk, slot);
        if (r < 0) {
                remove_slot_tokens(cd, slot);
                (void)crypt_keyslot_destroy(cd, slot); /* no keyslot without its token */
                goto out;
        }
out:
        OPENSSL_cleanse(vk, sizeof(vk));
        return r;
}

int tb_luks_format_sealed(tb_tpm2 *tpm, const tb_tpm2_seal_params *seal, const char *device, tb_luks_enroll *e) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed sealed = TB_TPM2_SEALED_INIT, srk = TB_TPM2_SEALED_INIT;
        uint8_t secret[TB_TPM2_SECRET_SIZE];
        int r;

        r = tb_tpm2_seal_pair(tpm, seal, secret, &sealed, &srk);
        if (r >= 0) {
                e->sealed = &sealed;
                e->sealed_srk = &srk;
                e->secret = secret;
                r = tb_luks_format(device, e);
                e->sealed = NULL;
                e->sealed_srk = NULL;
                e->secret = NULL;
        }
        OPENSSL_cleanse(secret, sizeof(secret));
        return r;
}

/* ---- PCR key rotation: the keys a volume is bound to, and the old one removed ---- */

void tb_luks_pcr_keys_done(tb_luks_pcr_keys *k) {
        for (size_t i = 0; i < k->n; i++)
                tb_buf_free(&k->pem[i]);
        free(k->pem);
        *k = (tb_luks_pcr_keys){};
}

int tb_luks_tpm2_pcr_keys(const char *device, tb_luks_pcr_keys *ret) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        bool any = false;
        int r;

        r = open_device(device, true, &cd);
        if (r < 0)
                return r;
        for (int id = 0; id < TOKENS_MAX; id++) {
                _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
                bool seen = false;
                tb_buf *n;

                r = tpm2_token_get(cd, id, &s, NULL);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return tb_log_errno(r, "%s: token %d: cannot parse", device, id);
                any = true;
                if (s.pubkey_pem.len == 0)
                        continue;
                if (tb_tpm2_pubkey_from_pem(s.pubkey_pem.data, s.pubkey_pem.len, &key) < 0) {
                        tb_err("%s: token %d: its tpm2_pubkey is not a public key", device, id);
                        return -EBADMSG;
                }
                for (size_t i = 0; i < ret->n && !seen; i++) {
                        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
                        seen = tb_tpm2_pubkey_from_pem(ret->pem[i].data, ret->pem[i].len, &k) >= 0 &&
                               EVP_PKEY_eq(k, key) == 1;
                }
                if (seen)
                        continue;
                n = realloc(ret->pem, (ret->n + 1) * sizeof(*n));
                if (!n)
                        return tb_log_oom();
                ret->pem = n;
                ret->pem[ret->n] = (tb_buf)TB_BUF_INIT;
                r = tb_buf_append(&ret->pem[ret->n], s.pubkey_pem.data, s.pubkey_pem.len);
                ret->n++;
                if (r < 0)
                        return r;
        }
        if (!any) {
                tb_err("%s: no systemd-tpm2 token", device);
                return -ENOKEY;
        }
        return 0;
}

int tb_luks_remove_tpm2_pcr_key(const char *device, const uint8_t *old_pem, size_t old_len,
                                const tb_luks_unlock_params *p) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *old = NULL;
        uint8_t vk[VOLUME_KEY_SIZE];
        int r, removed = 0, ids[TOKENS_MAX], slots[TOKENS_MAX], n = 0;

        r = tb_tpm2_pubkey_from_pem(old_pem, old_len, &old);
        if (r < 0)
                return r;
        r = open_device(device, true, &cd);
        if (r < 0)
                return r;
        for (int id = 0; id < TOKENS_MAX; id++) {
                _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                int slot;

                if (tpm2_token_get(cd, id, &s, &slot) < 0)
                        continue;
                if (token_bound_to(&s, old)) {
                        ids[n] = id;
                        slots[n++] = slot;
                }
        }
        if (n == 0) {
                tb_err("%s: no systemd-tpm2 token is bound to that PCR key", device);
                return -ENOENT;
        }
        /* The proof that the volume keeps unlocking: another token releases the key now (on a
         * boot of a UKI whose policy the new PCR key signed). */
        {
                /* The unseal's own failure would be a second error line: the one below says it all. */
                enum tb_log_level level = tb_log_get_level();
                if (level < TB_LOG_DEBUG)
                        tb_log_set_level(TB_LOG_QUIET);
                r = volume_key_from_tpm(cd, p, old, vk);
                tb_log_set_level(level);
        }
        OPENSSL_cleanse(vk, sizeof(vk));
        if (r < 0) {
                if (r == -ENOKEY)
                        tb_err("%s: no other systemd-tpm2 token (without a PIN) would be left: not removing the "
                               "only TPM2 key", device);
                else
                        tb_err("%s: no other systemd-tpm2 token unseals now: boot a UKI signed with the new PCR key "
                               "first (the old key's token stays)", device);
                return -EKEYREJECTED;
        }
        /* Tokens first: a keyslot left without its token if we stop here is only dead weight, a
         * token naming a destroyed keyslot would be tried at every boot. The legacy and the SRK token
         * of one secret share a keyslot: it goes once both are gone. */
        for (int i = 0; i < n; i++) {
                r = crypt_token_json_set(cd, ids[i], NULL);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot remove systemd-tpm2 token %d", device, ids[i]);
                tb_info("%s: removed systemd-tpm2 token %d (the old PCR key)", device, ids[i]);
                removed++;
        }
        for (int i = 0; i < n; i++) {
                bool done = false;

                for (int j = 0; j < i; j++)
                        done |= slots[j] == slots[i];
                if (done)
                        continue;
                r = crypt_keyslot_destroy(cd, slots[i]);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot remove keyslot %d (its tokens are gone)", device, slots[i]);
                tb_info("%s: removed keyslot %d (the old PCR key)", device, slots[i]);
        }
        return removed;
}
