/* tests/unit/test-tpm2.c — sealing and unsealing against swtpm (a fresh one per test, on a private
 * socket): the secret comes back; a changed literal PCR, a wrong PIN, a state the PCR key did not
 * sign and a signature by another key are each refused with their own error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/stat.h>

#include "measure/pcr.h"
#include "pe/signer.h"
#include "tpm/tpm2.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "swtpm.h"
#include "tmpdir.h"

typedef struct fx {
        char dir[256], device[420];
        pid_t swtpm;
        tb_tpm2 *tpm;
} fx;

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "tpm2");
        tb_test_swtpm_start(f->dir, &f->swtpm, f->device, sizeof(f->device));
        assert_int_equal(tb_tpm2_open(f->device, &f->tpm), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_tpm2_free(f->tpm);
        tb_test_swtpm_stop(&f->swtpm);
        tb_test_tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static void no_tpm_there_is_an_error(void **state) {
        tb_tpm2 *t = NULL;
        (void)state;

        assert_true(tb_tpm2_open("swtpm:path=/nonexistent/tpm.sock", &t) < 0);
        assert_null(t);
}

/* An EC key (systemd 252 verifies RSASSA only) and junk are refused before anything is sealed. */
static void a_pcr_key_that_is_not_rsa_is_refused(void **state) {
        EVP_PKEY *ec = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048);
        uint8_t *pem;
        long len;
        BIO *b;
        (void)state;

        assert_non_null(ec);
        assert_non_null(rsa);
        for (int i = 0; i < 2; i++) {
                b = BIO_new(BIO_s_mem());
                assert_int_equal(PEM_write_bio_PUBKEY(b, i ? rsa : ec), 1);
                len = BIO_get_mem_data(b, (char **)&pem);
                assert_int_equal(tb_tpm2_pubkey_check(pem, (size_t)len, "key.pem"), i ? 0 : -EBADMSG);
                BIO_free(b);
        }
        assert_int_equal(tb_tpm2_pubkey_check((const uint8_t *)"junk", 4, "junk.pem"), -EBADMSG);
        EVP_PKEY_free(ec);
        EVP_PKEY_free(rsa);
}

static void literal_pcrs_unseal_until_they_change(void **state) {
        fx *f = *state;
        tb_tpm2_seal_params p = { .pcr_mask = 1u << 7 };
        tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        uint8_t secret[TB_TPM2_SECRET_SIZE], back[TB_TPM2_SECRET_SIZE], zero[TB_TPM2_SECRET_SIZE] = { 0 };

        assert_int_equal(tb_tpm2_seal(f->tpm, &p, secret, &s), 0);
        assert_memory_not_equal(secret, zero, sizeof(zero));
        assert_true(s.blob.len > 0);
        assert_int_equal(s.pcr_mask, 1u << 7);
        assert_int_equal(s.pubkey_pcr_mask, 0);
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, NULL, NULL, back), 0);
        assert_memory_equal(secret, back, sizeof(back));

        assert_true(tb_tpm2_pcr_extend(f->tpm, 7, "another boot", 12) >= 1);
        memset(back, 0, sizeof(back));
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, NULL, NULL, back), -EPERM);
        assert_memory_equal(back, zero, sizeof(zero));
        tb_tpm2_sealed_done(&s);
}

/* One secret, two sealed objects: under the legacy primary and under the SRK, which is persisted
 * at 0x81000001 on the first seal and reused (same serialization) on the next. */
static void a_pair_seals_one_secret_under_both_keys(void **state) {
        fx *f = *state;
        tb_tpm2_seal_params p = { .pcr_mask = 1u << 7 };
        tb_tpm2_sealed legacy = TB_TPM2_SEALED_INIT, srk = TB_TPM2_SEALED_INIT;
        tb_tpm2_sealed legacy2 = TB_TPM2_SEALED_INIT, srk2 = TB_TPM2_SEALED_INIT;
        uint8_t secret[TB_TPM2_SECRET_SIZE], secret2[TB_TPM2_SECRET_SIZE], back[TB_TPM2_SECRET_SIZE];

        assert_int_equal(tb_tpm2_seal_pair(f->tpm, &p, secret, &legacy, &srk), 0);
        assert_true(legacy.blob.len > 0 && srk.blob.len > 0);
        assert_int_equal(legacy.srk.len, 0);
        assert_true(srk.srk.len > 0);
        assert_memory_equal(legacy.policy_hash, srk.policy_hash, sizeof(srk.policy_hash));
        assert_int_equal(srk.primary_alg, 0x0023); /* TPM2_ALG_ECC */
        assert_int_equal(tb_tpm2_unseal(f->tpm, &legacy, NULL, NULL, back), 0);
        assert_memory_equal(secret, back, sizeof(back));
        memset(back, 0, sizeof(back));
        assert_int_equal(tb_tpm2_unseal(f->tpm, &srk, NULL, NULL, back), 0);
        assert_memory_equal(secret, back, sizeof(back));

        assert_int_equal(tb_tpm2_seal_pair(f->tpm, &p, secret2, &legacy2, &srk2), 0);
        assert_memory_not_equal(secret, secret2, sizeof(secret));
        assert_int_equal(srk2.srk.len, srk.srk.len);
        assert_memory_equal(srk2.srk.data, srk.srk.data, srk.srk.len);
        tb_tpm2_sealed_done(&legacy);
        tb_tpm2_sealed_done(&srk);
        tb_tpm2_sealed_done(&legacy2);
        tb_tpm2_sealed_done(&srk2);
}

