/* upgrade-pcrkey.c — the PCR key a new UKI must carry (see upgrade-pcrkey.h). */
#include "node/upgrade-pcrkey.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <string.h>

#include "util/codec.h"
#include "util/json.h"
#include "util/log.h"
#include "tpm/luks.h"
#include "util/ossl.h"
#include "measure/pcr.h"

#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))

static int pe_pcrpkey(const tb_pe *pe, EVP_PKEY **ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        const tb_pe_section *s = tb_pe_find_section(pe, ".pcrpkey");
        int r;

        if (!s)
                return -ENOENT;
        r = tb_pe_section_read(pe, s, 64 << 10, &b);
        if (r < 0)
                return r;
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        if (!bio)
                return tb_log_oom();
        *ret = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!*ret) {
                tb_ossl_drain_errors(".pcrpkey");
                return -EBADMSG;
        }
        return 0;
}

int tb_upgrade_pcrkey_expect(const tb_pe *pe, uint8_t ret_pol[32]) {
        return tb_upgrade_pcrkey_expect_profile(pe, 0, ret_pol);
}

int tb_upgrade_pcrkey_expect_profile(const tb_pe *pe, unsigned profile, uint8_t ret_pol[32]) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
        tb_digests d;
        int gen = tb_stub_gen_from_pe(pe), r;

        if (gen < 0)
                return REFUSE(-EKEYREJECTED,
                              "%s: no systemd-stub version in .sdmagic or .sbat: cannot predict its PCR 11, the "
                              "disks might not unlock after reboot", tb_pe_name(pe));
        r = tb_pcr11_new(TB_BANK_BIT(TB_BANK_SHA256), (enum tb_stub_gen)gen, &p);
        if (r >= 0)
                r = tb_pcr11_set_from_pe_profile(p, pe, profile); /* the sections as this stub will find them */
        if (r >= 0)
                r = tb_pcr11_value(p, TB_UPGRADE_PCR_PHASE, &d);
        if (r >= 0)
                r = tb_pcr_policy_digest(TB_BANK_SHA256, d.d[TB_BANK_SHA256], ret_pol);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot predict the PCR 11 of its profile %u", tb_pe_name(pe), profile);
        return 0;
}

/* The section NAME the stub uses for PROFILE of a multi-profile UKI (257+): the first in the
 * profile's range (from its .profile to the next), else the first in the base (before the first
 * .profile); without .profile sections, the first in the file. NULL if none. */
static const tb_pe_section *profile_section(const tb_pe *pe, unsigned profile, const char *name) {
        size_t first, start, end;

        tb_uki_profile_range(pe, profile, &first, &start, &end);
        for (size_t i = start; i < end; i++)
                if (strcmp(tb_pe_section_at(pe, i)->name, name) == 0)
                        return tb_pe_section_at(pe, i);
        for (size_t i = 0; i < first; i++)
                if (strcmp(tb_pe_section_at(pe, i)->name, name) == 0)
                        return tb_pe_section_at(pe, i);
        return NULL;
}

/* The string member KEY of entry E, or NULL if absent or of another type. */
static const char *member_string(struct json_object *e, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(e, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* "pcrs": an array of integers 0–23; *RET_ONLY11: it is exactly [11], the mask the disks use. */
static bool pcrs_valid(struct json_object *e, bool *ret_only11) {
        struct json_object *a;
        size_t n;

        if (!json_object_object_get_ex(e, "pcrs", &a) || !json_object_is_type(a, json_type_array))
                return false;
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_array_get_idx(a, i);
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                    json_object_get_int64(v) > 23)
                        return false;
        }
        *ret_only11 = n == 1 && json_object_get_int64(json_object_array_get_idx(a, 0)) == TB_PCR_KERNEL_BOOT;
        return true;
}

/* Every entry of .pcrsig names KEY (pkfp) and its signature over the policy verifies with KEY —
 * what systemd-cryptsetup checks at unlock before it asks the TPM — and one sha256 entry for
 * PCR 11 alone is the policy of the UKI's own PCR 11 (WANT_POL), or the TPM refuses to unseal.
 * Every member is type-checked: the section comes from the new medium. */
