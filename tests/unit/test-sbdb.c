/* tests/unit/test-sbdb.c — db/dbx parsing; the image checks themselves are proved against
 * sbverify-checked media in tests/interop/upgrade-ab-rotation.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sb/efisig.h"
#include "sb/sbdb.h"

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(malformed_lists_are_ebadmsg),
                cmocka_unit_test(unparsable_certificates_are_skipped_not_trusted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
