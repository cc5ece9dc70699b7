/* tests/unit/test-log.c — the one line per message: "prefix: [warning: ]message[: strerror]",
 * negative errno returned whatever sign came in, out of memory said once, errors counted even
 * when not shown, and the level filter; the error argument evaluated once (the macros), and
 * negative_errno() never 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* stderr into a temporary file while FN-like code runs; the text comes back in OUT. */
static int saved = -1;
static FILE *capture;

static void capture_begin(void) {
        fflush(stderr);
        capture = tmpfile();
        assert_non_null(capture);
        saved = dup(STDERR_FILENO);
        assert_true(dup2(fileno(capture), STDERR_FILENO) >= 0);
}

static void capture_end(char *out, size_t size) {
        size_t n;

        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        rewind(capture);
        n = fread(out, 1, size - 1, capture);
        out[n] = 0;
        fclose(capture);
}

static void lines_carry_the_prefix_and_the_reason(void **state) {
        char out[1024];
        (void)state;

        tb_log_set_prefix("trustboot genkey");
        tb_log_set_level(TB_LOG_INFO);
        capture_begin();
        tb_err("keys/PK.key: cannot write");
        tb_warn("expires soon");
        assert_int_equal(tb_log_errno(-EACCES, "%s: cannot open", "db.key"), -EACCES);
        assert_int_equal(tb_log_errno(ENOENT, "x"), -ENOENT); /* a positive errno comes back negative */
        assert_int_equal(tb_fail(EBADMSG, "%s: not a PE image", "a.efi"), -EBADMSG);
        tb_debug("not shown at info level");
        capture_end(out, sizeof(out));
        assert_string_equal(out, "trustboot genkey: keys/PK.key: cannot write\n"
                                 "trustboot genkey: warning: expires soon\n"
                                 "trustboot genkey: db.key: cannot open: Permission denied\n"
                                 "trustboot genkey: x: No such file or directory\n"
                                 "trustboot genkey: a.efi: not a PE image\n");
        tb_log_set_prefix(NULL);
}

static void errors_count_even_when_quiet(void **state) {
        char out[256];
        unsigned before = tb_log_error_count();
        (void)state;

        tb_log_set_level(TB_LOG_QUIET);
        capture_begin();
        tb_err("one");
        tb_warn("not an error");
        capture_end(out, sizeof(out));
        assert_string_equal(out, "");
        assert_int_equal(tb_log_error_count(), before + 1);
        tb_log_set_level(TB_LOG_DEBUG);
        assert_int_equal(tb_log_get_level(), TB_LOG_DEBUG);
        capture_begin();
        tb_debug("shown");
        capture_end(out, sizeof(out));
        assert_string_equal(out, "trustboot: debug: shown\n");
        tb_log_set_level(TB_LOG_INFO);
}

static void out_of_memory_is_said_once(void **state) {
        char out[256];
        (void)state;

        capture_begin();
        assert_int_equal(tb_log_oom(), -ENOMEM);
        assert_int_equal(tb_log_oom(), -ENOMEM);
        assert_int_equal(tb_log_errno(-ENOMEM, "cannot allocate"), -ENOMEM); /* already said */
        capture_end(out, sizeof(out));
        assert_string_equal(out, "trustboot: out of memory\n");
}

static int calls;

static int next_error(void) {
        calls++;
        errno = 0; /* what a logging call may do to errno: the value passed in is what comes back */
        return -EPERM;
}

static void the_error_is_evaluated_once(void **state) {
        char out[256];
        (void)state;

        capture_begin();
        calls = 0;
        assert_int_equal(tb_log_errno(next_error(), "a"), -EPERM);
        assert_int_equal(tb_fail(next_error(), "b"), -EPERM);
        assert_int_equal(calls, 2);
        errno = EACCES;
        assert_int_equal(tb_log_errno(-errno, "c"), -EACCES);
        capture_end(out, sizeof(out));
        assert_string_equal(out, "trustboot: a: Operation not permitted\ntrustboot: b\n"
                                 "trustboot: c: Permission denied\n");
}

static void negative_errno_is_never_zero(void **state) {
        (void)state;

        errno = ENOENT;
        assert_int_equal(negative_errno(), -ENOENT);
        errno = 0;
        assert_int_equal(negative_errno(), -EIO);
        errno = -5; /* never set by libc; still a failure */
        assert_int_equal(negative_errno(), -EIO);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(lines_carry_the_prefix_and_the_reason),
                cmocka_unit_test(errors_count_even_when_quiet),
                cmocka_unit_test(out_of_memory_is_said_once),
                cmocka_unit_test(the_error_is_evaluated_once),
                cmocka_unit_test(negative_errno_is_never_zero),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
