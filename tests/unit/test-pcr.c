/* tests/unit/test-pcr.c — PCR 11 prediction and signed policies against formats.md Appendix A,
 * which holds outputs of the real systemd 252 binaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "util/json.h"
#include "util/ossl.h"
#include "measure/pcr.h"
#include "pcr-test-key.h"

static void assert_hex(const uint8_t *data, size_t len, const char *want) {
        _cleanup_(freep) char *hex = tb_hex_string(data, len);

        assert_non_null(hex);
        assert_string_equal(hex, want);
}

/* A.2 inputs: linux, osrel, cmdline, initrd, pcrpkey = test-pub.pem */
static tb_pcr11 *a2_inputs(unsigned banks, enum tb_stub_gen gen) {
        tb_pcr11 *p = NULL;

        assert_int_equal(tb_pcr11_new(banks, gen, &p), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_LINUX, "linux-kernel-payload", 20), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_OSREL, "ID=test\nVERSION_ID=1\n", 21), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_CMDLINE, "console=ttyS0 quiet", 19), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_INITRD, "initrd-payload", 14), 0);
        assert_int_equal(strlen(test_pub_pem), 451);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_PCRPKEY, test_pub_pem, 451), 0);
        return p;
}

static EVP_PKEY *load_pem(const char *pem, bool private) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k;

        assert_non_null(bio);
        k = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        assert_non_null(k);
        return k;
}

static void section_name_record_includes_the_nul(void **state) {
        tb_digests d;
        (void)state;

        assert_int_equal(tb_digests_of(TB_BANKS_ALL, ".linux", 7, &d), 0);
        assert_hex(d.d[TB_BANK_SHA256], 32, "0da293e37ad5511c59be47993769aacb91b243f7d010288e118dc90e95aaef5a");
        assert_int_equal(tb_digests_of(TB_BANK_BIT(TB_BANK_SHA256), "linux-kernel-payload", 20, &d), 0);
        assert_hex(d.d[TB_BANK_SHA256], 32, "ca4d2eb7d1f986a1c045cb4235473e45c14343f38f8b28ee339f29e0b81a7a25");
}

static void appendix_a2_default_phases_match_systemd_measure_252(void **state) {
        static const struct {
                const char *phase, *sha1, *sha256;
        } want[] = {
                { "enter-initrd", "83b4aca4ec559555f9d62b877f6a196c79b0df06",
                  "bc7ed6dd5a5ee99f2045f8a448dedf13afc6462e03574033ddfa2b642538c48c" },
                { "enter-initrd:leave-initrd", "8a758a8374fb4e0072604f850970d8f193addf63",
                  "ee805ff57200b80e95e78ec1ee101a2499e8579f868f43871e9126d4ecc55c2f" },
                { "enter-initrd:leave-initrd:sysinit", "893d4081b2a9408ea913b5d8a3075f15136da080",
                  "2fccc71e5e5c368d718dd4f599f39d3ff76121d2ddd11abb2729e1c260be8a66" },
                { "enter-initrd:leave-initrd:sysinit:ready", "89a843755c5e113c8f751c2e0e4df8555b7d1b2a",
                  "b0fa16078551a0a65def291b8d7aed0923db2da4de97d7a4ae84146bd6130d7a" },
        };
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANKS_ALL, TB_STUB_252);
        _cleanup_(tb_strv_freep) char **phases = NULL;
        size_t n;
        (void)state;

        assert_int_equal(tb_pcr_phase_list(NULL, 0, &phases, &n), 0);
        assert_int_equal(n, ARRAY_SIZE(want));
        for (size_t i = 0; i < n; i++) {
                tb_digests v;

                assert_string_equal(phases[i], want[i].phase);
                assert_int_equal(tb_pcr11_value(p, phases[i], &v), 0);
                assert_hex(v.d[TB_BANK_SHA1], 20, want[i].sha1);
                assert_hex(v.d[TB_BANK_SHA256], 32, want[i].sha256);
        }
        assert_null(phases[n]);
}

