/* tests/unit/test-boot-state.c — init's record of the boot (node/boot-state.c): what it writes,
 * and the sentence `trustboot unlock-all` makes of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "node/boot-policy.h"
#include "node/boot-state.h"
#include "util/macro.h"

static void format_is_the_word_then_the_reason(void **state) {
        _cleanup_(freep) char *a = NULL, *b = NULL;
        (void)state;

        assert_int_equal(tb_boot_state_format("medium", "no installed entry", &a), 0);
        assert_string_equal(a, "medium\nno installed entry\n");
        assert_int_equal(tb_boot_state_format("disk", NULL, &b), 0);
        assert_string_equal(b, "disk\n\n");
}

/* What init writes for a medium or an insecure boot is explained, with the word PCR 11 got. */
static void medium_and_insecure_are_explained(void **state) {
        _cleanup_(freep) char *text = NULL, *s = NULL, *t = NULL;
        (void)state;

        assert_int_equal(tb_boot_state_format("medium", "no installed entry", &text), 0);
        assert_int_equal(tb_boot_state_explain_text(text, &s), 1);
        assert_string_equal(s, "this system did not boot from the installed disk with Secure Boot (medium: no installed "
                               "entry): PCR 11 carries " TB_BOOT_WORD_MEDIUM ", so no signed policy lets the TPM "
                               "unseal; boot the installed disk to unlock");
        assert_int_equal(tb_boot_state_explain_text("insecure\n\n", &t), 1);
        assert_non_null(strstr(t, "(insecure): PCR 11 carries " TB_BOOT_WORD_INSECURE ","));
}

/* Only the reason's first line is quoted; a file without a newline is a word alone. */
static void reason_is_one_line(void **state) {
        _cleanup_(freep) char *s = NULL, *t = NULL;
        (void)state;

        assert_int_equal(tb_boot_state_explain_text("medium\nfirst\nsecond\n", &s), 1);
        assert_non_null(strstr(s, "(medium: first): "));
        assert_null(strstr(s, "second"));
        assert_int_equal(tb_boot_state_explain_text("medium", &t), 1);
        assert_non_null(strstr(t, "(medium): "));
}

/* The installed disk, or text that is no state, explains nothing. */
static void disk_and_garbage_explain_nothing(void **state) {
        char *s = (char *)"x";
        (void)state;

        assert_int_equal(tb_boot_state_explain_text("disk\nactive.conf\n", &s), 0);
        assert_null(s);
        assert_int_equal(tb_boot_state_explain_text("", &s), 0);
        assert_int_equal(tb_boot_state_explain_text("mediums\n", &s), 0);
        assert_int_equal(tb_boot_state_explain_text("medium extra\n", &s), 0);
        assert_int_equal(tb_boot_state_explain_text("insecur\n", &s), 0);
        assert_null(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(format_is_the_word_then_the_reason),
                cmocka_unit_test(medium_and_insecure_are_explained),
                cmocka_unit_test(reason_is_one_line),
                cmocka_unit_test(disk_and_garbage_explain_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
