/* tests/unit/test-pcrkey-rotate.c — the checks of a PCR key rotation that come before any TPM
 * or keyslot is touched: the key must be an RSA public key, the device a LUKS2 volume with a
 * systemd-tpm2 token. The rotation itself runs against swtpm in
 * tests/interop/tpm-add-pcr-key-swtpm.sh and in the VM in tests/e2e/key-rotation-installed-node.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#include "tmpdir.h"
#include "tpm/pcrkey-rotate.h"
#include "util/fileio.h"

static void not_a_public_key_is_ebadmsg(void **state) {
        static const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        tb_pcrkey_rotate o = { .device = "/nonexistent", .pem = (const uint8_t *)junk, .pem_len = sizeof(junk) - 1,
                               .pem_name = "junk.pem" };
        (void)state;

        assert_int_equal(tb_pcrkey_add(&o), -EBADMSG);
        assert_int_equal(tb_pcrkey_remove(&o), -EBADMSG);
}

static void a_plain_file_is_refused(void **state) {
        char buf[512], path[600];
        const char *dir = tb_test_tmpdir_make(buf, sizeof(buf), "pcrkey");
        EVP_PKEY *key = EVP_RSA_gen(2048);
        BIO *bio = BIO_new(BIO_s_mem());
        char *pem;
        long n;
        (void)state;

        assert_non_null(key);
        assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
        n = BIO_get_mem_data(bio, &pem);
        snprintf(path, sizeof(path), "%s/plain.img", dir);
        assert_int_equal(tb_write_file_new(path, "not LUKS", 8, 0600), 0);
        tb_pcrkey_rotate o = { .device = path, .pem = (const uint8_t *)pem, .pem_len = (size_t)n, .pem_name = "new.pem" };
        assert_int_equal(tb_pcrkey_add(&o), -EMEDIUMTYPE);
        assert_true(tb_pcrkey_remove(&o) < 0);
        BIO_free(bio);
        EVP_PKEY_free(key);
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(not_a_public_key_is_ebadmsg),
                cmocka_unit_test(a_plain_file_is_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