static void appendix_a3_sign_json_is_byte_identical(void **state) {
        const char *want = test_a3_sign_json;
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANK_BIT(TB_BANK_SHA256), TB_STUB_252);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = load_pem(test_priv_pem, true);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = load_pem(test_pub_pem, false);
        _cleanup_(json_object_putp) struct json_object *j = NULL, *j2 = NULL;
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT, out2 = TB_BUF_INIT;
        char *phases[] = { (char *)"enter-initrd", NULL };
        (void)state;

        assert_int_equal(tb_pcr11_sign(p, phases, 1, key, NULL, &j), 0);
        assert_int_equal(tb_json_format(j, TB_JSON_SHORT, &out), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        /* the explicit public key gives the same fingerprint as the derived one */
        assert_int_equal(tb_pcr11_sign(p, phases, 1, key, pub, &j2), 0);
        assert_int_equal(tb_json_format(j2, TB_JSON_SHORT, &out2), 0);
        assert_memory_equal(out2.data, want, strlen(want));
}

static void policy_digest_and_pkfp_match_appendix_a3(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = load_pem(test_pub_pem, false);
        static const char value_hex[] = "bc7ed6dd5a5ee99f2045f8a448dedf13afc6462e03574033ddfa2b642538c48c";
        uint8_t value[32], pol[32], fp[32];
        (void)state;

        for (int i = 0; i < 32; i++)
                assert_int_equal(sscanf(&value_hex[(size_t)2 * i], "%2hhx", &value[i]), 1);
        assert_int_equal(tb_pcr_policy_digest(TB_BANK_SHA256, value, pol), 0);
        assert_hex(pol, 32, "08a8ce75567ea37895ff965b4ace93ef4f92899b093b932c9c322213e8abc5a6");
        assert_int_equal(tb_pcr_pkfp(pub, fp), 0);
        assert_hex(fp, 32, "4176d001e459ff4e7736cc0e7f1ad6132a709b637ff6a0576e453f2a2b6dc291");
}

static void streamed_section_equals_one_shot_in_every_bank(void **state) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANKS_ALL, TB_STUB_252);
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        tb_digests before, after, d;
        const char *payload = "linux-kernel-payload";
        uint64_t len;
        (void)state;

        assert_int_equal(tb_pcr11_value(p, "enter-initrd", &before), 0);
        assert_int_equal(tb_mhash_new(TB_BANKS_ALL, &h), 0);
        for (size_t i = 0; i < 20; i += 3)
                assert_int_equal(tb_mhash_update(h, payload + i, MIN(3, 20 - i)), 0);
        assert_int_equal(tb_mhash_length(h), 20);
        assert_int_equal(tb_mhash_final(h, &d, &len), 0);
        assert_int_equal(len, 20);
        assert_int_equal(tb_mhash_length(h), 0);
        assert_int_equal(tb_pcr11_set_section(p, TB_UKI_LINUX, &d, len), 0);
        assert_int_equal(tb_pcr11_value(p, "enter-initrd", &after), 0);
        assert_memory_equal(&before, &after, sizeof(before));
}

static void changing_only_cmdline_reuses_kernel_and_initrd_digests(void **state) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANKS_ALL, TB_STUB_252);
        tb_digests a, b, c;
        (void)state;

        assert_int_equal(tb_pcr11_value(p, "", &a), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_CMDLINE, "console=ttyS0 quiet rd.debug", 28), 0);
        assert_int_equal(tb_pcr11_value(p, "", &b), 0);
        assert_memory_not_equal(a.d[TB_BANK_SHA256], b.d[TB_BANK_SHA256], 32);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_CMDLINE, "console=ttyS0 quiet", 19), 0);
        assert_int_equal(tb_pcr11_value(p, "", &c), 0);
        assert_memory_equal(&a, &c, sizeof(a));
}

static void empty_section_is_absent_as_for_the_stub(void **state) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANKS_ALL, TB_STUB_252);
        tb_digests a, b;
        (void)state;

        assert_int_equal(tb_pcr11_value(p, "", &a), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_SPLASH, "", 0), 0);
        assert_false(tb_pcr11_has_section(p, TB_UKI_SPLASH));
        assert_int_equal(tb_pcr11_value(p, "", &b), 0);
        assert_memory_equal(&a, &b, sizeof(a));
}

