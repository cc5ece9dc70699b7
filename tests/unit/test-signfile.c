/* tests/unit/test-signfile.c — `trustboot sign` and `verify` on files: the signed copy keeps the
 * image's mode and verifies, a signed image is refused unless --replace (and re-signing gives the
 * same bytes), the refusals of verify, and the SBAT entries it reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pe/signfile.h"
#include "util/fileio.h"
#include "util/ossl.h"
#include "pe-image.h"
#include "testcert.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "signfile")

static char key[300], cert[300], other_cert[300], img[300], sbat_img[300];

static const char sbat_text[] = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
                                "uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/\n";

static void write_pem(const char *path, EVP_PKEY *k, X509 *c) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

        assert_int_equal(k ? tb_key_to_pem(k, &b) : tb_cert_to_pem(c, &b), 0);
        assert_int_equal(tb_write_file_new(path, b.data, b.len, 0600), 0);
}

static int setup(void **state) {
        EVP_PKEY *k = EVP_RSA_gen(2048), *o = EVP_RSA_gen(2048);
        X509 *c = tb_test_cert(k, "signfile signer", 86400L), *oc = tb_test_cert(o, "someone else", 86400L);
        static const img_section with_sbat[] = {
                { ".text", 0x1000, 0x3f0, 0x200, 0x400, 0xaa },
                { ".sbat", 0x2000, sizeof(sbat_text) - 1, 0x600, 0x200, 0 },
        };
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_test_group_setup(state), 0);
        snprintf(key, sizeof(key), "%s/db.key", dir);
        snprintf(cert, sizeof(cert), "%s/db.pem", dir);
        snprintf(other_cert, sizeof(other_cert), "%s/other.pem", dir);
        snprintf(img, sizeof(img), "%s/img.efi", dir);
        snprintf(sbat_img, sizeof(sbat_img), "%s/sbat.efi", dir);
        write_pem(key, k, NULL);
        write_pem(cert, NULL, c);
        write_pem(other_cert, NULL, oc);
        img_make_basic(&b);
        assert_int_equal(tb_write_file_new(img, b.data, b.len, 0750), 0);
        img_make(&b, 0x200, with_sbat, 2);
        memcpy(b.data + 0x600, sbat_text, sizeof(sbat_text) - 1);
        assert_int_equal(tb_write_file_new(sbat_img, b.data, b.len, 0644), 0);
        EVP_PKEY_free(k);
        EVP_PKEY_free(o);
        X509_free(c);
        X509_free(oc);
        return 0;
}

static tb_buf contents(const char *path) {
        tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_read_file(path, 1 << 20, &b), 0);
        return b;
}

static void the_signed_copy_keeps_the_mode_and_verifies(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "signed.efi");
        _cleanup_(tb_buf_freep) tb_buf before = contents(img), after = TB_BUF_INIT;
        _cleanup_(tb_signfile_verdict_done) tb_signfile_verdict v = { .v = TB_AUTHENTICODE_VERDICT_INIT };
        struct stat st;
        (void)state;

        assert_int_equal(tb_signfile_sign(img, out, key, cert, false), 0);
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0750);
        after = contents(img); /* the input is left as it was */
        assert_int_equal(after.len, before.len);
        assert_memory_equal(after.data, before.data, before.len);

        assert_int_equal(tb_signfile_verify(out, cert, &v), 1);
        assert_int_equal(v.v.index, 1);
        assert_non_null(v.v.signer);
        assert_int_equal(v.n_sbat, 0);
}

static void a_signed_image_is_refused_unless_replace(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "twice.efi");
        _cleanup_(tb_buf_freep) tb_buf first = TB_BUF_INIT, again = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_signfile_sign(img, out, key, cert, false), 0);
        first = contents(out);
        assert_int_equal(tb_signfile_sign(out, NULL, key, cert, false), -EEXIST);
        again = contents(out);
        assert_int_equal(again.len, first.len);
        assert_memory_equal(again.data, first.data, first.len);
        tb_buf_free(&again);
        assert_int_equal(tb_signfile_sign(out, NULL, key, cert, true), 0); /* in place */
        again = contents(out);
        assert_int_equal(again.len, first.len); /* deterministic: the same signature again */
        assert_memory_equal(again.data, first.data, first.len);
}

static void verify_refuses_unsigned_foreign_and_unreadable(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "foreign.efi"), *missing = tb_path_join(dir, "missing.pem");
        tb_signfile_verdict v = { .v = TB_AUTHENTICODE_VERDICT_INIT };
        (void)state;

        assert_int_equal(tb_signfile_verify(img, cert, &v), 0); /* not signed */
        assert_int_equal(tb_signfile_sign(img, out, key, cert, false), 0);
        assert_int_equal(tb_signfile_verify(out, other_cert, &v), 0);
        assert_true(tb_signfile_verify(out, missing, &v) < 0);
        assert_null(v.v.signer); /* nothing handed out on a refusal */
        assert_null(v.sbat);
}

/* The entries after the sbat,1 header: what revocation by generation applies to. */
static void verify_lists_the_sbat_entries(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "sbat-signed.efi");
        _cleanup_(tb_signfile_verdict_done) tb_signfile_verdict v = { .v = TB_AUTHENTICODE_VERDICT_INIT };
        (void)state;

        assert_int_equal(tb_signfile_sign(sbat_img, out, key, cert, false), 0);
        assert_int_equal(tb_signfile_verify(out, cert, &v), 1);
        assert_int_equal(v.n_sbat, 1);
        assert_string_equal(v.sbat[0], "uki,1,UKI,uki,1,https://uapi-group.org/specifications/specs/unified_kernel_image/");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(the_signed_copy_keeps_the_mode_and_verifies),
                cmocka_unit_test(a_signed_image_is_refused_unless_replace),
                cmocka_unit_test(verify_refuses_unsigned_foreign_and_unreadable),
                cmocka_unit_test(verify_lists_the_sbat_entries),
        };
        return cmocka_run_group_tests(tests, setup, tb_test_group_teardown);
}
