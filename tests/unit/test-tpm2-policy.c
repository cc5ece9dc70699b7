/* tests/unit/test-tpm2-policy.c — policy digests and names bit-exact with systemd 252
 * (formats.md Appendix A.3–A.5 vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "util/codec.h"
#include "util/ossl.h"
#include "measure/pcr.h"
#include "measure/tpm2-policy.h"
#include "tpm2-vectors.h"

static void assert_hex(const uint8_t *got, size_t len, const char *want) {
        char hex[2 * 256 + 1];

        assert_true(len <= 256);
        tb_hex_encode(got, len, hex);
        if (strcmp(hex, want) != 0)
                fail_msg("got  %s\nwant %s", hex, want);
}

static EVP_PKEY *test_key(void) {
        EVP_PKEY *key = NULL;

        assert_int_equal(tb_tpm2_pubkey_from_pem((const uint8_t *)test_pub_pem, strlen(test_pub_pem), &key), 0);
        return key;
}

static void test_key_name(uint8_t name[TB_TPM2_NAME_SIZE]) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = test_key();
        TPM2B_PUBLIC pub;

        assert_int_equal(tb_tpm2_pubkey_to_public(key, &pub), 0);
        assert_int_equal(tb_tpm2_public_name(&pub, name), 0);
}

static void pubkey_marshals_as_systemd_tpmt_public_with_real_exponent(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = test_key();
        uint8_t buf[sizeof(TPMT_PUBLIC)];
        TPM2B_PUBLIC pub;
        size_t off = 0;
        (void)state;

        assert_int_equal(tb_tpm2_pubkey_to_public(key, &pub), 0);
        assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&pub.publicArea, buf, sizeof(buf), &off), TSS2_RC_SUCCESS);
        assert_int_equal(off, 22 + 256);
        assert_hex(buf, 22, "0001000b000600400000001000100800000100010100");
        assert_int_equal(buf[22], 0xa5); /* modulus, big-endian, no leading zero */
}

static void pubkey_name_matches_a4(void **state) {
        uint8_t name[TB_TPM2_NAME_SIZE];
        (void)state;

        test_key_name(name);
        assert_hex(name, sizeof(name), "000bc9ec1968b29cb99141c1827b9c6d2445853d5cda75d811bf1bf2fbdb403c1924");
}

static void pubkey_fingerprint_is_sha256_of_pkcs1_der(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = test_key();
        uint8_t fp[32];
        (void)state;

        /* pcr.c's pkfp, which tpm2.c matches .pcrsig entries with */
        assert_int_equal(tb_pcr_pkfp(key, fp), 0);
        assert_hex(fp, sizeof(fp), "4176d001e459ff4e7736cc0e7f1ad6132a709b637ff6a0576e453f2a2b6dc291");
}

static void non_rsa_pcr_key_is_refused(void **state) {
        static const char ec_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                                     "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENVYDa5gHFe/P7PHvIGKEMKPaOUl2\n"
                                     "ffham29w0OyvX9MCHjOx6V0aaksvb3xy8bMztumow0DiurI2jzdJS6ta5w==\n"
                                     "-----END PUBLIC KEY-----\n";
        EVP_PKEY *key = NULL;
        (void)state;

        assert_int_equal(tb_tpm2_pubkey_from_pem((const uint8_t *)ec_pem, strlen(ec_pem), &key), -EBADMSG);
        assert_int_equal(tb_tpm2_pubkey_from_pem((const uint8_t *)"junk", 4, &key), -EBADMSG);
        assert_null(key);
}

static void policy_authorize_matches_a4(void **state) {
        uint8_t name[TB_TPM2_NAME_SIZE], d[TB_TPM2_DIGEST_SIZE];
        (void)state;

        test_key_name(name);
        memset(d, 0xee, sizeof(d)); /* PolicyAuthorize resets: what came before must not matter */
        tb_tpm2_policy_authorize(d, name);
        assert_hex(d, sizeof(d), "492ec07e4e2356a85ea5dba05621fed66b36887c3136d9e40378da22679a9f12");
}

static void authorize_then_pcr7_then_authvalue_matches_a4(void **state) {
        uint8_t name[TB_TPM2_NAME_SIZE], d[TB_TPM2_DIGEST_SIZE], pcr7[32] = { 0 };
        (void)state;

        test_key_name(name);
        tb_tpm2_policy_authorize(d, name);
        assert_int_equal(tb_tpm2_policy_pcr(d, TPM2_ALG_SHA256, 1u << 7, pcr7, sizeof(pcr7)), 0);
        assert_hex(d, sizeof(d), "3be11c6efe041ddd3d2661af520273aa1795e3e849c4b3abcda7bde118c767b4");
        tb_tpm2_policy_auth_value(d);
        assert_hex(d, sizeof(d), "4d36587858c20418772a506c08be866497de658f713a0cef2d0c3a620481f85a");
}

