#include "measure/pcr.h"

#include <errno.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/ossl.h"
#include "util/log.h"
#include "measure/tpm2-policy.h"
#include "pe/sdmagic.h"

static const char *const section_names[_TB_UKI_SECTION_MAX] = {
        [TB_UKI_LINUX] = ".linux",     [TB_UKI_OSREL] = ".osrel",     [TB_UKI_CMDLINE] = ".cmdline",
        [TB_UKI_INITRD] = ".initrd",   [TB_UKI_UCODE] = ".ucode",     [TB_UKI_SPLASH] = ".splash",
        [TB_UKI_DTB] = ".dtb",         [TB_UKI_UNAME] = ".uname",     [TB_UKI_SBAT] = ".sbat",
        [TB_UKI_PCRSIG] = ".pcrsig",   [TB_UKI_PCRPKEY] = ".pcrpkey", [TB_UKI_PROFILE] = ".profile",
        [TB_UKI_DTBAUTO] = ".dtbauto", [TB_UKI_HWIDS] = ".hwids",     [TB_UKI_EFIFW] = ".efifw",
};

const char *tb_uki_section_name(enum tb_uki_section s) {
        return s < _TB_UKI_SECTION_MAX ? section_names[s] : NULL;
}

int tb_uki_section_from_name(const char *name) {
        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++)
                if (strcmp(section_names[s], name) == 0)
                        return (int)s;
        return -EINVAL;
}

bool tb_stub_gen_valid(unsigned long v) {
        return v == TB_STUB_252 || v == TB_STUB_254 || v == TB_STUB_256 || v == TB_STUB_257 || v == TB_STUB_258;
}

int tb_stub_gen_from_version(unsigned long major) {
        if (major < 252)
                return -ERANGE;
        if (major > TB_STUB_NEWEST)
                return -EPROTONOSUPPORT;
        if (major < 254)
                return TB_STUB_252;
        if (major < 256)
                return TB_STUB_254;
        if (major < 257)
                return TB_STUB_256;
        if (major < 258)
                return TB_STUB_257;
        return TB_STUB_258; /* TB_STUB_NEWEST: a newer generation adds a case above */
}

bool tb_stub_measures(enum tb_stub_gen gen, enum tb_uki_section s) {
        switch (s) {
        case TB_UKI_LINUX:
        case TB_UKI_OSREL:
        case TB_UKI_CMDLINE:
        case TB_UKI_INITRD:
        case TB_UKI_SPLASH:
        case TB_UKI_DTB:
        case TB_UKI_PCRPKEY:
                return true;
        case TB_UKI_UNAME:
        case TB_UKI_SBAT:
                return gen >= TB_STUB_254;
        case TB_UKI_UCODE:
                return gen >= TB_STUB_256;
        case TB_UKI_PROFILE:
        case TB_UKI_DTBAUTO:
        case TB_UKI_HWIDS:
                return gen >= TB_STUB_257;
        case TB_UKI_EFIFW:
                return gen >= TB_STUB_258;
        case TB_UKI_PCRSIG: /* it carries the signature over this very value */
        default:
                return false;
        }
}

/* The decimal major version at P (at most END), as in "252.39-1~deb12u2". */
static int parse_major(const char *p, const char *end) {
        unsigned long v = 0;
        const char *start = p;

        while (p < end && *p >= '0' && *p <= '9' && v < 100000)
                v = v * 10 + (unsigned long)(*p++ - '0');
        return p == start || v == 0 ? -EBADMSG : (int)v;
}

int tb_stub_version_from_sdmagic(const void *data, size_t len) {
        int major = tb_sdmagic_major(data, len, "systemd-stub");

        return major > 0 ? major : -EBADMSG;
}

int tb_stub_version_from_sbat(const void *data, size_t len) {
        const char *s = data, *end;

        if (!s || len == 0)
                return -EBADMSG;
        end = s + len;

        /* component,generation,vendor,package,version,url — the stub's line names package "systemd". */
        for (const char *line = s; line < end;) {
                const char *eol = memchr(line, '\n', (size_t)(end - line));
                const char *field[6];
                size_t n = 0;

                if (!eol)
                        eol = end;
                field[n++] = line;
                for (const char *p = line; p < eol && n < 6; p++)
                        if (*p == ',')
                                field[n++] = p + 1;
                if (n == 6 && (size_t)(eol - field[3]) > 8 && memcmp(field[3], "systemd,", 8) == 0 &&
                    (memcmp(field[0], "systemd,", 8) == 0 || memcmp(field[0], "systemd-stub,", 13) == 0))
                        return parse_major(field[4], eol);
                line = eol + 1;
        }
        return -EBADMSG;
}