static void stub_252_ignores_uname_and_sbat_254_measures_them(void **state) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANKS_ALL, TB_STUB_252);
        tb_digests plain, with252, with254, with256;
        (void)state;

        assert_int_equal(tb_pcr11_value(p, "", &plain), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_UNAME, "6.1.0-56-amd64", 14), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_SBAT, "sbat,1\n", 7), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_PCRSIG, "{}", 2), 0);
        assert_int_equal(tb_pcr11_value(p, "", &with252), 0);
        assert_memory_equal(&plain, &with252, sizeof(plain));
        assert_int_equal(tb_pcr11_set_gen(p, TB_STUB_254), 0);
        assert_int_equal(tb_pcr11_value(p, "", &with254), 0);
        assert_memory_not_equal(plain.d[TB_BANK_SHA256], with254.d[TB_BANK_SHA256], 32);
        /* .ucode is new in 256: absent, so 256 equals 254 */
        assert_int_equal(tb_pcr11_set_gen(p, TB_STUB_256), 0);
        assert_int_equal(tb_pcr11_value(p, "", &with256), 0);
        assert_memory_equal(&with254, &with256, sizeof(with254));
        assert_false(tb_stub_measures(TB_STUB_258, TB_UKI_PCRSIG));
        assert_true(tb_stub_measures(TB_STUB_257, TB_UKI_PROFILE));
        assert_false(tb_stub_measures(TB_STUB_256, TB_UKI_PROFILE));
}

static void stub_generation_is_read_from_sdmagic_and_sbat(void **state) {
        static const char sdmagic[] = "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####";
        static const char sbat[] =
                "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
                "systemd,1,The systemd Developers,systemd,252,https://systemd.io/\n"
                "systemd.debian,1,Debian GNU/Linux,systemd,252.39-1~deb12u2,https://bugs.debian.org/\n";
        static const char sbat257[] = "sbat,1,x,sbat,1,u\nlinux,1,x,linux,1,u\n"
                                      "systemd-stub,1,The systemd Developers,systemd,257,https://systemd.io/\n";
        (void)state;

        assert_int_equal(tb_stub_gen_from_sdmagic(sdmagic, sizeof(sdmagic)), TB_STUB_252);
        assert_int_equal(tb_stub_gen_from_sdmagic("#### LoaderInfo: systemd-stub 255.4 ####", 40), TB_STUB_254);
        assert_int_equal(tb_stub_gen_from_sdmagic("#### LoaderInfo: systemd-boot 256 ####", 38), -EBADMSG);
        assert_int_equal(tb_stub_gen_from_sbat(sbat, sizeof(sbat) - 1), TB_STUB_252);
        assert_int_equal(tb_stub_gen_from_sbat(sbat257, sizeof(sbat257) - 1), TB_STUB_257);
        assert_int_equal(tb_stub_gen_from_sbat("sbat,1,x,sbat,1,u\n", 18), -EBADMSG);
        assert_int_equal(tb_stub_gen_from_version(251), -ERANGE);
        assert_int_equal(tb_stub_gen_from_version(253), TB_STUB_252);
        assert_int_equal(tb_stub_gen_from_version(258), TB_STUB_258);
        /* newer than trustboot knows: its measurements cannot be predicted */
        assert_int_equal(tb_stub_gen_from_version(TB_STUB_NEWEST + 1), -EPROTONOSUPPORT);
        assert_int_equal(tb_stub_gen_from_sdmagic("#### LoaderInfo: systemd-stub 259.1 ####", 40), -EPROTONOSUPPORT);
        assert_int_equal(tb_stub_version_from_sdmagic("#### LoaderInfo: systemd-stub 259.1 ####", 40), 259);
        assert_int_equal(tb_stub_version_from_sbat(sbat257, sizeof(sbat257) - 1), 257);
        assert_true(tb_stub_gen_valid(256));
        assert_false(tb_stub_gen_valid(255));
}

/* The stub of the corpus UKI with its version bytes replaced ("252" → VERSION) in .sdmagic and
 * .sbat: a stub of another systemd release, as far as trustboot can tell. */
static tb_pe *stub_claiming(const char *version, tb_buf *keep) {
        const char *srcdir = getenv("TB_SRCDIR");
        _cleanup_(freep) char *path = NULL;
        tb_pe *pe = NULL;
        FILE *f;
        size_t n;

        assert_true(asprintf(&path, "%s/tests/fuzz/corpus/pcr-uki/uki-profile.efi", srcdir) > 0);
        f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(tb_buf_reserve(keep, 1 << 20), 0);
        n = fread(keep->data, 1, 1 << 20, f);
        fclose(f);
        keep->len = n;
        for (size_t i = 0; i + 16 < n; i++)
                if (memcmp(keep->data + i, "systemd-stub 252", 16) == 0)
                        memcpy(keep->data + i + 13, version, 3);
                else if (memcmp(keep->data + i, ",systemd,252,", 13) == 0)
                        memcpy(keep->data + i + 9, version, 3);
        assert_int_equal(tb_pe_from_memory(keep->data, keep->len, &pe), 0);
        return pe;
}

