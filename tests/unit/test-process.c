/* tests/unit/test-process.c — spawning, waiting for and stopping child processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/process.h"

static sigset_t empty_mask(void) {
        sigset_t m;

        sigemptyset(&m);
        return m;
}

static void spawn_gives_the_child_its_stdout_and_fd3(void **state) {
        char *const argv[] = { (char *)"sh", (char *)"-c", (char *)"echo out; echo three >&3", NULL };
        sigset_t mask = empty_mask();
        int out[2], three[2], status = -1;
        char buf[64] = "";
        pid_t pid = 0;
        (void)state;

        assert_int_equal(pipe(out), 0);
        assert_int_equal(pipe(three), 0);
        assert_int_equal(tb_spawn(argv, -1, out[1], -1, three[1], &mask, &pid), 0);
        close(out[1]);
        close(three[1]);
        assert_true(pid > 0);
        assert_true(tb_process_wait(pid, 10, &status));
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(read(out[0], buf, sizeof(buf) - 1), 4);
        assert_string_equal(buf, "out\n");
        memset(buf, 0, sizeof(buf));
        assert_int_equal(read(three[0], buf, sizeof(buf) - 1), 6);
        assert_string_equal(buf, "three\n");
        close(out[0]);
        close(three[0]);
}

static void a_missing_program_is_enoent_not_a_child(void **state) {
        char *const argv[] = { (char *)"/nonexistent/trustboot-no-such-program", NULL };
        sigset_t mask = empty_mask();
        pid_t pid = 0;
        (void)state;

        assert_int_equal(tb_spawn(argv, -1, -1, -1, -1, &mask, &pid), -ENOENT);
        assert_int_equal(pid, 0);
}

static void wait_times_out_and_stop_ends_a_sleeper(void **state) {
        char *const argv[] = { (char *)"sleep", (char *)"30", NULL };
        sigset_t mask = empty_mask();
        int status = 0;
        double t0;
        pid_t pid = 0;
        (void)state;

        assert_int_equal(tb_spawn(argv, -1, -1, -1, -1, &mask, &pid), 0);
        t0 = tb_monotonic_s();
        assert_false(tb_process_wait(pid, 0.2, &status));
        assert_true(tb_monotonic_s() - t0 >= 0.2);
        tb_process_stop(&pid, 5, &status);
        assert_int_equal(pid, 0);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        tb_process_stop(&pid, 5, NULL); /* no-op once stopped */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(spawn_gives_the_child_its_stdout_and_fd3),
                cmocka_unit_test(a_missing_program_is_enoent_not_a_child),
                cmocka_unit_test(wait_times_out_and_stop_ends_a_sleeper),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