static int gen_of(int version) {
        return version < 0 ? version : tb_stub_gen_from_version((unsigned long)version);
}

int tb_stub_gen_from_sdmagic(const void *data, size_t len) {
        return gen_of(tb_stub_version_from_sdmagic(data, len));
}

int tb_stub_gen_from_sbat(const void *data, size_t len) {
        return gen_of(tb_stub_version_from_sbat(data, len));
}

int tb_stub_version_from_pe(const tb_pe *pe) {
        static const struct {
                const char *name;
                int (*parse)(const void *data, size_t len);
        } sources[] = {
                { ".sdmagic", tb_stub_version_from_sdmagic },
                { ".sbat", tb_stub_version_from_sbat },
        };

        for (size_t i = 0; i < ARRAY_SIZE(sources); i++) {
                const tb_pe_section *sec = tb_pe_find_section(pe, sources[i].name);
                _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
                int r;

                if (!sec || tb_pe_section_read(pe, sec, (size_t)64 * 1024, &b) < 0)
                        continue;
                r = sources[i].parse(b.data, b.len);
                if (r > 0)
                        return r;
        }
        return -EBADMSG;
}

int tb_stub_gen_from_pe(const tb_pe *pe) {
        return gen_of(tb_stub_version_from_pe(pe));
}

int tb_stub_gen_installed(void) {
#if defined(__x86_64__)
        static const char stub[] = TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub";
#elif defined(__aarch64__)
        static const char stub[] = TB_SDBOOT_EFI_DIR "/linuxaa64.efi.stub";
#else
        static const char stub[] = "";
#endif
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        int gen;

        if (!*stub || !tb_path_exists(stub))
                return TB_STUB_252;
        if (tb_pe_open(stub, &pe) < 0)
                return TB_STUB_252;
        gen = tb_stub_gen_from_pe(pe);
        return gen < 0 ? TB_STUB_252 : gen;
}

int tb_stub_gen_resolve(const tb_pe *pe, int forced, const char *force_option) {
        int version = tb_stub_version_from_pe(pe), gen = gen_of(version);

        if (forced && !tb_stub_gen_valid((unsigned long)forced))
                return -EINVAL;
        if (gen == -ERANGE)
                return tb_fail(-EPROTONOSUPPORT, "%s: systemd-stub %d is older than 252, which trustboot needs",
                               tb_pe_name(pe), version);
        if (forced) {
                if (gen > 0 && gen != forced)
                        return tb_fail(-EINVAL, "%s: systemd-stub %d follows the %d rules, not %d: %s is only for "
                                       "stubs newer than %d or without a version", tb_pe_name(pe), version, gen, forced,
                                       force_option, TB_STUB_NEWEST);
                return forced;
        }
        if (gen == -EPROTONOSUPPORT)
                return tb_fail(-EPROTONOSUPPORT, "%s: systemd-stub %d is newer than the newest stub trustboot can "
                               "predict PCR 11 for (%d); if it measures what %d does, say so with %s %d",
                               tb_pe_name(pe), version, TB_STUB_NEWEST, TB_STUB_NEWEST, force_option, TB_STUB_NEWEST);
        if (gen < 0)
                return tb_fail(-EBADMSG, "%s: no systemd-stub version in .sdmagic or .sbat; name the stub's "
                               "generation with %s", tb_pe_name(pe), force_option);
        return gen;
}

/* systemd-pcrphase (252) and systemd-pcrextend (255+) words, including v258's additions. */
static const char *const phase_words[] = {
        "enter-initrd", "leave-initrd", "sysinit", "ready", "shutdown", "final",
        "storage-target-mode-start", "storage-target-mode-stop", "factory-reset",
};

bool tb_pcr_phase_word_known(const char *word) {
        for (size_t i = 0; i < ARRAY_SIZE(phase_words); i++)
                if (strcmp(phase_words[i], word) == 0)
                        return true;
        return false;
}