static int check_pcrsig_profile(const tb_pe *pe, unsigned profile, EVP_PKEY *key, const uint8_t *want) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        const tb_pe_section *s = profile_section(pe, profile, ".pcrsig");
        uint8_t fp[32], want_pol[32];
        size_t n_checked = 0;
        bool own = false;
        int r;

        if (!s)
                return REFUSE(-EKEYREJECTED, "%s: no .pcrsig section: the disks would not unlock after reboot",
                              tb_pe_name(pe));
        r = tb_pe_section_read(pe, s, 1 << 20, &b);
        if (r < 0 || tb_buf_append_zero(&b, 1) < 0)
                return r < 0 ? r : -ENOMEM;
        if (memchr(b.data, '\0', b.len - 1))
                return REFUSE(-EBADMSG, "%s: .pcrsig holds a NUL byte", tb_pe_name(pe));
        root = json_tokener_parse((const char *)b.data);
        if (!root || !json_object_is_type(root, json_type_object))
                return REFUSE(-EBADMSG, "%s: .pcrsig is not a JSON object", tb_pe_name(pe));
        if (want)
                memcpy(want_pol, want, 32);
        else if ((r = tb_upgrade_pcrkey_expect_profile(pe, profile, want_pol)) < 0)
                return r;
        r = tb_pcr_pkfp(key, fp);
        if (r < 0)
                return r;
        json_object_object_foreach(root, bank_name, arr) {
                int bank = tb_bank_from_string(bank_name);
                if (bank < 0 || !json_object_is_type(arr, json_type_array))
                        return REFUSE(-EBADMSG, "%s: .pcrsig: unexpected member \"%s\"", tb_pe_name(pe), bank_name);
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        struct json_object *e = json_object_array_get_idx(arr, i);
                        _cleanup_(tb_buf_freep) tb_buf sigb = TB_BUF_INIT;
                        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
                        EVP_PKEY_CTX *pctx = NULL;
                        uint8_t efp[32], epol[32];
                        const char *pkfp, *pol, *sig;
                        bool only11 = false;

                        if (!c)
                                return tb_log_oom();
                        if (!json_object_is_type(e, json_type_object) || !pcrs_valid(e, &only11) ||
                            !(pkfp = member_string(e, "pkfp")) || !(pol = member_string(e, "pol")) ||
                            !(sig = member_string(e, "sig")) || strlen(pkfp) != 64 || strlen(pol) != 64 ||
                            tb_hex_decode(pkfp, efp, 32) < 0 || tb_hex_decode(pol, epol, 32) < 0 ||
                            tb_base64_decode(sig, strlen(sig), &sigb) < 0 || sigb.len == 0)
                                return REFUSE(-EBADMSG,
                                              "%s: .pcrsig: %s entry %zu is malformed (wants \"pcrs\" integers, "
                                              "\"pkfp\" and \"pol\" 64 hex digits, \"sig\" base64)",
                                              tb_pe_name(pe), bank_name, i);
                        if (memcmp(efp, fp, 32) != 0)
                                return REFUSE(-EKEYREJECTED,
                                              "%s: its PCR policy is signed by another key than the one the disks "
                                              "are bound to: the disks would not unlock after reboot",
                                              tb_pe_name(pe));
                        if (EVP_DigestVerifyInit(c, &pctx, tb_bank_md((enum tb_bank)bank), NULL, key) != 1 ||
                            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
                            EVP_DigestVerify(c, sigb.data, sigb.len, epol, 32) != 1) {
                                tb_ossl_drain_errors(".pcrsig");
                                return REFUSE(-EKEYREJECTED,
                                              "%s: .pcrsig %s entry %zu does not verify with the PCR key the disks "
                                              "are bound to: the disks would not unlock after reboot",
                                              tb_pe_name(pe), bank_name, i);
                        }
                        if (bank == TB_BANK_SHA256 && only11 && memcmp(epol, want_pol, 32) == 0)
                                own = true;
                        n_checked++;
                }
        }
        if (n_checked == 0)
                return REFUSE(-EKEYREJECTED, "%s: .pcrsig holds no signature: the disks would not unlock after reboot",
                              tb_pe_name(pe));
        if (!own) {
                char hex[65];
                tb_hex_encode(want_pol, 32, hex);
                if (profile > 0)
                        return REFUSE(-EKEYREJECTED,
                                      "%s: none of the policies the .pcrsig of its profile %u signs is that profile's "
                                      "PCR 11 after %s (sha256 policy %s): the disks would not unlock when it boots",
                                      tb_pe_name(pe), profile, TB_UPGRADE_PCR_PHASE, hex);
                return REFUSE(-EKEYREJECTED,
                              "%s: none of the policies its .pcrsig signs is its own PCR 11 after %s (sha256 policy "
                              "%s): the disks would not unlock after reboot", tb_pe_name(pe), TB_UPGRADE_PCR_PHASE,
                              hex);
        }
        return 0;
}

