/* tests/unit/test-luks-token.c — the systemd-tpm2 token JSON: what systemd 252 and 257 write is
 * what we read, and what we write is byte-for-byte what systemd 252 writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/codec.h"
#include "tpm/luks-token.h"
#include "tpm2-vectors.h"

static void parse(const char *json, tb_tpm2_sealed *s, int *slot) {
        int r = tb_luks_token_parse(json, strlen(json), s, slot);

        if (r < 0)
                fail_msg("parse failed (%d): %s", r, json);
}

static void v252_token_parses_into_every_field(void **state) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        char hash[65];
        int slot = -1;
        (void)state;

        parse(v252_token_json, &s, &slot);
        assert_int_equal(slot, 1);
        assert_int_equal(s.blob.len, 0x9e + 2 + 0x4e + 2); /* TPM2B_PRIVATE ‖ TPM2B_PUBLIC */
        assert_int_equal(s.blob.data[1], 0x9e);
        assert_int_equal(s.pcr_mask, 1u << 7);
        assert_int_equal(s.bank, TPM2_ALG_SHA256);
        assert_int_equal(s.primary_alg, TPM2_ALG_ECC);
        tb_hex_encode(s.policy_hash, sizeof(s.policy_hash), hash);
        assert_string_equal(hash, "4d36587858c20418772a506c08be866497de658f713a0cef2d0c3a620481f85a");
        assert_true(s.pin);
        assert_int_equal(s.pubkey_pcr_mask, 1u << 11);
        assert_int_equal(s.pubkey_pem.len, strlen(test_pub_pem));
        assert_memory_equal(s.pubkey_pem.data, test_pub_pem, s.pubkey_pem.len);
        assert_int_equal(s.salt.len, 0);
}

static void formatting_a_parsed_v252_token_gives_the_same_bytes(void **state) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        _cleanup_(freep) char *json = NULL;
        int slot;
        (void)state;

        parse(v252_token_json, &s, &slot);
        assert_int_equal(tb_luks_token_format(&s, slot, &json), 0);
        assert_string_equal(json, v252_token_json);
}

static void token_without_signed_policy_has_no_pubkey_fields(void **state) {
        tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        _cleanup_(freep) char *json = NULL;
        (void)state;

        assert_int_equal(tb_buf_append(&s.blob, "\x00\x01\x02", 3), 0);
        s.bank = TPM2_ALG_SHA256;
        s.primary_alg = TPM2_ALG_RSA;
        s.pcr_mask = (1u << 0) | (1u << 7);
        memset(s.policy_hash, 0xab, sizeof(s.policy_hash));
        assert_int_equal(tb_luks_token_format(&s, 3, &json), 0);
        assert_string_equal(json, "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"3\"],\"tpm2-blob\":\"AAEC\","
                                  "\"tpm2-pcrs\":[0,7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-primary-alg\":\"rsa\","
                                  "\"tpm2-policy-hash\":\"abababababababababababababababababababababababababababababababab\","
                                  "\"tpm2-pin\":false}");
        tb_tpm2_sealed_done(&s);
}

static void old_tokens_default_to_sha256_ecc_and_no_pin(void **state) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        const char *json = "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAEC\",\"tpm2-pcrs\":[7],"
                           "\"tpm2-policy-hash\":\"8B5682D81B29435D08D79278150611DC7E5923B2FEFCCE684A09577B40130A8B\"}";
        int slot;
        (void)state;

        parse(json, &s, &slot);
        assert_int_equal(s.bank, TPM2_ALG_SHA256);
        assert_int_equal(s.primary_alg, TPM2_ALG_ECC);
        assert_false(s.pin);
        assert_int_equal(s.pubkey_pcr_mask, 0);
        assert_int_equal(s.policy_hash[0], 0x8b);
}

static void salted_pin_of_newer_tokens_is_kept(void **state) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        const char *json = "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"2\"],\"tpm2-blob\":\"AAEC\",\"tpm2-pcrs\":[],"
                           "\"tpm2-policy-hash\":\"0000000000000000000000000000000000000000000000000000000000000000\","
                           "\"tpm2-pin\":true,\"tpm2_salt\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}";
        int slot;
        (void)state;

        parse(json, &s, &slot);
        assert_true(s.pin);
        assert_int_equal(s.salt.len, 32);
        assert_int_equal(s.salt.data[31], 31);
}

