/* tests/unit/test-sbat.c — SBAT lines and ukify 257's merge (expected bytes written out from
 * ukify's merge_sbat() behaviour on the same inputs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pe/sbat.h"
#include "util/strset.h"

#define STUB257                                                                                        \
        "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"              \
        "systemd-stub,1,The systemd Developers,systemd,257,https://systemd.io/\n"                    \
        "systemd-stub.debian,1,Debian GNU/Linux,systemd,257.13-1~deb13u1,https://tracker.debian.org/pkg/systemd\n"

static void lines_split_like_python_splitlines(void **state) {
        _cleanup_(tb_strv_freep) char **l = NULL;
        size_t n;
        (void)state;

        assert_int_equal(tb_sbat_lines("a\r\nb\rc\n\nd\n\0\0", 13, &l, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(l[0], "a");
        assert_string_equal(l[1], "b");
        assert_string_equal(l[2], "c");
        assert_string_equal(l[3], "");
        assert_string_equal(l[4], "d");
        assert_null(l[5]);
        tb_strv_free(TAKE_PTR(l));
        assert_int_equal(tb_sbat_lines(NULL, 0, &l, &n), 0);
        assert_int_equal(n, 0);
        assert_null(l[0]);
}

static void merge_is_header_then_every_parts_entries(void **state) {
        static const char user[] = "sbat,1,x,sbat,1,u\nmine,1,Me,mine,1,https://example.invalid\n";
        static const char want[] =
                TB_SBAT_HEADER "\n"
                "systemd-stub,1,The systemd Developers,systemd,257,https://systemd.io/\n"
                "systemd-stub.debian,1,Debian GNU/Linux,systemd,257.13-1~deb13u1,https://tracker.debian.org/pkg/systemd\n"
                "mine,1,Me,mine,1,https://example.invalid\n";
        /* the stub's section as read: VirtualSize bytes, NUL padded */
        const tb_sbat_part parts[] = {
                { STUB257 "\0\0\0", sizeof(STUB257) + 2 },
                { "linux,1,not sbat text\n", 22 }, /* skipped, as ukify does */
                { user, sizeof(user) - 1 },
        };
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        size_t skipped = 9;
        (void)state;

        assert_int_equal(tb_sbat_merge(parts, 3, &out, &skipped), 0);
        assert_int_equal(skipped, 1);
        assert_int_equal(out.len, sizeof(want)); /* "\n\0" at the end */
        assert_memory_equal(out.data, want, sizeof(want));
        assert_true(tb_sbat_is_valid(user, sizeof(user)));
        assert_false(tb_sbat_is_valid("sbat", 4));
}

static void merge_of_nothing_is_the_header_and_an_empty_line(void **state) {
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        (void)state;

        /* '\n'.join([]) is '': the header, '\n', then '\n\0' */
        assert_int_equal(tb_sbat_merge(NULL, 0, &out, NULL), 0);
        assert_int_equal(out.len, strlen(TB_SBAT_HEADER) + 3);
        assert_memory_equal(out.data, TB_SBAT_HEADER "\n\n", strlen(TB_SBAT_HEADER) + 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lines_split_like_python_splitlines),
                cmocka_unit_test(merge_is_header_then_every_parts_entries),
                cmocka_unit_test(merge_of_nothing_is_the_header_and_an_empty_line),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
