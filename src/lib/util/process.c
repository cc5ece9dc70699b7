#include "util/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/macro.h"

double tb_monotonic_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tb_spawn(char *const argv[], int fd_in, int fd_out, int fd_err, int fd3, const sigset_t *mask, pid_t *ret) {
        int ep[2], err = 0;
        pid_t parent = getpid(), pid;
        ssize_t n;

        if (pipe2(ep, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                err = negative_errno();
                close(ep[0]);
                close(ep[1]);
                return err;
        }
        if (pid == 0) {
                int fds[4] = { fd_in, fd_out, fd_err, fd3 };

                setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                signal(SIGPIPE, SIG_DFL);
                sigprocmask(SIG_SETMASK, mask, NULL);
                /* Move the sources above 3 first so that dup2 cannot clobber one with another. */
                for (int i = 0; i < 4; i++)
                        if (fds[i] >= 0 && fds[i] <= 3)
                                fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
                for (int i = 0; i < 4; i++)
                        if (fds[i] >= 0 && dup2(fds[i], i) < 0)
                                goto fail;
                execvp(argv[0], argv);
        fail:
                err = errno;
                (void)!write(ep[1], &err, sizeof(err));
                _exit(127);
        }
        close(ep[1]);
        do
                n = read(ep[0], &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        close(ep[0]);
        if (n == (ssize_t)sizeof(err)) {
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                return -err;
        }
        *ret = pid;
        return 0;
}

bool tb_process_wait(pid_t pid, double timeout, int *status) {
        double end = tb_monotonic_s() + timeout;

        for (;;) {
                pid_t r = waitpid(pid, status, WNOHANG);

                if (r == pid || (r < 0 && errno == ECHILD))
                        return true;
                if (tb_monotonic_s() >= end)
                        return false;
                poll(NULL, 0, 20);
        }
}

void tb_process_stop(pid_t *pid, double grace, int *status) {
        int st = 0;

        if (*pid <= 0)
                return;
        if (!tb_process_wait(*pid, 0, &st)) {
                kill(*pid, SIGTERM);
                if (!tb_process_wait(*pid, grace, &st)) {
                        kill(*pid, SIGKILL);
                        while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
                                ;
                }
        }
        if (status)
                *status = st;
        *pid = 0;
}