/* Written by systemd-cryptenroll 257 (Debian 13) against a swtpm: --tpm2-public-key
 * --tpm2-public-key-pcrs=11 --tpm2-pcrs=7 --tpm2-with-pin=yes; sealed under the SRK, PIN salted. */
static const char v257_token_json[] =
        "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AJ4AICaLHVxFFievPVaTxqOWrqzGaZOP"
        "7YIhRg76Lt0JAPQxABDLcpvJNtWAbSPrgh+ZlJNuVR6aQ/qWSBCvYpZlCrDq64BTYV68sI0gsjtTPCMsgD1YiuTZkT+0A8Hd"
        "Y3zkqeMer27eV55yHZ75GkTuK5zjlrHbSwn3S9PrDPe5XPZFoyecj6VjDZSQI9xlF4enH/0Eag0p524CrY+XOgBOAAgACwAA"
        "ABIAII2fUlnjbakZVV9NR7ZkFpkRHBz41ufkAc2Mol1FgwrSABAAIKarX5zp/aOYod4z1qnsBqcjibKChYHj9nMxBDKNIsUL"
        "\",\"tpm2-pcrs\":[7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-primary-alg\":\"ecc\",\"tpm2-policy-has"
        "h\":\"8d9f5259e36da919555f4d47b6641699111c1cf8d6e7e401cd8ca25d45830ad2\",\"tpm2-pin\":true,\"tpm"
        "2_pubkey_pcrs\":[11],\"tpm2_pubkey\":\"LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQklqQU5CZ2txaGtpR"
        "zl3MEJBUUVGQUFPQ0FROEFNSUlCQ2dLQ0FRRUF5VzVCT0dGVml1ZkswVm9IbU1RMgo3aFBYcUxaQS9xb3k5b1hpZ3ZNRTJuU"
        "nc0QTNxVHYrLzFGSXNFNUZtMkFtTWpGK0dzSTZib2p2S3c4SUtzZm1pClYwdkx1K0tBVFBKbWZWSC9LQkJ3ZUpoQzF1TmFtR"
        "kttYWVRSVE1b0t4NC8vRkRNbFdZYUdRdTBIYVF5a2lNVy8KeHZXa3RTeXZObktLNVZoOWs0NVpDU0tlVFdYK0JjeXQyMHlhO"
        "Ec0OU56dVFzM1Zhbk5uaTk4UkZnbDJ0eE1ueApkajJUazV4ZEhmVHRuZWdWU0pYZEllMWVDdmZDL0xVbFZYZDBXUTlkQ0tMY"
        "3RIdklxcjNhVStCbHltNzR4ZEFrCjAxR1BXT0JDWmt6TUlpYzQwNTBkaXQ5S21veXA5WjlaZHVyUkJTd2FMVk05Vm5yUGJ6Z"
        "E80SHFmSFJZbTY5bGoKNVFJREFRQUIKLS0tLS1FTkQgUFVCTElDIEtFWS0tLS0tCg==\",\"tpm2_salt\":\"hnQQ91E8fN"
        "hjHTZBIo+fdMxU7H4oBOQuvbcXb9AdKZQ=\",\"tpm2_srk\":\"gQAAAQAiAAuYJiyuzcwBI07sCuaEtRQOdVIAzmXzLPfq"
        "ZBOx9gSacQAAAAEAWgAjAAsAAwRyAAAABgCAAEMAEAADABAAIG1VszRas1ldkmnefb/1K2MWHC/Eeocb1DBibGRe/wmWACBB"
        "sZRxotQ7U62XTfrGeivLqjFMr60dWyAUuBVwEURboA==\"}";

