/* tests/unit/test-dbx.c — `dbx add`'s revocation lists byte for byte (an image's hash as efitools'
 * hash-to-efi-sig-list computes it, a certificate, a given hash; in that order), the update it
 * writes (an append to dbx the KEK's signature covers, the timestamp given), its one output line,
 * and that nothing is written when an input is bad. efitools' sign-efi-sig-list checks the whole
 * file byte for byte in tests/interop/sb-dbx-enroll-efitools.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pe-image.h"
#include "sb/dbx.h"
#include "sb/sbupdate.h"
#include "testcert.h"
#include "tmpdir.h"

/* EFI_CERT_SHA256_GUID, EFI_CERT_X509_GUID and trustboot's default owner in their on-disk byte
 * order, written out here rather than taken from the library. */
#define CERT_SHA256 0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28
#define CERT_X509 0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72
#define OWNER 0x75, 0x97, 0xa6, 0x88, 0xd7, 0x5a, 0xd9, 0x45, 0x9f, 0x34, 0xce, 0xc4, 0x3e, 0x1f, 0x19, 0x89
/* pe-image.h's basic image: its Authenticode SHA-256 as hash-to-efi-sig-list prints it. */
#define BASIC_SHA256                                                                                     \
        0xee, 0x57, 0x86, 0xd1, 0x82, 0xd3, 0xdf, 0x54, 0x08, 0x83, 0x80, 0x5f, 0xaf, 0x99, 0x55, 0x52, \
                0x5c, 0xc5, 0x9b, 0x3f, 0xf7, 0x3a, 0x0a, 0xa9, 0x37, 0x2e, 0x77, 0x6a, 0x93, 0x96, 0xe6, 0x90
#define HASH_HEX "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

typedef struct fixture {
        char dir[128]; /* first: tb_test_fixture_teardown */
        char image[200], key[200], cert[200], auth[200];
        EVP_PKEY *kek_key;
        X509 *kek;
} fixture;

static void write_pem(const char *path, EVP_PKEY *key, X509 *cert) {
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        assert_int_equal(key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert), 1);
        assert_int_equal(fclose(f), 0);
}

/* The basic image, a KEK (key and certificate as PEM files) beside it. */
static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        tb_buf img = TB_BUF_INIT;

        assert_non_null(f);
        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "dbx");
        img_make_basic(&img);
        tb_test_write(f->dir, "img.efi", img.data, img.len);
        tb_buf_free(&img);
        snprintf(f->image, sizeof(f->image), "%s/img.efi", f->dir);
        snprintf(f->key, sizeof(f->key), "%s/KEK.key", f->dir);
        snprintf(f->cert, sizeof(f->cert), "%s/KEK.pem", f->dir);
        snprintf(f->auth, sizeof(f->auth), "%s/dbx.auth", f->dir);
        f->kek_key = EVP_RSA_gen(2048);
        assert_non_null(f->kek_key);
        f->kek = tb_test_cert(f->kek_key, "kek", 86400L * 400);
        write_pem(f->key, f->kek_key, NULL);
        write_pem(f->cert, NULL, f->kek);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;

        X509_free(f->kek);
        EVP_PKEY_free(f->kek_key);
        return tb_test_fixture_teardown(state);
}

static void a_hash_is_one_list_of_one_sha256(void **state) {
        static const uint8_t want[] = {
                CERT_SHA256, 76, 0, 0, 0, /* SignatureListSize */ 0, 0, 0, 0, /* SignatureHeaderSize */
                48, 0, 0, 0, /* SignatureSize: owner + hash */ OWNER,
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        };
        const char *hashes[] = { HASH_HEX };
        tb_dbx_add_options o = { .hashes = hashes, .n_hashes = 1, .owner = TB_GUID_OWNER_CUSTOM };
        tb_buf esl = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_dbx_esl(&o, &esl), 0);
        assert_int_equal(esl.len, sizeof(want));
        assert_memory_equal(esl.data, want, sizeof(want));
        tb_buf_free(&esl);
}

/* Images first, then certificates, then hashes, whatever order the options came in. */
static void images_certificates_hashes_in_that_order(void **state) {
        fixture *f = *state;
        static const uint8_t image_list[] = { CERT_SHA256, 76, 0, 0, 0, 0, 0, 0, 0, 48, 0, 0, 0, OWNER, BASIC_SHA256 };
        const char *images[] = { f->image }, *certs[] = { f->cert }, *hashes[] = { HASH_HEX };
        tb_dbx_add_options o = { .images = images, .n_images = 1, .certs = certs, .n_certs = 1, .hashes = hashes,
                                 .n_hashes = 1, .owner = TB_GUID_OWNER_CUSTOM };
        tb_buf esl = TB_BUF_INIT;
        unsigned char *der = NULL;
        int der_len = i2d_X509(f->kek, &der);
        uint8_t cert_head[28 + 16] = { CERT_X509 };
        static const uint8_t owner[16] = { OWNER };

        assert_true(der_len > 0);
        assert_int_equal(tb_dbx_esl(&o, &esl), 0);
        assert_int_equal(esl.len, 76 + 28 + 16 + (size_t)der_len + 76);
        assert_memory_equal(esl.data, image_list, sizeof(image_list));
        tb_put_u32le(cert_head + 16, 28 + 16 + (uint32_t)der_len);
        tb_put_u32le(cert_head + 24, 16 + (uint32_t)der_len);
        memcpy(cert_head + 28, owner, 16);
        assert_memory_equal(esl.data + 76, cert_head, sizeof(cert_head));
        assert_memory_equal(esl.data + 76 + sizeof(cert_head), der, (size_t)der_len);
        assert_memory_equal(esl.data + esl.len - 76, esl.data, 28 + 16); /* the hash's list head as the image's */
        assert_memory_equal(esl.data + esl.len - 32, "\x00\x11\x22\x33", 4);
        OPENSSL_free(der);
        tb_buf_free(&esl);
}