/* check_pcrsig_profile() for profile 0 (WANT: its policy, or NULL), then for every further
 * profile of a multi-profile UKI: each entry booting "@N" unlocks with profile N's .pcrsig. */
static int check_pcrsig(const tb_pe *pe, EVP_PKEY *key, const uint8_t *want) {
        unsigned n = tb_uki_n_profiles(pe);
        int r = check_pcrsig_profile(pe, 0, key, want);

        if (r < 0 || n < 2 || tb_stub_gen_from_pe(pe) < TB_STUB_257)
                return r;
        for (unsigned p = 1; p < n && r >= 0; p++)
                r = check_pcrsig_profile(pe, p, key, NULL);
        return r;
}

int tb_upgrade_pcrkey_check_installed(const char *installed_path, const tb_pe *new_pe, const uint8_t *want_pol) {
        _cleanup_(tb_pe_freep) tb_pe *old = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *bound = NULL, *offered = NULL;
        int r;

        r = tb_pe_open(installed_path, &old);
        if (r < 0)
                return r;
        r = pe_pcrpkey(old, &bound);
        if (r == -ENOENT) {
                /* Nothing bound to a signed policy (no .pcrpkey): nothing to keep unlocking. */
                tb_info("%s: no .pcrpkey: only the encrypted volumes decide the PCR key", installed_path);
                return 0;
        }
        if (r < 0)
                return REFUSE(r, "%s: unreadable .pcrpkey", installed_path);
        r = pe_pcrpkey(new_pe, &offered);
        if (r < 0)
                return REFUSE(-EKEYREJECTED, "%s: no readable .pcrpkey: the disks would not unlock after reboot",
                              tb_pe_name(new_pe));
        if (EVP_PKEY_eq(bound, offered) != 1)
                return REFUSE(-EKEYREJECTED,
                              "%s: its PCR public key differs from the installed %s's, to which the disks are "
                              "bound: the disks would not unlock after reboot", tb_pe_name(new_pe), installed_path);
        return check_pcrsig(new_pe, bound, want_pol);
}

int tb_upgrade_pcrkey_check_luks(const char *device, const tb_pe *new_pe, const uint8_t *want_pol) {
        _cleanup_(tb_luks_pcr_keys_done) tb_luks_pcr_keys keys = {};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *offered = NULL;
        int r;

        r = tb_luks_tpm2_pcr_keys(device, &keys);
        if (r < 0)
                return r;
        if (keys.n == 0) {
                tb_debug("%s: no signed PCR policy: any UKI unlocks it as far as PCR 11 goes", device);
                return 0;
        }
        if (pe_pcrpkey(new_pe, &offered) < 0)
                return REFUSE(-EKEYREJECTED, "%s: no readable .pcrpkey: the disks would not unlock after reboot",
                              tb_pe_name(new_pe));
        /* During a PCR key rotation the volume has a token for the old and one for the new key. */
        for (size_t i = 0; i < keys.n; i++) {
                _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(keys.pem[i].data, (int)keys.pem[i].len);
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *bound = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

                if (!bound) {
                        tb_ossl_drain_errors("token public key");
                        return REFUSE(-EBADMSG, "%s: the systemd-tpm2 token's tpm2_pubkey is not a public key", device);
                }
                if (EVP_PKEY_eq(bound, offered) == 1) {
                        r = check_pcrsig(new_pe, bound, want_pol);
                        return r < 0 ? r : 1;
                }
        }
        return REFUSE(-EKEYREJECTED,
                      "%s: its PCR public key is not %s %s is bound to: the disks would not unlock after reboot",
                      tb_pe_name(new_pe), keys.n > 1 ? "one of the keys" : "the one", device);
}

int tb_upgrade_pcrkey_check_pem(const uint8_t *pem, size_t len, const char *what, const tb_pe *new_pe) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *bound = NULL, *offered = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(pem, (int)len);

        if (!bio)
                return tb_log_oom();
        bound = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!bound) {
                tb_ossl_drain_errors(what);
                return REFUSE(-EBADMSG, "%s: not a public key", what);
        }
        if (pe_pcrpkey(new_pe, &offered) < 0 || EVP_PKEY_eq(bound, offered) != 1)
                return REFUSE(-EKEYREJECTED,
                              "%s: its PCR public key is not %s, to which the disks are bound: the disks would not "
                              "unlock after reboot", tb_pe_name(new_pe), what);
        return check_pcrsig(new_pe, bound, NULL);
}