static void v257_srk_token_parses_and_formats_back_to_the_same_bytes(void **state) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        _cleanup_(freep) char *json = NULL;
        int slot = -1;
        (void)state;

        parse(v257_token_json, &s, &slot);
        assert_int_equal(slot, 1);
        assert_int_equal(s.blob.len, 0x9e + 2 + 0x4e + 2);
        assert_int_equal(s.pcr_mask, 1u << 7);
        assert_int_equal(s.pubkey_pcr_mask, 1u << 11);
        assert_true(s.pin);
        assert_int_equal(s.salt.len, 32);
        /* ESYS_TR serialization: TPM handle 0x81000001 first, then the key's Name (SHA-256). */
        assert_true(s.srk.len > 4 + 2 + 34);
        assert_memory_equal(s.srk.data, "\x81\x00\x00\x01\x00\x22\x00\x0b", 8);
        assert_int_equal(tb_luks_token_format(&s, slot, &json), 0);
        assert_string_equal(json, v257_token_json);
}

static void shard_arrays_of_one_are_the_string(void **state) {
        _cleanup_(tb_tpm2_sealed_done) tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        const char *json = "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":[\"AAEC\"],\"tpm2-pcrs\":[7],"
                           "\"tpm2-policy-hash\":[\"8b5682d81b29435d08d79278150611dc7e5923b2fefcce684a09577b40130a8b\"]}";
        (void)state;

        parse(json, &s, NULL);
        assert_int_equal(s.blob.len, 3);
        assert_int_equal(s.policy_hash[0], 0x8b);
}

static void other_token_types_and_unsupported_features_are_told_apart(void **state) {
        static const struct {
                const char *json;
                int r;
        } cases[] = {
                { "{\"type\":\"systemd-fido2\",\"keyslots\":[\"0\"]}", -EMEDIUMTYPE },
                { "{\"keyslots\":[\"0\"]}", -EMEDIUMTYPE },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":[\"AAEC\",\"AAEC\"],"
                  "\"tpm2-policy-hash\":\"00\"}", -EOPNOTSUPP },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":[],"
                  "\"tpm2-policy-hash\":\"00\"}", -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAEC\",\"tpm2-pcrs\":[7],"
                  "\"tpm2-policy-hash\":\"8b5682d81b29435d08d79278150611dc7e5923b2fefcce684a09577b40130a8b\","
                  "\"tpm2_srk\":\"\"}", -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2_pcrlock\":true}", -EOPNOTSUPP },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[0],\"tpm2-blob\":\"AAEC\",\"tpm2-policy-hash\":\"00\"}",
                  -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"A A\",\"tpm2-policy-hash\":\"00\"}",
                  -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAEC\",\"tpm2-policy-hash\":\"00\"}",
                  -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAEC\",\"tpm2-pcrs\":[24],"
                  "\"tpm2-policy-hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
                  -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAEC\",\"tpm2-pcr-bank\":\"md5\","
                  "\"tpm2-policy-hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
                  -EBADMSG },
                { "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"AAEC\",\"tpm2_pubkey_pcrs\":[11],"
                  "\"tpm2-policy-hash\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
                  -EBADMSG },
                { "{\"type\":\"systemd-tpm2\"} x", -EBADMSG },
                { "[\"systemd-tpm2\"]", -EBADMSG },
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
                int r = tb_luks_token_parse(cases[i].json, strlen(cases[i].json), &s, NULL);

                tb_tpm2_sealed_done(&s);
                if (r != cases[i].r)
                        fail_msg("%s: got %d, want %d", cases[i].json, r, cases[i].r);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(v252_token_parses_into_every_field),
                cmocka_unit_test(formatting_a_parsed_v252_token_gives_the_same_bytes),
                cmocka_unit_test(token_without_signed_policy_has_no_pubkey_fields),
                cmocka_unit_test(old_tokens_default_to_sha256_ecc_and_no_pin),
                cmocka_unit_test(salted_pin_of_newer_tokens_is_kept),
                cmocka_unit_test(v257_srk_token_parses_and_formats_back_to_the_same_bytes),
                cmocka_unit_test(shard_arrays_of_one_are_the_string),
                cmocka_unit_test(other_token_types_and_unsupported_features_are_told_apart),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