/* The owner given (--owner) is every entry's. */
static void the_owner_is_every_entrys(void **state) {
        static const uint8_t owner[16] = { 0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd,
                                           0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
        const char *hashes[] = { HASH_HEX, HASH_HEX };
        tb_dbx_add_options o = { .hashes = hashes, .n_hashes = 2 };
        tb_buf esl = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_guid_from_string("01234567-89ab-cdef-0123-456789abcdef", &o.owner), 0);
        assert_int_equal(tb_dbx_esl(&o, &esl), 0);
        assert_int_equal(esl.len, 2 * 76);
        for (size_t i = 0; i < 2; i++)
                assert_memory_equal(esl.data + 76 * i + 28, owner, sizeof(owner));
        tb_buf_free(&esl);
}

static void the_update_appends_to_dbx_signed_by_the_kek(void **state) {
        fixture *f = *state;
        const char *images[] = { f->image }, *hashes[] = { HASH_HEX, HASH_HEX };
        tb_dbx_add_options o = { .images = images, .n_images = 1, .hashes = hashes, .n_hashes = 2,
                                 .owner = TB_GUID_OWNER_CUSTOM, .kek_key = f->key, .kek_cert = f->cert,
                                 .epoch = 1700000000, .output = f->auth };
        /* EFI_TIME of 2023-11-14T22:13:20Z: year (LE), month, day, hour, minute, second, the rest 0 */
        static const uint8_t efi_time[16] = { 0xe7, 0x07, 11, 14, 22, 13, 20 };
        tb_buf auth = TB_BUF_INIT, esl = TB_BUF_INIT;
        char *text = NULL, want[400];
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        tb_auth_parts p;
        struct stat st;

        assert_non_null(out);
        assert_int_equal(tb_dbx_add(&o, out), 0);
        assert_int_equal(fclose(out), 0);
        snprintf(want, sizeof(want), "Wrote %s: a KEK-signed dbx append of 1 image, 0 certificates, 2 hashes.\n",
                 f->auth);
        assert_string_equal(text, want);
        assert_int_equal(stat(f->auth, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(tb_read_file(f->auth, 1 << 20, &auth), 0);
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), 0);
        assert_memory_equal(p.efi_time, efi_time, sizeof(efi_time));
        assert_int_equal(tb_dbx_esl(&o, &esl), 0);
        assert_int_equal(p.payload_len, esl.len);
        assert_memory_equal(p.payload, esl.data, esl.len);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x27 | 0x40, &f->kek, 1), 1);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x27, &f->kek, 1), 0);
        free(text);
        tb_buf_free(&auth);
        tb_buf_free(&esl);
}

/* -k KEYDIR: the key set's KEK.key and KEK.pem sign; NULL OUT prints nothing (-q). */
static void a_key_set_signs_with_its_kek(void **state) {
        fixture *f = *state;
        const char *certs[] = { f->cert };
        tb_dbx_add_options o = { .certs = certs, .n_certs = 1, .owner = TB_GUID_OWNER_CUSTOM, .keys = f->dir,
                                 .epoch = 0, .output = f->auth };
        tb_buf auth = TB_BUF_INIT;
        tb_auth_parts p;

        assert_int_equal(tb_dbx_add(&o, NULL), 0);
        assert_int_equal(tb_read_file(f->auth, 1 << 20, &auth), 0);
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &f->kek, 1), 1);
        tb_buf_free(&auth);
}

/* A bad hash, a missing image or certificate, a key that is not there: an error, no file. */
static void bad_inputs_write_nothing(void **state) {
        fixture *f = *state;
        static const char *const bad_hashes[] = {
                "00112233", HASH_HEX "00", "g0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "",
        };
        char missing[220];
        const char *one[1];
        tb_dbx_add_options o = { .owner = TB_GUID_OWNER_CUSTOM, .kek_key = f->key, .kek_cert = f->cert,
                                 .output = f->auth };

        snprintf(missing, sizeof(missing), "%s/missing", f->dir);
        o.hashes = one, o.n_hashes = 1;
        for (size_t i = 0; i < sizeof(bad_hashes) / sizeof(bad_hashes[0]); i++) {
                one[0] = bad_hashes[i];
                assert_int_equal(tb_dbx_add(&o, stdout), -EINVAL);
        }
        one[0] = missing;
        o.n_hashes = 0, o.images = one, o.n_images = 1;
        assert_true(tb_dbx_add(&o, stdout) < 0);
        o.n_images = 0, o.certs = one, o.n_certs = 1;
        assert_true(tb_dbx_add(&o, stdout) < 0);
        one[0] = f->image; /* not a certificate */
        assert_true(tb_dbx_add(&o, stdout) < 0);
        o.certs = (const char *[]){ f->cert };
        o.kek_key = missing;
        assert_true(tb_dbx_add(&o, stdout) < 0);
        assert_false(tb_path_exists(f->auth));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(a_hash_is_one_list_of_one_sha256),
                cmocka_unit_test_setup_teardown(images_certificates_hashes_in_that_order, setup, teardown),
                cmocka_unit_test(the_owner_is_every_entrys),
                cmocka_unit_test_setup_teardown(the_update_appends_to_dbx_signed_by_the_kek, setup, teardown),
                cmocka_unit_test_setup_teardown(a_key_set_signs_with_its_kek, setup, teardown),
                cmocka_unit_test_setup_teardown(bad_inputs_write_nothing, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
