/* swtpm.h — the unit tests' one TPM: a fresh swtpm on a private socket in a test's directory,
 * started before and stopped after each test that needs one. Include after cmocka.h. */
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/process.h"

static inline bool tb_test_swtpm_accepts(const char *sock) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };

        assert_true(strlen(sock) < sizeof(a.sun_path));
        memcpy(a.sun_path, sock, strlen(sock) + 1);
        for (int i = 0; i < 500; i++) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

                assert_true(fd >= 0);
                r = connect(fd, (struct sockaddr *)&a, sizeof(a));
                close(fd);
                if (r == 0)
                        return true;
                usleep(20000);
        }
        return false;
}

/* Starts swtpm with its state, socket and log in DIR; *PID is its process, DEVICE (SIZE bytes)
 * the --tpm2-device that reaches it ("swtpm:path=DIR/sock"). Fails the test if it does not answer. */
static inline void tb_test_swtpm_start(const char *dir, pid_t *pid, char *device, size_t size) {
        char statedir[300], server[400], ctrl[400], sock[400], log[400];
        int logfd;

        snprintf(statedir, sizeof(statedir), "dir=%s", dir);
        snprintf(sock, sizeof(sock), "%s/sock", dir);
        snprintf(server, sizeof(server), "type=unixio,path=%s/sock", dir);
        snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s/sock.ctrl", dir);
        snprintf(log, sizeof(log), "%s/swtpm.log", dir);
        char *const argv[] = { "swtpm", "socket", "--tpm2", "--tpmstate", statedir, "--server", server, "--ctrl", ctrl,
                               "--flags", "not-need-init,startup-clear", NULL };
        logfd = open(log, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(logfd >= 0);
        assert_int_equal(tb_spawn(argv, -1, logfd, logfd, -1, NULL, pid), 0);
        close(logfd);
        /* The socket file appears at bind(), before swtpm listens: wait until a connection is
         * accepted (under load the gap was long enough for tb_tpm2_open to be refused). */
        assert_true(tb_test_swtpm_accepts(sock));
        snprintf(device, size, "swtpm:path=%s", sock);
}

static inline void tb_test_swtpm_stop(pid_t *pid) {
        tb_process_stop(pid, 5, NULL);
}
