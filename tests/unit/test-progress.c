/* tests/unit/test-progress.c — the progress line: drawn only on a terminal (a pseudo-terminal
 * here) and only at info level, at most four times a second, and cleared at the end; never a
 * byte into a file or a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/progress.h"

/* Reads everything FD's writer left, up to SIZE bytes: a pseudo-terminal hands its bytes over in
 * pieces (one read() got only part of the line on a loaded CI machine), so read until nothing more
 * arrives within 200 ms. */
static size_t drain(int fd, char *out, size_t size) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        size_t got = 0;
        ssize_t n;

        while (got < size && poll(&pfd, 1, 200) > 0) {
                n = read(fd, out + got, size - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        return got;
}

/* Runs a progress of 3 MiB over 0.3 s with stderr on FD; returns what FD's reader got in OUT. */
static void run(int fd, int reader, char *out, size_t size) {
        tb_progress p;
        int saved;

        fflush(stderr);
        saved = dup(STDERR_FILENO);
        assert_true(dup2(fd, STDERR_FILENO) >= 0);
        tb_progress_begin(&p, "copying norole.efi");
        tb_progress_add(&p, 1 << 20);
        usleep(300000);
        tb_progress_add(&p, 2 << 20);
        tb_progress_add(&p, 1 << 20); /* too soon to draw again */
        tb_progress_end(&p);
        fflush(stderr);
        assert_true(dup2(saved, STDERR_FILENO) >= 0);
        close(saved);
        assert_int_equal(p.bytes, 4 << 20);
        out[drain(reader, out, size - 1)] = 0;
}

static void drawn_and_cleared_on_a_terminal(void **state) {
        int master = posix_openpt(O_RDWR | O_NOCTTY), slave;
        char out[512];
        (void)state;

        assert_true(master >= 0);
        assert_int_equal(grantpt(master), 0);
        assert_int_equal(unlockpt(master), 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY);
        assert_true(slave >= 0);
        run(slave, master, out, sizeof(out));
        assert_non_null(strstr(out, "\r\033[Kcopying norole.efi: 3.0 MiB, 0."));
        assert_null(strstr(out, "4.0 MiB")); /* not redrawn within a quarter second */
        assert_int_equal(strcmp(out + strlen(out) - 4, "\r\033[K"), 0);

        tb_log_set_level(TB_LOG_WARN); /* -q: no progress either */
        assert_int_equal(fcntl(master, F_SETFL, O_NONBLOCK), 0);
        run(slave, master, out, sizeof(out));
        assert_string_equal(out, "");
        tb_log_set_level(TB_LOG_INFO);
        close(slave);
        close(master);
}

static void nothing_in_a_pipe(void **state) {
        int fds[2];
        char out[64];
        (void)state;

        assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
        run(fds[1], fds[0], out, sizeof(out));
        assert_string_equal(out, "");
        close(fds[0]);
        close(fds[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(drawn_and_cleared_on_a_terminal),
                cmocka_unit_test(nothing_in_a_pipe),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