int tb_pcr_phase_normalize(const char *phase, char **ret, const char **ret_bad_word) {
        _cleanup_(freep) char *out = malloc(strlen(phase) + 1);
        size_t n = 0;

        if (!out)
                return tb_log_oom();
        for (const char *p = phase; *p;) {
                size_t len = strcspn(p, ":");

                if (len > 0) {
                        char word[64];
                        bool known = len < sizeof(word);

                        if (known) {
                                memcpy(word, p, len);
                                word[len] = '\0';
                                known = tb_pcr_phase_word_known(word);
                        }
                        if (!known) {
                                if (ret_bad_word)
                                        *ret_bad_word = p;
                                return -EINVAL;
                        }
                        if (n > 0)
                                out[n++] = ':';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p += len;
                if (*p == ':')
                        p++;
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int tb_pcr_phase_list(char *const *phases, size_t n, char ***ret, size_t *ret_n) {
        static const char *const defaults[] = {
                "enter-initrd",
                "enter-initrd:leave-initrd",
                "enter-initrd:leave-initrd:sysinit",
                "enter-initrd:leave-initrd:sysinit:ready",
        };
        size_t count = n > 0 ? n : ARRAY_SIZE(defaults), k = 0;
        _cleanup_(tb_strv_freep) char **l = calloc(count + 1, sizeof(char *));
        int r;

        if (!l)
                return tb_log_oom();
        for (size_t i = 0; i < count; i++) {
                if (n > 0)
                        r = tb_pcr_phase_normalize(phases[i], &l[i], NULL);
                else
                        r = (l[i] = strdup(defaults[i])) ? 0 : tb_log_oom();
                if (r < 0)
                        return r;
        }
        k = count;
        /* An explicit list is sorted and de-duplicated, which is what systemd-measure prints. */
        if (n > 0) {
                qsort(l, count, sizeof(char *), cmp_str);
                k = 0;
                for (size_t i = 0; i < count; i++) {
                        if (k > 0 && strcmp(l[k - 1], l[i]) == 0)
                                free(l[i]);
                        else
                                l[k++] = l[i];
                }
                for (size_t i = k; i < count; i++)
                        l[i] = NULL;
        }
        if (ret_n)
                *ret_n = k;
        *ret = TAKE_PTR(l);
        return 0;
}

struct tb_pcr11 {
        unsigned banks;
        enum tb_stub_gen gen;
        bool present[_TB_UKI_SECTION_MAX];
        tb_digests name[_TB_UKI_SECTION_MAX]; /* H(name || NUL), fixed per bank */
        tb_digests data[_TB_UKI_SECTION_MAX];
};

int tb_pcr11_new(unsigned banks, enum tb_stub_gen gen, tb_pcr11 **ret) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
        int r;

        if (banks == 0 || (banks & ~TB_BANKS_ALL))
                return -EINVAL;
        r = tb_pcr11_set_gen(NULL, gen);
        if (r < 0)
                return r;
        p = calloc(1, sizeof(*p));
        if (!p)
                return tb_log_oom();
        p->banks = banks;
        p->gen = gen;
        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++) {
                r = tb_digests_of(banks, section_names[s], strlen(section_names[s]) + 1, &p->name[s]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

void tb_pcr11_free(tb_pcr11 *p) {
        free(p);
}

unsigned tb_pcr11_banks(const tb_pcr11 *p) {
        return p->banks;
}

enum tb_stub_gen tb_pcr11_gen(const tb_pcr11 *p) {
        return p->gen;
}

int tb_pcr11_set_gen(tb_pcr11 *p, enum tb_stub_gen gen) {
        if (!tb_stub_gen_valid(gen))
                return -EINVAL;
        if (p)
                p->gen = gen;
        return 0;
}

int tb_pcr11_set_section(tb_pcr11 *p, enum tb_uki_section s, const tb_digests *d, uint64_t size) {
        if (s >= _TB_UKI_SECTION_MAX || (d->banks & p->banks) != p->banks)
                return -EINVAL;
        p->present[s] = size > 0;
        p->data[s] = *d;
        return 0;
}

int tb_pcr11_set_section_data(tb_pcr11 *p, enum tb_uki_section s, const void *data, size_t len) {
        tb_digests d;
        int r;

        if (s >= _TB_UKI_SECTION_MAX)
                return -EINVAL;
        r = tb_digests_of(p->banks, data, len, &d);
        if (r < 0)
                return r;
        return tb_pcr11_set_section(p, s, &d, len);
}

int tb_pcr11_set_section_fd(tb_pcr11 *p, enum tb_uki_section s, int fd) {
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        tb_digests d;
        uint64_t size;
        int r;

        if (s >= _TB_UKI_SECTION_MAX)
                return -EINVAL;
        r = tb_mhash_new(p->banks, &h);
        if (r < 0)
                return r;
        r = tb_mhash_update_fd(h, fd);
        if (r < 0)
                return r;
        r = tb_mhash_final(h, &d, &size);
        if (r < 0)
                return r;
        return tb_pcr11_set_section(p, s, &d, size);
}

static int feed_mhash(const uint8_t *data, size_t len, void *userdata) {
        return tb_mhash_update(userdata, data, len);
}

/* Sections [FROM, TO) of PE by exact name, the first one of a name winning. */
static void pick_exact(const tb_pe *pe, size_t from, size_t to, const tb_pe_section **pick) {
        bool seen[_TB_UKI_SECTION_MAX] = {};

        for (size_t i = from; i < to; i++) {
                const tb_pe_section *sec = tb_pe_section_at(pe, i);
                int s = tb_uki_section_from_name(sec->name);

                if (s >= 0 && !seen[s]) {
                        seen[s] = true;
                        pick[s] = sec;
                }
        }
}

unsigned tb_uki_n_profiles(const tb_pe *pe) {
        unsigned n = 0;

        for (size_t i = 0; i < tb_pe_n_sections(pe); i++)
                n += strcmp(tb_pe_section_at(pe, i)->name, ".profile") == 0;
        return n;
}

void tb_uki_profile_range(const tb_pe *pe, unsigned profile, size_t *ret_first, size_t *ret_start, size_t *ret_end) {
        size_t n = tb_pe_n_sections(pe), first = n, start = n, end = n;
        unsigned k = 0;

        for (size_t i = 0; i < n; i++) {
                if (strcmp(tb_pe_section_at(pe, i)->name, ".profile") != 0)
                        continue;
                if (first == n)
                        first = i;
                if (start != n && end == n)
                        end = i;
                if (k++ == profile)
                        start = i;
        }
        *ret_first = first;
        *ret_start = start;
        *ret_end = end;
}

int tb_pcr11_set_from_pe(tb_pcr11 *p, const tb_pe *pe) {
        return tb_pcr11_set_from_pe_profile(p, pe, 0);
}

int tb_pcr11_set_from_pe_profile(tb_pcr11 *p, const tb_pe *pe, unsigned profile) {
        const tb_pe_section *pick[_TB_UKI_SECTION_MAX] = {};
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        size_t n = tb_pe_n_sections(pe);
        int r;

        if (p->gen < TB_STUB_257) {
                if (profile > 0)
                        return -EOPNOTSUPP;
                /* memcmp over strlen(name): ".dtbauto" counts as ".dtb", ".initrd2" as ".initrd" */
                for (size_t i = 0; i < n; i++) {
                        const tb_pe_section *sec = tb_pe_section_at(pe, i);

                        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++)
                                if (strncmp(sec->name, section_names[s], strlen(section_names[s])) == 0)
                                        pick[s] = sec;
                }
        } else {
                size_t first, start, end;

                tb_uki_profile_range(pe, profile, &first, &start, &end);
                if (start == n && (profile > 0 || first < n))
                        return -ENOENT;
                pick_exact(pe, 0, first, pick);
                /* the selected profile's sections override the base's */
                if (start < n) {
                        const tb_pe_section *prof[_TB_UKI_SECTION_MAX] = {};

                        pick_exact(pe, start, end, prof);
                        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++)
                                if (prof[s])
                                        pick[s] = prof[s];
                }
        }

        r = tb_mhash_new(p->banks, &h);
        if (r < 0)
                return r;
        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++) {
                tb_digests d;

                if (!pick[s] || pick[s]->virtual_size == 0 || !tb_stub_measures(p->gen, s)) {
                        p->present[s] = false;
                        continue;
                }
                r = tb_pe_section_stream(pe, pick[s], feed_mhash, h);
                if (r >= 0)
                        r = tb_mhash_final(h, &d, NULL);
                if (r >= 0)
                        r = tb_pcr11_set_section(p, s, &d, pick[s]->virtual_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

void tb_pcr11_clear_section(tb_pcr11 *p, enum tb_uki_section s) {
        if (s < _TB_UKI_SECTION_MAX)
                p->present[s] = false;
}

bool tb_pcr11_has_section(const tb_pcr11 *p, enum tb_uki_section s) {
        return s < _TB_UKI_SECTION_MAX && p->present[s];
}

static int extend(enum tb_bank b, uint8_t *value, const uint8_t *digest) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
        size_t n = tb_bank_size(b);

        if (!c)
                return tb_log_oom();
        if (EVP_DigestInit_ex(c, tb_bank_md(b), NULL) != 1 || EVP_DigestUpdate(c, value, n) != 1 ||
            EVP_DigestUpdate(c, digest, n) != 1 || EVP_DigestFinal_ex(c, value, NULL) != 1)
                return -EIO;
        return 0;
}

int tb_pcr11_value(const tb_pcr11 *p, const char *phase, tb_digests *ret) {
        tb_digests v = { .banks = p->banks };
        int r;

        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++) {
                if (!p->present[s] || !tb_stub_measures(p->gen, s))
                        continue;
                TB_FOREACH_BANK(b, p->banks) {
                        r = extend(b, v.d[b], p->name[s].d[b]);
                        if (r >= 0)
                                r = extend(b, v.d[b], p->data[s].d[b]);
                        if (r < 0)
                                return r;
                }
        }
        /* Phase words: H(word), no NUL, no name record; empty words are skipped as systemd does. */
        for (const char *w = phase ? phase : ""; *w;) {
                size_t len = strcspn(w, ":");

                if (len > 0) {
                        tb_digests d;

                        r = tb_digests_of(p->banks, w, len, &d);
                        if (r < 0)
                                return r;
                        TB_FOREACH_BANK(b, p->banks) {
                                r = extend(b, v.d[b], d.d[b]);
                                if (r < 0)
                                        return r;
                        }
                }
                w += len;
                if (*w == ':')
                        w++;
        }
        *ret = v;
        return 0;
}

static uint16_t tpm2_alg(enum tb_bank b) {
        static const uint16_t alg[_TB_BANK_MAX] = {
                [TB_BANK_SHA1] = 0x0004, [TB_BANK_SHA256] = 0x000B,
                [TB_BANK_SHA384] = 0x000C, [TB_BANK_SHA512] = 0x000D,
        };
        return alg[b];
}

int tb_pcr_policy_digest(enum tb_bank bank, const uint8_t *value, uint8_t ret[32]) {
        if (bank >= _TB_BANK_MAX)
                return -EINVAL;
        /* A fresh policy session (0^32) extended by PolicyPCR over PCR 11 of this bank: the one
         * PolicyPCR implementation (tss2-mu marshalling) lives in tpm2-policy. */
        memset(ret, 0, TB_TPM2_DIGEST_SIZE);
        return tb_tpm2_policy_pcr(ret, tpm2_alg(bank), UINT32_C(1) << TB_PCR_KERNEL_BOOT, value, tb_bank_size(bank));
}

int tb_pcr_pkfp(EVP_PKEY *key, uint8_t ret[32]) {
        _cleanup_(OPENSSL_freep) unsigned char *der = NULL;
        int n;

        /* i2d_PublicKey: PKCS#1 RSAPublicKey for RSA, not SubjectPublicKeyInfo */
        n = i2d_PublicKey(key, &der);
        if (n <= 0)
                return -EINVAL;
        if (EVP_Digest(der, (size_t)n, ret, NULL, EVP_sha256(), NULL) != 1)
                return -EIO;
        return 0;
}

int tb_pcr_check_key(EVP_PKEY *key) {
        return key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? 0 : -EKEYREJECTED;
}

int tb_pcr_sign_policy(EVP_PKEY *key, enum tb_bank bank, const uint8_t pol[32], tb_buf *sig) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        size_t n = 0;
        int r;

        if (!c)
                return tb_log_oom();
        r = tb_pcr_check_key(key);
        if (r < 0)
                return r;
        if (EVP_DigestSignInit(c, &pctx, tb_bank_md(bank), NULL, key) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
            EVP_DigestSign(c, NULL, &n, pol, 32) != 1) {
                tb_ossl_drain_errors("PCR policy signature");
                return -EIO;
        }
        r = tb_buf_reserve(sig, n);
        if (r < 0)
                return r;
        if (EVP_DigestSign(c, sig->data + sig->len, &n, pol, 32) != 1) {
                tb_ossl_drain_errors("PCR policy signature");
                return -EIO;
        }
        sig->len += n;
        return 0;
}

static int add_string(struct json_object *o, const char *key, char *s) {
        struct json_object *v;

        if (!s)
                return tb_log_oom();
        v = json_object_new_string(s);
        free(s);
        if (!v)
                return tb_log_oom();
        return json_object_object_add(o, key, v) == 0 ? 0 : (json_object_put(v), tb_log_oom());
}

static int sign_entry(EVP_PKEY *key, enum tb_bank bank, const uint8_t *value, const uint8_t pkfp[32],
                      struct json_object **ret) {
        _cleanup_(tb_buf_freep) tb_buf sig = TB_BUF_INIT;
        struct json_object *o = NULL, *pcrs = NULL, *v;
        uint8_t pol[32];
        int r;

        r = tb_pcr_policy_digest(bank, value, pol);
        if (r >= 0)
                r = tb_pcr_sign_policy(key, bank, pol, &sig);
        if (r < 0)
                return r;
        o = json_object_new_object();
        pcrs = json_object_new_array();
        v = json_object_new_int(TB_PCR_KERNEL_BOOT);
        if (!o || !pcrs || !v || json_object_array_add(pcrs, v) != 0) {
                json_object_put(v);
                r = tb_log_oom();
                goto fail;
        }
        if (json_object_object_add(o, "pcrs", pcrs) != 0) {
                r = tb_log_oom();
                goto fail;
        }
        pcrs = NULL;
        r = add_string(o, "pkfp", tb_hex_string(pkfp, 32));
        if (r >= 0)
                r = add_string(o, "pol", tb_hex_string(pol, 32));
        if (r >= 0)
                r = add_string(o, "sig", tb_base64_string(sig.data, sig.len));
        if (r < 0)
                goto fail;
        *ret = o;
        return 0;
fail:
        json_object_put(pcrs);
        json_object_put(o);
        return r;
}

int tb_pcr11_sign(const tb_pcr11 *p, char *const *phases, size_t n_phases, EVP_PKEY *key, EVP_PKEY *pub,
                  struct json_object **ret) {
        struct json_object *root = NULL, *arrays[_TB_BANK_MAX] = {};
        uint8_t pkfp[32];
        int r;

        r = tb_pcr_check_key(key);
        if (r < 0)
                return r;
        if (pub && EVP_PKEY_eq(pub, key) != 1)
                return -EINVAL;
        r = tb_pcr_pkfp(pub ? pub : key, pkfp);
        if (r < 0)
                return r;
        root = json_object_new_object();
        if (!root)
                return tb_log_oom();
        TB_FOREACH_BANK(b, p->banks) {
                arrays[b] = json_object_new_array();
                if (!arrays[b] || json_object_object_add(root, tb_bank_name(b), arrays[b]) != 0) {
                        json_object_put(arrays[b]);
                        r = tb_log_oom();
                        goto fail;
                }
        }
        for (size_t i = 0; i < n_phases; i++) {
                tb_digests v;

                r = tb_pcr11_value(p, phases[i], &v);
                if (r < 0)
                        goto fail;
                TB_FOREACH_BANK(b, p->banks) {
                        struct json_object *e = NULL;

                        r = sign_entry(key, b, v.d[b], pkfp, &e);
                        if (r < 0)
                                goto fail;
                        if (json_object_array_add(arrays[b], e) != 0) {
                                json_object_put(e);
                                r = tb_log_oom();
                                goto fail;
                        }
                }
        }
        *ret = root;
        return 0;
fail:
        json_object_put(root);
        return r;
}
