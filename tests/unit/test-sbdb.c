/* tests/unit/test-sbdb.c — db/dbx parsing; the image checks themselves are proved against
 * sbverify-checked media in tests/interop/upgrade-ab-rotation.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pe-image.h"
#include "pe/authenticode.h"
#include "sb/efisig.h"
#include "sb/sbdb.h"
#include "util/fileio.h"
#include "testcert.h"

static void malformed_lists_are_ebadmsg(void **state) {
        static const uint8_t junk[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
        tb_sbdb *s = NULL;
        (void)state;

        assert_int_equal(tb_sbdb_from_esl(junk, sizeof(junk), NULL, 0, &s), -EBADMSG);
        assert_int_equal(tb_sbdb_from_esl(NULL, 0, junk, sizeof(junk), &s), -EBADMSG);
}

static void unparsable_certificates_are_skipped_not_trusted(void **state) {
        static const uint8_t not_der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
        tb_buf esl = TB_BUF_INIT;
        tb_sbdb *s = NULL;
        (void)state;

        assert_int_equal(tb_esl_append_x509(&esl, &TB_GUID_OWNER_CUSTOM, not_der, sizeof(not_der)), 0);
        assert_int_equal(tb_sbdb_from_esl(esl.data, esl.len, NULL, 0, &s), 0);
        assert_int_equal(tb_sbdb_n_db_certs(s), 0);
        tb_sbdb_free(s);
        tb_buf_free(&esl);
}

typedef struct fixture {
        tb_signer signer, other;
        tb_buf der, other_der; /* the certificates */
        tb_buf signed_img; /* tb_pe_from_memory() borrows it */
        tb_pe *signed_pe;
} fixture;

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        tb_buf img = TB_BUF_INIT;
        tb_pe *pe = NULL;
        struct stat st;
        int fd = memfd_create("signed", MFD_CLOEXEC);

        f->signer.key = EVP_RSA_gen(2048);
        f->signer.cert = tb_test_cert(f->signer.key, "sbdb signer", 3600);
        f->other.key = EVP_RSA_gen(2048);
        f->other.cert = tb_test_cert(f->other.key, "sbdb other", 3600);
        assert_int_equal(tb_cert_to_der(f->signer.cert, &f->der), 0);
        assert_int_equal(tb_cert_to_der(f->other.cert, &f->other_der), 0);
        img_make_basic(&img);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_authenticode_sign(pe, &f->signer, fd, "memfd"), 0);
        tb_pe_free(pe);
        tb_buf_free(&img);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(tb_buf_append_zero(&img, (size_t)st.st_size), 0);
        assert_int_equal(tb_pread_full(fd, img.data, img.len, 0), 0);
        close(fd);
        f->signed_img = img;
        assert_int_equal(tb_pe_from_memory(f->signed_img.data, f->signed_img.len, &f->signed_pe), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;

        tb_signer_done(&f->signer);
        tb_signer_done(&f->other);
        tb_buf_free(&f->der);
        tb_buf_free(&f->other_der);
        tb_pe_free(f->signed_pe);
        tb_buf_free(&f->signed_img);
        free(f);
        return 0;
}

static int check(const fixture *f, const tb_buf *db, const tb_buf *dbx) {
        tb_sbdb *s = NULL;
        int r;

        assert_int_equal(tb_sbdb_from_esl(db->data, db->len, dbx ? dbx->data : NULL, dbx ? dbx->len : 0, &s), 0);
        r = tb_sbdb_check(s, f->signed_pe);
        tb_sbdb_free(s);
        return r;
}

/* EFI_CERT_SHA384/512 entries: db allows the image by its hash, dbx forbids it, each with the
 * image hash of its own size (a SHA-256 list of the same image proves the first is not luck). */