static void policy_pcr_alone_matches_a4(void **state) {
        uint8_t d[TB_TPM2_DIGEST_SIZE] = { 0 }, pcr7[32] = { 0 };
        (void)state;

        assert_int_equal(tb_tpm2_policy_pcr(d, TPM2_ALG_SHA256, 1u << 7, pcr7, sizeof(pcr7)), 0);
        assert_hex(d, sizeof(d), "8b5682d81b29435d08d79278150611dc7e5923b2fefcce684a09577b40130a8b");
}

static void signed_pcr11_policy_is_the_pol_systemd_measure_signs(void **state) {
        uint8_t d[TB_TPM2_DIGEST_SIZE] = { 0 }, pcr11[32];
        (void)state;

        assert_int_equal(tb_hex_decode("bc7ed6dd5a5ee99f2045f8a448dedf13afc6462e03574033ddfa2b642538c48c", pcr11,
                                       sizeof(pcr11)),
                         0);
        assert_int_equal(tb_tpm2_policy_pcr(d, TPM2_ALG_SHA256, 1u << 11, pcr11, sizeof(pcr11)), 0);
        assert_hex(d, sizeof(d), "08a8ce75567ea37895ff965b4ace93ef4f92899b093b932c9c322213e8abc5a6");
}

static void policy_pcr_refuses_values_of_the_wrong_length(void **state) {
        uint8_t d[TB_TPM2_DIGEST_SIZE] = { 0 }, v[64] = { 0 };
        (void)state;

        assert_int_equal(tb_tpm2_policy_pcr(d, TPM2_ALG_SHA256, (1u << 7) | (1u << 11), v, 32), -EINVAL);
        assert_int_equal(tb_tpm2_policy_pcr(d, 0x1234, 1u << 7, v, 32), -EINVAL);
}

static void pcr_selection_sets_bit_i_mod_8_of_byte_i_div_8(void **state) {
        TPML_PCR_SELECTION s;
        (void)state;

        tb_tpm2_pcr_selection(TPM2_ALG_SHA256, (1u << 0) | (1u << 7) | (1u << 11) | (1u << 23), &s);
        assert_int_equal(s.count, 1);
        assert_int_equal(s.pcrSelections[0].hash, TPM2_ALG_SHA256);
        assert_int_equal(s.pcrSelections[0].sizeofSelect, 3);
        assert_hex(s.pcrSelections[0].pcrSelect, 3, "810880");
}

static void pin_auth_values_match_a5(void **state) {
        uint8_t a[TB_TPM2_DIGEST_SIZE], salt[32];
        (void)state;

        tb_tpm2_pin_auth_value("1234", a);
        assert_hex(a, sizeof(a), "03ac674216f3e15c761ee1a5e255f067953623c8b388b4459e13f978d7c846f4");
        for (int i = 0; i < 32; i++)
                salt[i] = (uint8_t)i;
        assert_int_equal(tb_tpm2_pin_auth_value_salted("1234", salt, sizeof(salt), a), 0);
        assert_hex(a, sizeof(a), "707057c835474da74bcd75b848540fe2bbbf46d9d30a96b148814aecadeddedd");
}

static void pcr_lists_parse_like_systemd_and_reject_junk(void **state) {
        uint32_t m;
        (void)state;

        assert_int_equal(tb_tpm2_pcr_mask_parse("7+11", &m), 0);
        assert_int_equal(m, (1u << 7) | (1u << 11));
        assert_int_equal(tb_tpm2_pcr_mask_parse("0,23", &m), 0);
        assert_int_equal(m, 1u | (1u << 23));
        assert_int_equal(tb_tpm2_pcr_mask_parse("", &m), 0);
        assert_int_equal(m, 0);
        assert_int_equal(tb_tpm2_pcr_mask_parse("24", &m), -EINVAL);
        assert_int_equal(tb_tpm2_pcr_mask_parse("7+", &m), -EINVAL);
        assert_int_equal(tb_tpm2_pcr_mask_parse("+7", &m), -EINVAL);
        assert_int_equal(tb_tpm2_pcr_mask_parse("7 ", &m), -EINVAL);
        assert_int_equal(tb_tpm2_pcr_mask_parse("0007", &m), -EINVAL);
}