static void a_stub_newer_than_known_is_refused_unless_a_generation_is_forced(void **state) {
        _cleanup_(tb_buf_freep) tb_buf b252 = TB_BUF_INIT, b259 = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *s252 = NULL, *s259 = NULL;
        (void)state;

        if (!getenv("TB_SRCDIR"))
                skip();
        s252 = stub_claiming("252", &b252);
        s259 = stub_claiming("259", &b259);
        assert_int_equal(tb_stub_version_from_pe(s259), 259);
        assert_int_equal(tb_stub_gen_from_pe(s259), -EPROTONOSUPPORT);
        assert_int_equal(tb_stub_gen_resolve(s259, 0, "--stub-generation"), -EPROTONOSUPPORT);
        assert_int_equal(tb_stub_gen_resolve(s259, TB_STUB_257, "--stub-generation"), TB_STUB_257);
        assert_int_equal(tb_stub_gen_resolve(s252, 0, "--stub-generation"), TB_STUB_252);
        /* a known stub's own generation wins: forcing another would sign a value it never produces */
        assert_int_equal(tb_stub_gen_resolve(s252, TB_STUB_257, "--stub-generation"), -EINVAL);
        assert_int_equal(tb_stub_gen_resolve(s252, TB_STUB_252, "--stub-generation"), TB_STUB_252);
}

static void phases_are_normalized_sorted_and_unknown_words_refused(void **state) {
        char *in[] = { (char *)"sysinit", (char *)"enter-initrd::leave-initrd:", (char *)"", (char *)":sysinit:" };
        _cleanup_(tb_strv_freep) char **l = NULL;
        _cleanup_(freep) char *norm = NULL;
        const char *bad = NULL;
        size_t n;
        (void)state;

        assert_int_equal(tb_pcr_phase_list(in, 4, &l, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(l[0], "");
        assert_string_equal(l[1], "enter-initrd:leave-initrd");
        assert_string_equal(l[2], "sysinit");
        assert_null(l[3]);
        assert_int_equal(tb_pcr_phase_normalize("enter-initrd:bogus:ready", &norm, &bad), -EINVAL);
        assert_string_equal(bad, "bogus:ready");
        assert_true(tb_pcr_phase_word_known("factory-reset"));
}

static void signing_refuses_non_rsa_and_foreign_public_keys(void **state) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANK_BIT(TB_BANK_SHA256), TB_STUB_252);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = load_pem(test_priv_pem, true);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = EVP_EC_gen("P-256");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *other = EVP_RSA_gen(1024);
        struct json_object *j = NULL;
        char *phases[] = { (char *)"", NULL };
        (void)state;

        assert_non_null(ec);
        assert_non_null(other);
        assert_int_equal(tb_pcr11_sign(p, phases, 1, ec, NULL, &j), -EKEYREJECTED);
        assert_int_equal(tb_pcr11_sign(p, phases, 1, key, other, &j), -EINVAL);
        assert_null(j);
}

static void every_bank_signature_verifies_with_its_own_hash(void **state) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(TB_BANKS_ALL, TB_STUB_252);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = load_pem(test_priv_pem, true);
        uint8_t pol[32];
        tb_digests v;
        (void)state;

        assert_int_equal(tb_pcr11_value(p, "enter-initrd", &v), 0);
        TB_FOREACH_BANK(b, TB_BANKS_ALL) {
                _cleanup_(tb_buf_freep) tb_buf sig = TB_BUF_INIT;
                _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();

                assert_int_equal(tb_pcr_policy_digest(b, v.d[b], pol), 0);
                assert_int_equal(tb_pcr_sign_policy(key, b, pol, &sig), 0);
                assert_int_equal(sig.len, 256);
                assert_int_equal(EVP_DigestVerifyInit(c, NULL, tb_bank_md(b), NULL, key), 1);
                assert_int_equal(EVP_DigestVerify(c, sig.data, sig.len, pol, 32), 1);
        }
}

/* tests/fuzz/corpus/pcr-uki/uki-profile.efi: the Debian 252 stub plus, in table order, .osrel,
 * .dtbauto, .linux, .profile, .cmdline (objcopy). */
