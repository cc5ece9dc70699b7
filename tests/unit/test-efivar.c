/* tests/unit/test-efivar.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/strset.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "efivar")

static void loader_guid_string_is_systemds(void **state) {
        char s[TB_GUID_STRING_MAX];
        (void)state;

        tb_guid_to_string(&TB_GUID_LOADER, s);
        assert_string_equal(s, "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
}

static void string_is_written_as_attrs_then_utf16le_with_nul(void **state) {
        static const uint8_t want[] = { 0x07, 0, 0, 0, 'a', 0, '+', 0, '3', 0, 0, 0 };
        char path[256];
        tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_efivar_write_string(dir, "LoaderEntryOneShot", &TB_GUID_LOADER, "a+3"), 0);
        snprintf(path, sizeof(path), "%s/LoaderEntryOneShot-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f", dir);
        assert_int_equal(tb_read_file(path, 1024, &b), 0);
        assert_int_equal(b.len, sizeof(want));
        assert_memory_equal(b.data, want, sizeof(want));
        tb_buf_free(&b);
}

static void string_round_trips_and_replaces(void **state) {
        char *s = NULL;
        (void)state;

        assert_int_equal(tb_efivar_write_string(dir, "LoaderEntrySelected", &TB_GUID_LOADER, "first.conf"), 0);
        assert_int_equal(tb_efivar_write_string(dir, "LoaderEntrySelected", &TB_GUID_LOADER, "active+2-1.conf"), 0);
        assert_int_equal(tb_efivar_read_string(dir, "LoaderEntrySelected", &TB_GUID_LOADER, &s), 0);
        assert_string_equal(s, "active+2-1.conf");
        free(s);
        /* A shorter value replaces a longer one completely (no stale tail in a plain file). */
        assert_int_equal(tb_efivar_write_string(dir, "LoaderEntrySelected", &TB_GUID_LOADER, "b"), 0);
        assert_int_equal(tb_efivar_read_string(dir, "LoaderEntrySelected", &TB_GUID_LOADER, &s), 0);
        assert_string_equal(s, "b");
        free(s);
}

static void empty_write_deletes_and_absent_is_enoent(void **state) {
        char *s = NULL;
        uint32_t attrs;
        tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_efivar_write_string(dir, "Gone", &TB_GUID_LOADER, "x"), 0);
        assert_int_equal(tb_efivar_write(dir, "Gone", &TB_GUID_LOADER, 7, NULL, 0), 0);
        assert_int_equal(tb_efivar_read_string(dir, "Gone", &TB_GUID_LOADER, &s), -ENOENT);
        assert_int_equal(tb_efivar_read(dir, "Gone", &TB_GUID_LOADER, &attrs, &b), -ENOENT);
}

static void binary_variable_keeps_attributes_and_bytes(void **state) {
        static const uint8_t esl[] = { 1, 2, 3, 0, 0, 255 };
        uint32_t attrs = 0;
        tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_efivar_write(dir, "db", &TB_GUID_IMAGE_SECURITY_DATABASE, 0x27, esl, sizeof(esl)), 0);
        assert_int_equal(tb_efivar_read(dir, "db", &TB_GUID_IMAGE_SECURITY_DATABASE, &attrs, &b), 0);
        assert_int_equal(attrs, 0x27);
        assert_int_equal(b.len, sizeof(esl));
        assert_memory_equal(b.data, esl, sizeof(esl));
        tb_buf_free(&b);
}

static void non_ascii_and_odd_lengths_are_rejected(void **state) {
        static const uint8_t odd[] = { 'a', 0, 'b' }, high[] = { 0xe9, 0, 0, 0 };
        char *s = NULL;
        (void)state;

        assert_int_equal(tb_efivar_write(dir, "Odd", &TB_GUID_LOADER, 7, odd, sizeof(odd)), 0);
        assert_int_equal(tb_efivar_read_string(dir, "Odd", &TB_GUID_LOADER, &s), -EBADMSG);
        assert_int_equal(tb_efivar_write(dir, "High", &TB_GUID_LOADER, 7, high, sizeof(high)), 0);
        assert_int_equal(tb_efivar_read_string(dir, "High", &TB_GUID_LOADER, &s), -EBADMSG);
        assert_int_equal(tb_efivar_write_string(dir, "Ctl", &TB_GUID_LOADER, "a\nb"), -EINVAL);
}

static void too_short_for_the_attribute_word_is_ebadmsg(void **state) {
        char path[256];
        tb_buf b = TB_BUF_INIT;
        (void)state;

        snprintf(path, sizeof(path), "%s/Short-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f", dir);
        assert_int_equal(tb_write_file_new(path, "\x07\0", 2, 0644), 0);
        assert_int_equal(tb_efivar_read(dir, "Short", &TB_GUID_LOADER, NULL, &b), -EBADMSG);
}

static void string_list_splits_and_skips_what_is_not_ascii(void **state) {
        /* "a.conf" "" "\xe9" "auto-win", each with its NUL */
        static const uint8_t data[] = { 'a', 0, '.', 0, 'c', 0, 'o', 0, 'n', 0, 'f', 0, 0, 0, 0, 0, 0xe9, 0, 0, 0,
                                        'a', 0, 'u', 0, 't', 0, 'o', 0, '-', 0, 'w', 0, 'i', 0, 'n', 0, 0, 0 };
        static const uint8_t unterminated[] = { 'a', 0, 0, 0, 'b', 0 };
        char **l = NULL;
        (void)state;

        assert_int_equal(tb_efivar_write(dir, "LoaderEntries", &TB_GUID_LOADER, 6, data, sizeof(data)), 0);
        assert_int_equal(tb_efivar_read_string_list(dir, "LoaderEntries", &TB_GUID_LOADER, &l), 0);
        assert_non_null(l[0]);
        assert_string_equal(l[0], "a.conf");
        assert_non_null(l[1]);
        assert_string_equal(l[1], "auto-win");
        assert_null(l[2]);
        tb_strv_free(l);
        assert_int_equal(tb_efivar_write(dir, "Unterminated", &TB_GUID_LOADER, 6, unterminated, sizeof(unterminated)), 0);
        assert_int_equal(tb_efivar_read_string_list(dir, "Unterminated", &TB_GUID_LOADER, &l), -EBADMSG);
        assert_int_equal(tb_efivar_read_string_list(dir, "Absent", &TB_GUID_LOADER, &l), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(loader_guid_string_is_systemds),
                cmocka_unit_test(string_is_written_as_attrs_then_utf16le_with_nul),
                cmocka_unit_test(string_round_trips_and_replaces),
                cmocka_unit_test(empty_write_deletes_and_absent_is_enoent),
                cmocka_unit_test(binary_variable_keeps_attributes_and_bytes),
                cmocka_unit_test(non_ascii_and_odd_lengths_are_rejected),
                cmocka_unit_test(too_short_for_the_attribute_word_is_ebadmsg),
                cmocka_unit_test(string_list_splits_and_skips_what_is_not_ascii),
        };
        return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown);
}
