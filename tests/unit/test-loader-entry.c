/* tests/unit/test-loader-entry.c — the Type #1 entry format and boot counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/loader-entry.h"

static void counter_is_parsed_from_the_last_plus(void **state) {
        char *base = NULL;
        int left, done;
        (void)state;

        assert_int_equal(tb_loader_entry_parse_name("active+2-1.conf", &base, &left, &done), 0);
        assert_string_equal(base, "active");
        assert_int_equal(left, 2);
        assert_int_equal(done, 1);
        free(base);
        assert_int_equal(tb_loader_entry_parse_name("my+entry+3.conf", &base, &left, &done), 0);
        assert_string_equal(base, "my+entry");
        assert_int_equal(left, 3);
        assert_int_equal(done, 0);
        free(base);
}

static void names_without_a_valid_counter_keep_their_plus(void **state) {
        char *base = NULL;
        int left, done;
        (void)state;

        assert_int_equal(tb_loader_entry_parse_name("a+b.conf", &base, &left, &done), 0);
        assert_string_equal(base, "a+b");
        assert_int_equal(left, TB_LOADER_ENTRY_COUNTER_NONE);
        free(base);
        assert_int_equal(tb_loader_entry_parse_name("a+3-.conf", &base, &left, &done), 0);
        assert_string_equal(base, "a+3-");
        free(base);
        assert_int_equal(tb_loader_entry_parse_name("passive.conf", &base, &left, &done), 0);
        assert_string_equal(base, "passive");
        assert_int_equal(done, TB_LOADER_ENTRY_COUNTER_NONE);
        free(base);
        assert_int_equal(tb_loader_entry_parse_name("loader.txt", NULL, NULL, NULL), -EINVAL);
        assert_int_equal(tb_loader_entry_parse_name(".conf", NULL, NULL, NULL), -EINVAL);
}

static void lines_are_trimmed_comments_dropped_first_key_wins(void **state) {
        static const char text[] = "# comment\n  title   Tb  os \t\r\n\nefi\t/EFI/x.efi\ntitle second\noptions a=1\noptions b=2";
        tb_loader_entry e = TB_LOADER_ENTRY_INIT;
        (void)state;

        assert_int_equal(tb_loader_entry_parse(text, strlen(text), &e), 0);
        assert_int_equal(e.n, 5);
        assert_string_equal(tb_loader_entry_get(&e, "title"), "Tb  os");
        assert_string_equal(tb_loader_entry_get(&e, "efi"), "/EFI/x.efi");
        assert_string_equal(e.line[4].key, "options");
        assert_string_equal(e.line[4].value, "b=2");
        assert_null(tb_loader_entry_get(&e, "linux"));
        tb_loader_entry_done(&e);
}

static void uki_answers_for_efi(void **state) {
        static const char text[] = "uki /EFI/Linux/a.efi\n";
        tb_loader_entry e = TB_LOADER_ENTRY_INIT;
        (void)state;

        assert_int_equal(tb_loader_entry_parse(text, strlen(text), &e), 0);
        assert_string_equal(tb_loader_entry_get(&e, "efi"), "/EFI/Linux/a.efi");
        tb_loader_entry_done(&e);
}

static void set_replaces_or_appends_and_format_round_trips(void **state) {
        static const char text[] = "title A\nsort-key x\n";
        static const char want[] = "title A\nsort-key 0001\nversion 2\n";
        tb_loader_entry e = TB_LOADER_ENTRY_INIT, again = TB_LOADER_ENTRY_INIT;
        tb_buf out = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_loader_entry_parse(text, strlen(text), &e), 0);
        assert_int_equal(tb_loader_entry_set(&e, "sort-key", "0001"), 0);
        assert_int_equal(tb_loader_entry_set(&e, "version", "2"), 0);
        assert_int_equal(tb_loader_entry_set(&e, "title", "two\nlines"), -EINVAL);
        assert_int_equal(tb_loader_entry_format(&e, &out), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        assert_int_equal(tb_loader_entry_parse((const char *)out.data, out.len, &again), 0);
        assert_int_equal(again.n, 3);
        tb_loader_entry_done(&again);
        tb_loader_entry_done(&e);
        tb_buf_free(&out);
}

static int profile_of(const char *text) {
        _cleanup_(tb_loader_entry_donep) tb_loader_entry e = TB_LOADER_ENTRY_INIT;

        assert_int_equal(tb_loader_entry_parse(text, strlen(text), &e), 0);
        return tb_loader_entry_profile(&e);
}

static void profile_from_the_profile_key_or_the_stubs_at_prefix(void **state) {
        (void)state;
        assert_int_equal(profile_of("title t\nefi /EFI/x.efi\n"), -1);
        assert_int_equal(profile_of("efi /EFI/x.efi\noptions @1\n"), 1);
        assert_int_equal(profile_of("efi /EFI/x.efi\noptions @12 quiet\n"), 12);
        assert_int_equal(profile_of("uki /EFI/x.efi\nprofile 3\n"), 3);
        /* not the stub's prefix: "@" must start the options and be followed by digits, then ' ' or end */
        assert_int_equal(profile_of("options quiet @1\n"), -1);
        assert_int_equal(profile_of("options @1x\n"), -1);
        assert_int_equal(profile_of("options @\n"), -1);
        assert_int_equal(profile_of("profile x\n"), -1);
        assert_int_equal(profile_of("options @99999999999\n"), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(counter_is_parsed_from_the_last_plus),
                cmocka_unit_test(names_without_a_valid_counter_keep_their_plus),
                cmocka_unit_test(lines_are_trimmed_comments_dropped_first_key_wins),
                cmocka_unit_test(uki_answers_for_efi),
                cmocka_unit_test(profile_from_the_profile_key_or_the_stubs_at_prefix),
                cmocka_unit_test(set_replaces_or_appends_and_format_round_trips),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