static void image_hashes_of_every_sha2_size_are_matched(void **state) {
        const fixture *f = *state;
        static const struct { const tb_guid *type; const char *md; size_t len; } t[] = {
                { &TB_GUID_CERT_SHA256, "SHA256", 32 },
                { &TB_GUID_CERT_SHA384, "SHA384", 48 },
                { &TB_GUID_CERT_SHA512, "SHA512", 64 },
        };

        for (size_t i = 0; i < 3; i++) {
                uint8_t h[EVP_MAX_MD_SIZE];
                unsigned n;
                tb_buf db = TB_BUF_INIT, dbx = TB_BUF_INIT, unrelated = TB_BUF_INIT;

                assert_int_equal(tb_authenticode_digest(f->signed_pe, EVP_get_digestbyname(t[i].md), h, &n), 0);
                assert_int_equal(n, t[i].len);
                assert_int_equal(tb_esl_append(&db, t[i].type, &TB_GUID_OWNER_CUSTOM, h, n), 0);
                assert_int_equal(check(f, &db, NULL), 0);
                assert_int_equal(check(f, &unrelated, NULL) == 0, false); /* nothing allows it */
                assert_int_equal(tb_esl_append_x509(&unrelated, &TB_GUID_OWNER_CUSTOM, f->der.data, f->der.len), 0);
                assert_int_equal(check(f, &unrelated, NULL), 0);
                assert_int_equal(tb_esl_append(&dbx, t[i].type, &TB_GUID_OWNER_CUSTOM, h, n), 0);
                assert_int_equal(check(f, &unrelated, &dbx), -EKEYREVOKED);
                h[0] ^= 1;
                tb_buf_free(&dbx);
                assert_int_equal(tb_esl_append(&dbx, t[i].type, &TB_GUID_OWNER_CUSTOM, h, n), 0);
                assert_int_equal(check(f, &unrelated, &dbx), 0);
                tb_buf_free(&db);
                tb_buf_free(&dbx);
                tb_buf_free(&unrelated);
        }
}

/* EFI_CERT_X509_SHA256/384/512 in dbx: the TBSCertificate hash of the signer revokes every image
 * it signed, whatever db says; another certificate's hash does not. */
static void certificate_tbs_hashes_in_dbx_revoke_the_signer(void **state) {
        const fixture *f = *state;
        static const struct { const tb_guid *type; int nid; size_t len; } t[] = {
                { &TB_GUID_CERT_X509_SHA256, NID_sha256, 32 },
                { &TB_GUID_CERT_X509_SHA384, NID_sha384, 48 },
                { &TB_GUID_CERT_X509_SHA512, NID_sha512, 64 },
        };
        tb_buf db = TB_BUF_INIT;

        assert_int_equal(tb_esl_append_x509(&db, &TB_GUID_OWNER_CUSTOM, f->der.data, f->der.len), 0);
        for (size_t i = 0; i < 3; i++) {
                uint8_t entry[64 + 16] = { 0 }, oracle[EVP_MAX_MD_SIZE];
                unsigned char *tbs = NULL;
                int tbs_len = i2d_re_X509_tbs(f->signer.cert, &tbs);
                tb_buf dbx = TB_BUF_INIT;

                /* The oracle: OpenSSL's own encoding of the TBSCertificate, hashed. */
                assert_true(tbs_len > 0);
                assert_int_equal(EVP_Digest(tbs, (size_t)tbs_len, oracle, NULL, EVP_get_digestbynid(t[i].nid), NULL), 1);
                OPENSSL_free(tbs);
                assert_int_equal(tb_sbdb_cert_tbs_hash(f->signer.cert, t[i].nid, entry), 0);
                assert_memory_equal(entry, oracle, t[i].len);
                assert_int_equal(tb_esl_append(&dbx, t[i].type, &TB_GUID_OWNER_CUSTOM, entry, t[i].len + 16), 0);
                assert_int_equal(check(f, &db, &dbx), -EKEYREVOKED);
                tb_buf_free(&dbx);
                assert_int_equal(tb_sbdb_cert_tbs_hash(f->other.cert, t[i].nid, entry), 0);
                assert_int_equal(tb_esl_append(&dbx, t[i].type, &TB_GUID_OWNER_CUSTOM, entry, t[i].len + 16), 0);
                assert_int_equal(check(f, &db, &dbx), 0);
                tb_buf_free(&dbx);
        }
        tb_buf_free(&db);
}

/* The list type fixes the entry size; a SHA-384 list of 32-byte entries is damage, not a miss. */
static void hash_entries_of_the_wrong_size_are_ebadmsg(void **state) {
        static const uint8_t h[32] = { 1 };
        tb_buf dbx = TB_BUF_INIT;
        tb_sbdb *s = NULL;
        (void)state;

        assert_int_equal(tb_esl_append(&dbx, &TB_GUID_CERT_SHA384, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbdb_from_esl(NULL, 0, dbx.data, dbx.len, &s), -EBADMSG);
        tb_buf_free(&dbx);
        assert_int_equal(tb_esl_append(&dbx, &TB_GUID_CERT_X509_SHA256, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbdb_from_esl(NULL, 0, dbx.data, dbx.len, &s), -EBADMSG);
        tb_buf_free(&dbx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(malformed_lists_are_ebadmsg),
                cmocka_unit_test(unparsable_certificates_are_skipped_not_trusted),
                cmocka_unit_test_setup_teardown(image_hashes_of_every_sha2_size_are_matched, setup, teardown),
                cmocka_unit_test_setup_teardown(certificate_tbs_hashes_in_dbx_revoke_the_signer, setup, teardown),
                cmocka_unit_test(hash_entries_of_the_wrong_size_are_ebadmsg),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
