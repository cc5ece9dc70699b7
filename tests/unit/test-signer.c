/* tests/unit/test-signer.c — keys and certificates from files: PEM and DER, the key-certificate
 * match, expiry warnings, PKCS#11 URIs shown without their PIN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/ec.h>
#include <string.h>
#include <sys/stat.h>

#include "pe/signer.h"
#include "util/fileio.h"
#include "util/ossl.h"
#include "tmpdir.h"
#include "testcert.h"

typedef struct fx {
        char dir[256];
        EVP_PKEY *key, *other;
        X509 *cert;
} fx;

static void write_buf(const char *dir, const char *name, const tb_buf *b, char *path, size_t size) {
        snprintf(path, size, "%s/%s", dir, name);
        assert_int_equal(tb_write_file_new(path, b->data, b->len, 0600), 0);
}

static void write_text(const char *dir, const char *name, const char *text, char *path, size_t size) {
        snprintf(path, size, "%s/%s", dir, name);
        assert_int_equal(tb_write_file_new(path, text, strlen(text), 0600), 0);
}

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "signer");
        f->key = EVP_EC_gen("P-256");
        f->other = EVP_EC_gen("P-256");
        assert_non_null(f->key);
        assert_non_null(f->other);
        f->cert = tb_test_cert(f->key, "signer test", 365L * 86400);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_test_tmpdir_remove(f->dir);
        EVP_PKEY_free(f->key);
        EVP_PKEY_free(f->other);
        X509_free(f->cert);
        free(f);
        return 0;
}

static void pem_key_and_cert_round_trip(void **state) {
        fx *f = *state;
        tb_buf kpem = TB_BUF_INIT, cpem = TB_BUF_INIT;
        char kpath[512], cpath[512];
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;

        assert_int_equal(tb_key_to_pem(f->key, &kpem), 0);
        assert_non_null(memmem(kpem.data, kpem.len, "BEGIN PRIVATE KEY", 17));
        assert_int_equal(tb_cert_to_pem(f->cert, &cpem), 0);
        write_buf(f->dir, "db.key", &kpem, kpath, sizeof(kpath));
        write_buf(f->dir, "db.crt", &cpem, cpath, sizeof(cpath));

        assert_int_equal(tb_key_load(kpath, &key), 0);
        assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
        assert_int_equal(tb_cert_load(cpath, &cert), 0);
        assert_int_equal(X509_cmp(cert, f->cert), 0);
        EVP_PKEY_free(key);
        X509_free(cert);
        tb_buf_wipe(&kpem);
        tb_buf_free(&cpem);
}

static void der_certificate_is_accepted_and_trailing_bytes_are_not(void **state) {
        fx *f = *state;
        tb_buf der = TB_BUF_INIT;
        char path[512];
        X509 *cert = NULL;

        assert_int_equal(tb_cert_to_der(f->cert, &der), 0);
        write_buf(f->dir, "db.der", &der, path, sizeof(path));
        assert_int_equal(tb_cert_load(path, &cert), 0);
        assert_int_equal(X509_cmp(cert, f->cert), 0);
        X509_free(cert);
        cert = NULL;

        assert_int_equal(tb_buf_append(&der, "\0", 1), 0);
        assert_int_equal(tb_cert_from_der(der.data, der.len, &cert), -EBADMSG);
        assert_null(cert);
        assert_int_equal(tb_cert_from_der(der.data, der.len - 2, &cert), -EBADMSG);
        tb_buf_free(&der);
}

static void files_that_hold_something_else_are_ebadmsg(void **state) {
        fx *f = *state;
        tb_buf cpem = TB_BUF_INIT, pub = TB_BUF_INIT;
        char path[512], cpath[512], ppath[512];
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;

        write_text(f->dir, "junk", "hello\n", path, sizeof(path));
        assert_int_equal(tb_key_load(path, &key), -EBADMSG);
        assert_int_equal(tb_cert_load(path, &cert), -EBADMSG);
        assert_int_equal(tb_pubkey_load(path, &key), -EBADMSG);

        /* A certificate is not a private key, a public key is not a private key. */
        assert_int_equal(tb_cert_to_pem(f->cert, &cpem), 0);
        write_buf(f->dir, "c.pem", &cpem, cpath, sizeof(cpath));
        assert_int_equal(tb_key_load(cpath, &key), -EBADMSG);
        assert_int_equal(tb_pubkey_to_pem(f->key, &pub), 0);
        assert_non_null(memmem(pub.data, pub.len, "BEGIN PUBLIC KEY", 16));
        write_buf(f->dir, "p.pem", &pub, ppath, sizeof(ppath));
        assert_int_equal(tb_key_load(ppath, &key), -EBADMSG);
        assert_int_equal(tb_pubkey_load(ppath, &key), 0);
        assert_int_equal(EVP_PKEY_eq(key, f->key), 1);
        EVP_PKEY_free(key);
        assert_null(cert);

        snprintf(path, sizeof(path), "%s/missing.pem", f->dir);
        assert_int_equal(tb_cert_load(path, &cert), -ENOENT);
        assert_int_equal(tb_private_key_load(path, &key), -ENOENT);
        tb_buf_free(&cpem);
        tb_buf_free(&pub);
}