static void a_wrong_pin_is_eacces(void **state) {
        fx *f = *state;
        tb_tpm2_seal_params p = { .pin = "1234" };
        tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        uint8_t secret[TB_TPM2_SECRET_SIZE], back[TB_TPM2_SECRET_SIZE];

        assert_int_equal(tb_tpm2_seal(f->tpm, &p, secret, &s), 0);
        assert_true(s.pin);
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, "4321", NULL, back), -EACCES);
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, "1234", NULL, back), 0);
        assert_memory_equal(secret, back, sizeof(back));
        tb_tpm2_sealed_done(&s);
}

/* systemd-measure's JSON for PCR 11 holding VALUE, signed by SIGNER, claiming KEY's fingerprint. */
static void write_signature(const char *path, EVP_PKEY *key, EVP_PKEY *signer, const uint8_t value[32]) {
        uint8_t pol[32], fp[32];
        char pol_hex[65], fp_hex[65], json[2048];
        tb_buf sig = TB_BUF_INIT, b64 = TB_BUF_INIT;

        assert_int_equal(tb_pcr_policy_digest(TB_BANK_SHA256, value, pol), 0);
        assert_int_equal(tb_pcr_pkfp(key, fp), 0);
        assert_int_equal(tb_pcr_sign_policy(signer, TB_BANK_SHA256, pol, &sig), 0);
        assert_int_equal(tb_base64_encode(sig.data, sig.len, &b64), 0);
        assert_int_equal(tb_buf_append_zero(&b64, 1), 0);
        tb_hex_encode(pol, 32, pol_hex);
        tb_hex_encode(fp, 32, fp_hex);
        snprintf(json, sizeof(json), "{\"sha256\":[{\"pcrs\":[11],\"pkfp\":\"%s\",\"pol\":\"%s\",\"sig\":\"%s\"}]}",
                 fp_hex, pol_hex, (const char *)b64.data);
        assert_int_equal(tb_write_file_atomic(path, json, strlen(json), 0644, true), 0);
        tb_buf_free(&sig);
        tb_buf_free(&b64);
}

static void signed_policy_unseals_only_the_signed_state(void **state) {
        fx *f = *state;
        EVP_PKEY *key = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
        tb_buf pem = TB_BUF_INIT;
        tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        uint8_t secret[TB_TPM2_SECRET_SIZE], back[TB_TPM2_SECRET_SIZE], value[32] = { 0 }, wrong[32] = { 0 };
        uint8_t ext[64] = { 0 };
        char sig[400];

        assert_int_equal(tb_pubkey_to_pem(key, &pem), 0);
        tb_tpm2_seal_params p = { .pubkey_pcr_mask = 1u << 11, .pubkey_pem = pem.data, .pubkey_pem_len = pem.len };
        assert_int_equal(tb_tpm2_seal(f->tpm, &p, secret, &s), 0);
        assert_int_equal(s.pubkey_pcr_mask, 1u << 11);

        /* PCR 11 after one extend from zero: SHA-256(0…0 ‖ SHA-256(word)). */
        assert_true(tb_tpm2_pcr_extend(f->tpm, 11, "enter-initrd", 12) >= 1);
        SHA256((const uint8_t *)"enter-initrd", 12, ext + 32);
        SHA256(ext, sizeof(ext), value);
        snprintf(sig, sizeof(sig), "%s/tpm2-pcr-signature.json", f->dir);

        write_signature(sig, key, key, value);
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, NULL, sig, back), 0);
        assert_memory_equal(secret, back, sizeof(back));

        write_signature(sig, key, key, wrong); /* a state this boot is not in */
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, NULL, sig, back), -ENXIO);
        write_signature(sig, key, other, value); /* the right claims, another key's signature */
        assert_int_equal(tb_tpm2_unseal(f->tpm, &s, NULL, sig, back), -EKEYREJECTED);

        tb_tpm2_sealed_done(&s);
        tb_buf_free(&pem);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(no_tpm_there_is_an_error),
                cmocka_unit_test(a_pcr_key_that_is_not_rsa_is_refused),
                cmocka_unit_test_setup_teardown(literal_pcrs_unseal_until_they_change, setup, teardown),
                cmocka_unit_test_setup_teardown(a_pair_seals_one_secret_under_both_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(a_wrong_pin_is_eacces, setup, teardown),
                cmocka_unit_test_setup_teardown(signed_policy_unseals_only_the_signed_state, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