static void uki_sections_follow_each_stub_generations_lookup_rules(void **state) {
        const char *srcdir = getenv("TB_SRCDIR");
        _cleanup_(freep) char *path = NULL;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(tb_buf_freep) tb_buf sbat = TB_BUF_INIT;
        (void)state;

        if (!srcdir)
                skip();
        assert_true(asprintf(&path, "%s/tests/fuzz/corpus/pcr-uki/uki-profile.efi", srcdir) > 0);
        assert_int_equal(tb_pe_open(path, &pe), 0);
        assert_int_equal(tb_stub_gen_from_pe(pe), TB_STUB_252);
        assert_int_equal(tb_pe_section_read(pe, tb_pe_find_section(pe, ".sbat"), 4096, &sbat), 0);

        /* the base runs up to the one .profile, profile 0 from it to the end; profile 1 is nowhere */
        size_t n = tb_pe_n_sections(pe), prof = n, first, start, end;
        for (size_t i = 0; i < n; i++)
                if (strcmp(tb_pe_section_at(pe, i)->name, ".profile") == 0)
                        prof = i;
        assert_true(prof + 1 < n);
        tb_uki_profile_range(pe, 0, &first, &start, &end);
        assert_int_equal(first, prof);
        assert_int_equal(start, prof);
        assert_int_equal(end, n);
        tb_uki_profile_range(pe, 1, &first, &start, &end);
        assert_int_equal(first, prof);
        assert_int_equal(start, n);
        assert_int_equal(end, n);

        for (int g = 0; g < 2; g++) {
                enum tb_stub_gen gen = g == 0 ? TB_STUB_252 : TB_STUB_257;
                _cleanup_(tb_pcr11_freep) tb_pcr11 *got = NULL, *want = NULL;
                tb_digests a, b;

                assert_int_equal(tb_pcr11_new(TB_BANKS_ALL, gen, &got), 0);
                assert_int_equal(tb_pcr11_set_from_pe(got, pe), 0);
                assert_int_equal(tb_pcr11_new(TB_BANKS_ALL, gen, &want), 0);
                assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_LINUX, "l", 1), 0);
                assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_OSREL, "ID=x\n", 5), 0);
                assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_CMDLINE, "ID=x\n", 5), 0);
                if (gen == TB_STUB_252) {
                        /* prefix match: .dtbauto is taken for .dtb */
                        assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_DTB, "ID=x\n", 5), 0);
                } else {
                        assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_DTBAUTO, "ID=x\n", 5), 0);
                        assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_SBAT, sbat.data, sbat.len), 0);
                        assert_int_equal(tb_pcr11_set_section_data(want, TB_UKI_PROFILE, ".profile?", 9), 0);
                        assert_false(tb_pcr11_has_section(got, TB_UKI_DTB));
                }
                assert_int_equal(tb_pcr11_value(got, "", &a), 0);
                assert_int_equal(tb_pcr11_value(want, "", &b), 0);
                assert_memory_equal(&a, &b, sizeof(a));
                /* one .profile: profile 0 only; 252–256 stubs have no profiles at all */
                assert_int_equal(tb_uki_n_profiles(pe), 1);
                assert_int_equal(tb_pcr11_set_from_pe_profile(got, pe, 1),
                                 gen == TB_STUB_252 ? -EOPNOTSUPP : -ENOENT);
                assert_int_equal(tb_pcr11_set_from_pe_profile(got, pe, 0), 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(section_name_record_includes_the_nul),
                cmocka_unit_test(appendix_a2_default_phases_match_systemd_measure_252),
                cmocka_unit_test(appendix_a3_sign_json_is_byte_identical),
                cmocka_unit_test(policy_digest_and_pkfp_match_appendix_a3),
                cmocka_unit_test(streamed_section_equals_one_shot_in_every_bank),
                cmocka_unit_test(changing_only_cmdline_reuses_kernel_and_initrd_digests),
                cmocka_unit_test(empty_section_is_absent_as_for_the_stub),
                cmocka_unit_test(stub_252_ignores_uname_and_sbat_254_measures_them),
                cmocka_unit_test(stub_generation_is_read_from_sdmagic_and_sbat),
                cmocka_unit_test(a_stub_newer_than_known_is_refused_unless_a_generation_is_forced),
                cmocka_unit_test(phases_are_normalized_sorted_and_unknown_words_refused),
                cmocka_unit_test(signing_refuses_non_rsa_and_foreign_public_keys),
                cmocka_unit_test(every_bank_signature_verifies_with_its_own_hash),
                cmocka_unit_test(uki_sections_follow_each_stub_generations_lookup_rules),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
