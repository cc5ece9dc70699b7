/* tests/unit/test-sbupdate.c — signed variable updates: what an append signs, who may sign it,
 * and that a damaged file is recognised as such (efitools byte-identity and the efivarfs write
 * are proved in tests/interop/sb-dbx-enroll-efitools.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sb/efivar.h"
#include "sb/sbupdate.h"
#include "util/fileio.h"
#include "testcert.h"
#include "tmpdir.h"

static void append_verifies_only_with_its_signer_and_the_append_attributes(void **state) {
        EVP_PKEY *kek_key = EVP_RSA_gen(2048), *other_key = EVP_RSA_gen(2048);
        X509 *kek = tb_test_cert(kek_key, "kek", 3600), *other = tb_test_cert(other_key, "other", 3600);
        static const uint8_t h[32] = { 0x42 };
        tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        tb_auth_parts p;
        (void)state;

        assert_int_equal(tb_esl_append(&esl, &TB_GUID_CERT_SHA256, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_DBX, &esl, 1700000000, kek_key, kek, &auth), 0);
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), 0);
        assert_int_equal(p.payload_len, esl.len);
        assert_memory_equal(p.payload, esl.data, esl.len);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &kek, 1), 1);
        /* The attributes, the variable and the signer are all part of what is checked. */
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x27, &kek, 1), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DB, 0x67, &kek, 1), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &other, 1), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, (X509 *[]){ other, kek }, 2), 1);
        /* A changed payload byte breaks it. */
        auth.data[auth.len - 1] ^= 1;
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), 0);
        assert_int_equal(tb_auth_verify(&p, TB_SBVAR_DBX, 0x67, &kek, 1), 0);
        /* PK and KEK are never appended to by this. */
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_KEK, &esl, 1700000000, kek_key, kek, &auth), -EINVAL);
        tb_buf_free(&esl);
        tb_buf_free(&auth);
        X509_free(kek);
        X509_free(other);
        EVP_PKEY_free(kek_key);
        EVP_PKEY_free(other_key);
}

static void truncated_or_foreign_files_are_ebadmsg(void **state) {
        EVP_PKEY *key = EVP_RSA_gen(2048);
        X509 *cert = tb_test_cert(key, "kek", 3600);
        static const uint8_t h[32] = { 1 };
        tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        tb_auth_parts p;
        (void)state;

        assert_int_equal(tb_esl_append(&esl, &TB_GUID_CERT_SHA256, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_DB, &esl, 1700000000, key, cert, &auth), 0);
        for (size_t n = 0; n < auth.len; n += 97)
                assert_int_equal(tb_auth_parse(auth.data, n, &p), -EBADMSG);
        assert_int_equal(tb_auth_parse(auth.data, auth.len - 1, &p), -EBADMSG);
        auth.data[16 + 6] = 0x02; /* wCertificateType: not WIN_CERT_TYPE_EFI_GUID */
        assert_int_equal(tb_auth_parse(auth.data, auth.len, &p), -EBADMSG);
        tb_buf_free(&esl);
        tb_buf_free(&auth);
        X509_free(cert);
        EVP_PKEY_free(key);
}

static void variable_names_round_trip(void **state) {
        tb_sbvar v;
        (void)state;

        assert_int_equal(tb_sbvar_from_name("dbx", &v), 0);
        assert_int_equal(v, TB_SBVAR_DBX);
        assert_string_equal(tb_sbvar_name(TB_SBVAR_KEK), "KEK");
        assert_ptr_equal(tb_sbvar_vendor(TB_SBVAR_PK), &TB_GUID_EFI_GLOBAL_VARIABLE);
        assert_ptr_equal(tb_sbvar_vendor(TB_SBVAR_DB), &TB_GUID_IMAGE_SECURITY_DATABASE);
        assert_int_equal(tb_sbvar_from_name("DB", &v), -EINVAL);
}

/* `trustboot enroll` without --var: the file name's first word names the variable. */
static void the_file_name_names_the_variable(void **state) {
        static const struct {
                const char *path;
                int r;
                tb_sbvar want;
        } cases[] = {
                { "keys/PK.auth", 0, TB_SBVAR_PK },     { "KEK.auth", 0, TB_SBVAR_KEK },
                { "/k/db-append.auth", 0, TB_SBVAR_DB }, { "dbx.auth", 0, TB_SBVAR_DBX },
                { "dbx_2026.auth", 0, TB_SBVAR_DBX },   { "DB.auth", -EINVAL, 0 },
                { "dbxupdate.bin", -EINVAL, 0 },        { "db.auth/x", -EINVAL, 0 },
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                tb_sbvar v = (tb_sbvar)-1;

                assert_int_equal(tb_sbvar_from_file_name(cases[i].path, &v), cases[i].r);
                if (cases[i].r == 0)
                        assert_int_equal(v, cases[i].want);
        }
}

/* The file is read and enrolled; a missing or damaged one writes nothing. */
static void enroll_file_writes_the_variable_or_nothing(void **state) {
        EVP_PKEY *key = EVP_RSA_gen(2048);
        X509 *cert = tb_test_cert(key, "kek", 3600);
        static const uint8_t h[32] = { 7 }, on = 1;
        _cleanup_(tb_buf_freep) tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;
        _cleanup_(freep) char *efivars = NULL, *good = NULL, *bad = NULL, *missing = NULL, *dbx = NULL;
        char dir[256];
        bool append = false;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "sbupdate");
        efivars = tb_path_join(dir, "efivars");
        good = tb_path_join(dir, "dbx.auth");
        bad = tb_path_join(dir, "damaged.auth");
        missing = tb_path_join(dir, "missing.auth");
        dbx = tb_path_join(efivars, "dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f");
        tb_test_mkdir(dir, "efivars");
        assert_int_equal(tb_efivar_write(efivars, "SetupMode", &TB_GUID_EFI_GLOBAL_VARIABLE, 6, &on, 1), 0);
        assert_int_equal(tb_esl_append(&esl, &TB_GUID_CERT_SHA256, &TB_GUID_OWNER_CUSTOM, h, sizeof(h)), 0);
        assert_int_equal(tb_sbupdate_append(TB_SBVAR_DBX, &esl, 1700000000, key, cert, &auth), 0);
        tb_test_write(dir, "dbx.auth", auth.data, auth.len);
        tb_test_write(dir, "damaged.auth", auth.data, auth.len - 1);

        assert_true(tb_sbupdate_enroll_file(efivars, TB_SBVAR_DBX, missing, &append) < 0);
        assert_int_equal(tb_sbupdate_enroll_file(efivars, TB_SBVAR_DBX, bad, &append), -EBADMSG);
        assert_false(tb_path_exists(dbx));
        assert_int_equal(tb_sbupdate_enroll_file(efivars, TB_SBVAR_DBX, good, &append), 0);
        assert_true(append); /* setup mode: an append as its signer meant it */
        assert_true(tb_path_exists(dbx));

        tb_test_tmpdir_remove(dir);
        X509_free(cert);
        EVP_PKEY_free(key);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(append_verifies_only_with_its_signer_and_the_append_attributes),
                cmocka_unit_test(truncated_or_foreign_files_are_ebadmsg),
                cmocka_unit_test(variable_names_round_trip),
                cmocka_unit_test(the_file_name_names_the_variable),
                cmocka_unit_test(enroll_file_writes_the_variable_or_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
