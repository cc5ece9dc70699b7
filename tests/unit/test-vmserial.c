/* tests/unit/test-vmserial.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vm/vmserial.h"

static tb_vmserial_event feed(tb_vmserial *s, const char *text, char *line, size_t size) {
        return tb_vmserial_feed(s, text, strlen(text), line, size);
}

static void expect_matches_a_line_split_across_reads_without_escapes(void **state) {
        tb_vmserial *s;
        char line[64];
        (void)state;

        assert_int_equal(tb_vmserial_new("^TB-ROOTFS-DONE$", &s), 0);
        assert_int_equal(feed(s, "\x1b[2J\x1b[01;01HBdsDxe: loading\r\nTB-ROOT", line, sizeof(line)), TB_VMSERIAL_NONE);
        assert_int_equal(feed(s, "FS-D", line, sizeof(line)), TB_VMSERIAL_NONE);
        assert_int_equal(feed(s, "ONE\r\n", line, sizeof(line)), TB_VMSERIAL_MATCHED);
        assert_string_equal(line, "TB-ROOTFS-DONE");
        tb_vmserial_free(s);
}

static void unterminated_line_matches_only_when_checked(void **state) {
        tb_vmserial *s;
        char line[64];
        (void)state;

        assert_int_equal(tb_vmserial_new("login:", &s), 0);
        assert_int_equal(feed(s, "host login: ", line, sizeof(line)), TB_VMSERIAL_NONE);
        assert_true(tb_vmserial_pending(s));
        assert_int_equal(tb_vmserial_check_partial(s, line, sizeof(line)), TB_VMSERIAL_MATCHED);
        assert_string_equal(line, "host login: ");
        tb_vmserial_free(s);
}

static void access_denied_is_a_refusal_at_once(void **state) {
        tb_vmserial *s;
        char line[256];
        (void)state;

        assert_int_equal(tb_vmserial_new("MARKER", &s), 0);
        assert_int_equal(feed(s, "BdsDxe: failed to load Boot0001 \"UEFI QEMU HARDDISK\": Access Denied\r\n", line,
                              sizeof(line)),
                         TB_VMSERIAL_REFUSED);
        assert_string_equal(line, "BdsDxe: failed to load Boot0001 \"UEFI QEMU HARDDISK\": Access Denied");
        tb_vmserial_free(s);
}

static void security_violation_counts_only_when_nothing_is_left_to_boot(void **state) {
        tb_vmserial *s;
        char line[256];
        (void)state;

        assert_int_equal(tb_vmserial_new("MARKER", &s), 0);
        assert_int_equal(feed(s, "BdsDxe: failed to start Boot0000 \"EFI Internal Shell\": Security Violation\r\n",
                              line, sizeof(line)),
                         TB_VMSERIAL_NONE);
        assert_int_equal(feed(s, "MARKER\n", line, sizeof(line)), TB_VMSERIAL_MATCHED);
        tb_vmserial_free(s);

        assert_int_equal(tb_vmserial_new(NULL, &s), 0);
        assert_int_equal(feed(s, "BdsDxe: failed to start Boot0000 \"EFI Internal Shell\": Security Violation\r\n",
                              line, sizeof(line)),
                         TB_VMSERIAL_NONE);
        assert_int_equal(feed(s, "BdsDxe: No bootable option or device was found.\r\n", line, sizeof(line)),
                         TB_VMSERIAL_REFUSED);
        assert_string_equal(line, "BdsDxe: failed to start Boot0000 \"EFI Internal Shell\": Security Violation");
        tb_vmserial_free(s);
}

static void expected_text_wins_over_a_refusal_on_the_same_line(void **state) {
        tb_vmserial *s;
        char line[64];
        (void)state;

        assert_int_equal(tb_vmserial_new("Access Denied", &s), 0);
        assert_int_equal(feed(s, "x: Access Denied\n", line, sizeof(line)), TB_VMSERIAL_MATCHED);
        tb_vmserial_free(s);
}

static void flush_checks_the_last_unterminated_line(void **state) {
        tb_vmserial *s;
        char line[8];
        (void)state;

        assert_int_equal(tb_vmserial_new("DONE", &s), 0);
        assert_int_equal(feed(s, "ALL DONE", line, sizeof(line)), TB_VMSERIAL_NONE);
        assert_int_equal(tb_vmserial_flush(s, line, sizeof(line)), TB_VMSERIAL_MATCHED);
        assert_string_equal(line, "ALL DON"); /* truncated to the caller's buffer */
        assert_false(tb_vmserial_pending(s));
        tb_vmserial_free(s);
}

static void very_long_lines_are_cut_not_overflowed(void **state) {
        static char big[10000];
        tb_vmserial *s;
        char line[16];
        (void)state;

        memset(big, 'a', sizeof(big) - 1);
        assert_int_equal(tb_vmserial_new("^b$", &s), 0);
        assert_int_equal(feed(s, big, line, sizeof(line)), TB_VMSERIAL_NONE);
        assert_int_equal(feed(s, "\nb\n", line, sizeof(line)), TB_VMSERIAL_MATCHED);
        tb_vmserial_free(s);
}

static void bad_regex_is_einval(void **state) {
        tb_vmserial *s = NULL;
        (void)state;

        assert_int_equal(tb_vmserial_new("(", &s), -EINVAL);
        assert_null(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(expect_matches_a_line_split_across_reads_without_escapes),
                cmocka_unit_test(unterminated_line_matches_only_when_checked),
                cmocka_unit_test(access_denied_is_a_refusal_at_once),
                cmocka_unit_test(security_violation_counts_only_when_nothing_is_left_to_boot),
                cmocka_unit_test(expected_text_wins_over_a_refusal_on_the_same_line),
                cmocka_unit_test(flush_checks_the_last_unterminated_line),
                cmocka_unit_test(very_long_lines_are_cut_not_overflowed),
                cmocka_unit_test(bad_regex_is_einval),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