static void signer_refuses_a_key_of_another_certificate(void **state) {
        fx *f = *state;
        tb_buf good = TB_BUF_INIT, bad = TB_BUF_INIT, cpem = TB_BUF_INIT;
        char kpath[512], opath[512], cpath[512];
        tb_signer s = { 0 };

        assert_int_equal(tb_key_to_pem(f->key, &good), 0);
        assert_int_equal(tb_key_to_pem(f->other, &bad), 0);
        assert_int_equal(tb_cert_to_pem(f->cert, &cpem), 0);
        write_buf(f->dir, "good.key", &good, kpath, sizeof(kpath));
        write_buf(f->dir, "other.key", &bad, opath, sizeof(opath));
        write_buf(f->dir, "db.crt", &cpem, cpath, sizeof(cpath));

        assert_int_equal(tb_signer_load(opath, cpath, &s), -EKEYREJECTED);
        assert_null(s.key);
        assert_null(s.cert);
        assert_int_equal(tb_signer_load(kpath, cpath, &s), 0);
        assert_int_equal(EVP_PKEY_eq(s.key, f->key), 1);
        assert_int_equal(X509_cmp(s.cert, f->cert), 0);
        tb_signer_done(&s);
        assert_null(s.key);
        tb_buf_wipe(&good);
        tb_buf_wipe(&bad);
        tb_buf_free(&cpem);
}

static void expiry_warning_distinguishes_far_soon_and_past(void **state) {
        fx *f = *state;
        X509 *soon = tb_test_cert(f->key, "signer test", 2L * 86400), *gone = tb_test_cert(f->key, "signer test", -3600);

        tb_cert_set_expiry_warn_days(30);
        assert_int_equal(tb_cert_warn_expiry(f->cert, "far"), 0);
        assert_int_equal(tb_cert_warn_expiry(soon, "soon"), 1);
        assert_int_equal(tb_cert_warn_expiry(gone, "gone"), 2);
        tb_cert_set_expiry_warn_days(1);
        assert_int_equal(tb_cert_warn_expiry(soon, "soon"), 0);
        tb_cert_set_expiry_warn_days(30);
        X509_free(soon);
        X509_free(gone);
}

static void display_name_hides_the_pin_of_a_pkcs11_uri(void **state) {
        char *shown;
        (void)state;

        shown = tb_key_display_name("pkcs11:token=sb;object=db?pin-value=1234");
        assert_non_null(shown);
        assert_null(strstr(shown, "1234"));
        assert_non_null(strstr(shown, "object=db"));
        free(shown);
        shown = tb_key_display_name("/etc/keys/db.key");
        assert_string_equal(shown, "/etc/keys/db.key");
        free(shown);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(pem_key_and_cert_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(der_certificate_is_accepted_and_trailing_bytes_are_not, setup, teardown),
                cmocka_unit_test_setup_teardown(files_that_hold_something_else_are_ebadmsg, setup, teardown),
                cmocka_unit_test_setup_teardown(signer_refuses_a_key_of_another_certificate, setup, teardown),
                cmocka_unit_test_setup_teardown(expiry_warning_distinguishes_far_soon_and_past, setup, teardown),
                cmocka_unit_test(display_name_hides_the_pin_of_a_pkcs11_uri),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
