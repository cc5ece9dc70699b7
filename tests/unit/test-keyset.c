/* tests/unit/test-keyset.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb/efisig.h"
#include "util/fileio.h"
#include "sb/keyset.h"
#include "util/ossl.h"
#include "pe/signer.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "keyset")

static const tb_keyset_options opts = {
        .name = "Unit",
        .days = 7,
        .key_bits = 2048,
        .epoch = 1700000000,
        .skip_microsoft = true,
};

static tb_buf read_in(const char *sub, const char *name) {
        _cleanup_(freep) char *d = tb_path_join(dir, sub);
        _cleanup_(freep) char *p = tb_path_join(d, name);
        tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_read_file(p, 1 << 20, &b), 0);
        return b;
}

static void writes_the_sixteen_files_with_private_keys_0600(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "a");
        (void)state;

        assert_int_equal(tb_keyset_generate(&opts, out, false), 0);
        for (int i = 0; i < TB_KEYSET_N_FILES; i++) {
                _cleanup_(freep) char *p = tb_path_join(out, tb_keyset_files[i]);
                bool private = strstr(tb_keyset_files[i], ".key") || strstr(tb_keyset_files[i], "private");
                struct stat st;

                assert_int_equal(stat(p, &st), 0);
                assert_int_equal(st.st_mode & 0777, private ? 0600 : 0644);
                assert_true(st.st_size > 0);
        }
}

static void auth_payload_is_the_esl_it_signs(void **state) {
        (void)state;
        for (const char *const *t = (const char *const[]){ "PK", "KEK", "db", NULL }; *t; t++) {
                _cleanup_(freep) char *esl_name = NULL, *auth_name = NULL;
                _cleanup_(tb_buf_freep) tb_buf esl = TB_BUF_INIT, auth = TB_BUF_INIT;

                assert_true(asprintf(&esl_name, "%s.esl", *t) > 0 && asprintf(&auth_name, "%s.auth", *t) > 0);
                esl = read_in("a", esl_name);
                auth = read_in("a", auth_name);
                uint32_t dw = tb_get_u32le(auth.data + 16);
                assert_int_equal(auth.len, 16 + dw + esl.len);
                assert_memory_equal(auth.data + 16 + dw, esl.data, esl.len);
                assert_int_equal(tb_get_u16le(auth.data), 2023); /* EFI_TIME from the epoch: 2023-11-14 */
                assert_int_equal(auth.data[2], 11);
                assert_int_equal(auth.data[3], 14);
        }
}

static int count_entries(const tb_esl_entry *e, void *userdata) {
        (void)e;
        (*(int *)userdata)++;
        return 0;
}

static void skip_microsoft_leaves_one_certificate_per_list_and_der_matches(void **state) {
        _cleanup_(tb_buf_freep) tb_buf esl = read_in("a", "db.esl"), der = read_in("a", "db.der");
        int n = 0;
        (void)state;

        assert_int_equal(tb_esl_foreach(esl.data, esl.len, count_entries, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(esl.len, 28 + 16 + der.len);
        assert_memory_equal(esl.data + 44, der.data, der.len);
}

static void key_matches_certificate_and_cn_has_the_name(void **state) {
        _cleanup_(freep) char *k = tb_path_join(dir, "a/KEK.key"), *c = tb_path_join(dir, "a/KEK.pem");
        tb_signer s = {};
        char cn[64];
        (void)state;

        assert_int_equal(tb_signer_load(k, c, &s), 0);
        assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(s.cert), NID_commonName, cn, sizeof(cn)) > 0);
        assert_string_equal(cn, "Unit-KEK");
        tb_signer_done(&s);
}

static void existing_set_is_refused_without_force(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "a");
        _cleanup_(tb_buf_freep) tb_buf before = read_in("a", "PK.pem"), after = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_keyset_generate(&opts, out, false), -EEXIST);
        after = read_in("a", "PK.pem");
        assert_int_equal(before.len, after.len);
        assert_memory_equal(before.data, after.data, before.len);
        assert_int_equal(tb_keyset_generate(&opts, out, true), 0);
        tb_buf_free(&after);
        after = read_in("a", "PK.pem");
        assert_true(before.len != after.len || memcmp(before.data, after.data, before.len) != 0);
}

static void missing_microsoft_certificates_fail_before_writing(void **state) {
        _cleanup_(freep) char *out = tb_path_join(dir, "b");
        tb_keyset_options o = opts;
        (void)state;

        o.skip_microsoft = false;
        o.ms_cert_dir = "/nonexistent";
        assert_int_equal(tb_keyset_generate(&o, out, false), -ENOENT);
        assert_false(tb_path_exists(out));
}

/* build-uki -k: the PEM files, else a token set's NAME.pkcs11 URI; the certificate is db.pem. */
static void signing_refs_name_the_pem_files_or_the_token_uris(void **state) {
        _cleanup_(freep) char *k = tb_path_join(dir, "signing");
        _cleanup_(freep) char *want_key = tb_path_join(k, "db.key"), *want_cert = tb_path_join(k, "db.pem"),
                              *want_pcr = tb_path_join(k, "tpm2-pcr-private.pem");
        _cleanup_(tb_keyset_signing_done) tb_keyset_signing s = {};
        const char uri[] = "pkcs11:token=unit;object=pcr\n";
        (void)state;

        tb_test_mkdir(dir, "signing");
        tb_test_write(k, "db.key", "x", 1);
        assert_int_equal(tb_keyset_signing_refs(k, &s), 0);
        assert_string_equal(s.sb_key, want_key);
        assert_string_equal(s.sb_cert, want_cert);
        assert_string_equal(s.pcr_key, want_pcr); /* absent: named, for whoever opens it to report */
        tb_keyset_signing_done(&s);
        assert_null(s.sb_key);

        tb_test_write(k, "tpm2-pcr-private.pkcs11", uri, sizeof(uri) - 1);
        assert_int_equal(tb_keyset_signing_refs(k, &s), 0);
        assert_string_equal(s.sb_key, want_key);
        assert_string_equal(s.pcr_key, "pkcs11:token=unit;object=pcr");
}

static void signing_refs_set_nothing_when_a_token_file_is_bad(void **state) {
        _cleanup_(freep) char *k = tb_path_join(dir, "signing-bad");
        tb_keyset_signing s = { .sb_key = (char *)"untouched" };
        (void)state;

        tb_test_mkdir(dir, "signing-bad");
        tb_test_write(k, "tpm2-pcr-private.pkcs11", "not a uri\n", 10);
        assert_int_equal(tb_keyset_signing_refs(k, &s), -EBADMSG);
        assert_string_equal(s.sb_key, "untouched");
        assert_null(s.sb_cert);
        assert_null(s.pcr_key);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(writes_the_sixteen_files_with_private_keys_0600),
                cmocka_unit_test(auth_payload_is_the_esl_it_signs),
                cmocka_unit_test(skip_microsoft_leaves_one_certificate_per_list_and_der_matches),
                cmocka_unit_test(key_matches_certificate_and_cn_has_the_name),
                cmocka_unit_test(existing_set_is_refused_without_force),
                cmocka_unit_test(missing_microsoft_certificates_fail_before_writing),
                cmocka_unit_test(signing_refs_name_the_pem_files_or_the_token_uris),
                cmocka_unit_test(signing_refs_set_nothing_when_a_token_file_is_bad),
        };
        return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown);
}