static void find_signature_returns_the_a3_sig_that_verifies_over_pol(void **state) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = test_key();
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        _cleanup_(tb_buf_freep) tb_buf sig = TB_BUF_INIT;
        uint8_t pol[TB_TPM2_DIGEST_SIZE], pkfp[32];
        char fp[TB_TPM2_PKFP_HEX];
        (void)state;

        assert_int_equal(tb_pcr_pkfp(key, pkfp), 0);
        tb_hex_encode(pkfp, sizeof(pkfp), fp);
        assert_int_equal(tb_hex_decode("08a8ce75567ea37895ff965b4ace93ef4f92899b093b932c9c322213e8abc5a6", pol,
                                       sizeof(pol)),
                         0);
        assert_int_equal(tb_tpm2_find_signature(a3_signature_json, strlen(a3_signature_json), TPM2_ALG_SHA256,
                                                1u << 11, fp, pol, &sig),
                         0);
        assert_int_equal(sig.len, 256);
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestVerify(ctx, sig.data, sig.len, pol, sizeof(pol)), 1);
}

static void find_signature_matches_bank_pcrs_key_and_policy(void **state) {
        _cleanup_(tb_buf_freep) tb_buf sig = TB_BUF_INIT;
        const char *fp = "4176d001e459ff4e7736cc0e7f1ad6132a709b637ff6a0576e453f2a2b6dc291";
        size_t len = strlen(a3_signature_json);
        uint8_t pol[TB_TPM2_DIGEST_SIZE];
        (void)state;

        assert_int_equal(tb_hex_decode("08a8ce75567ea37895ff965b4ace93ef4f92899b093b932c9c322213e8abc5a6", pol,
                                       sizeof(pol)),
                         0);
        assert_int_equal(tb_tpm2_find_signature(a3_signature_json, len, TPM2_ALG_SHA1, 1u << 11, fp, pol, &sig),
                         -ENXIO);
        assert_int_equal(tb_tpm2_find_signature(a3_signature_json, len, TPM2_ALG_SHA256, (1u << 11) | 1, fp, pol,
                                                &sig),
                         -ENXIO);
        assert_int_equal(tb_tpm2_find_signature(a3_signature_json, len, TPM2_ALG_SHA256, 1u << 11,
                                                "0000000000000000000000000000000000000000000000000000000000000000",
                                                pol, &sig),
                         -ENXIO);
        pol[0] ^= 1;
        assert_int_equal(tb_tpm2_find_signature(a3_signature_json, len, TPM2_ALG_SHA256, 1u << 11, fp, pol, &sig),
                         -ENXIO);
        assert_int_equal(sig.len, 0);
}

static void find_signature_rejects_malformed_documents(void **state) {
        static const char *bad[] = {
                "",
                "[]",
                "{\"sha256\":{}}",
                "{\"sha256\":[1]}",
                "{\"sha256\":[]} trailing",
                "{\"sha256\":[{\"pcrs\":[11],\"pol\":\"00\",\"sig\":\"AA==\"}]",
        };
        _cleanup_(tb_buf_freep) tb_buf sig = TB_BUF_INIT;
        uint8_t pol[TB_TPM2_DIGEST_SIZE] = { 0 };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (tb_tpm2_find_signature(bad[i], strlen(bad[i]), TPM2_ALG_SHA256, 1u << 11, "x", pol, &sig) !=
                    -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(pubkey_marshals_as_systemd_tpmt_public_with_real_exponent),
                cmocka_unit_test(pubkey_name_matches_a4),
                cmocka_unit_test(pubkey_fingerprint_is_sha256_of_pkcs1_der),
                cmocka_unit_test(non_rsa_pcr_key_is_refused),
                cmocka_unit_test(policy_authorize_matches_a4),
                cmocka_unit_test(authorize_then_pcr7_then_authvalue_matches_a4),
                cmocka_unit_test(policy_pcr_alone_matches_a4),
                cmocka_unit_test(signed_pcr11_policy_is_the_pol_systemd_measure_signs),
                cmocka_unit_test(policy_pcr_refuses_values_of_the_wrong_length),
                cmocka_unit_test(pcr_selection_sets_bit_i_mod_8_of_byte_i_div_8),
                cmocka_unit_test(pin_auth_values_match_a5),
                cmocka_unit_test(pcr_lists_parse_like_systemd_and_reject_junk),
                cmocka_unit_test(find_signature_returns_the_a3_sig_that_verifies_over_pol),
                cmocka_unit_test(find_signature_matches_bank_pcrs_key_and_policy),
                cmocka_unit_test(find_signature_rejects_malformed_documents),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
