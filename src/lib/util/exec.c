#include "util/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

extern char **environ;

static int drain(int fd, tb_buf *into) {
        if (!into)
                return -EINVAL;
        for (;;) {
                ssize_t n;
                int r = tb_buf_reserve(into, 4096);

                if (r < 0)
                        return r;
                n = read(fd, into->data + into->len, into->cap - into->len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 1;
                        return negative_errno();
                }
                if (n == 0)
                        return 0;
                into->len += (size_t)n;
        }
}

int tb_exec(const char *const argv[], tb_buf *out, tb_buf *err_out) {
        posix_spawn_file_actions_t fa;
        int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
        _cleanup_(tb_buf_freep) tb_buf err_local = TB_BUF_INIT;
        tb_buf *err = err_out ? err_out : &err_local;
        pid_t pid;
        int r, status;

        if (pipe2(errp, O_CLOEXEC) < 0)
                return negative_errno();
        if (out && pipe2(outp, O_CLOEXEC) < 0) {
                r = negative_errno();
                close(errp[0]);
                close(errp[1]);
                return r;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
        if (out)
                posix_spawn_file_actions_adddup2(&fa, outp[1], STDOUT_FILENO);
        else
                posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(errp[1]);
        if (out)
                close(outp[1]);
        if (r != 0) {
                close(errp[0]);
                if (out)
                        close(outp[0]);
                return -r;
        }

        /* Read both pipes until EOF so that a chatty child never blocks on a full pipe. */
        fcntl(errp[0], F_SETFL, O_NONBLOCK);
        if (out)
                fcntl(outp[0], F_SETFL, O_NONBLOCK);
        struct pollfd pfd[2] = { { errp[0], POLLIN, 0 }, { out ? outp[0] : -1, POLLIN, 0 } };
        int open_fds = out ? 2 : 1;
        while (open_fds > 0) {
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        r = drain(pfd[i].fd, i == 0 ? err : out);
                        if (r <= 0) {
                                close(pfd[i].fd);
                                pfd[i].fd = -1;
                                open_fds--;
                        }
                }
        }
        for (int i = 0; i < 2; i++)
                if (pfd[i].fd >= 0)
                        close(pfd[i].fd);
        if (tb_buf_append_zero(err, 1) >= 0)
                err->len--; /* keep it a C string without counting the NUL */

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return -ECHILD;
}

int tb_exec_checked(const char *const argv[], tb_buf *out) {
        _cleanup_(tb_buf_freep) tb_buf err = TB_BUF_INIT;
        int r;

        r = tb_exec(argv, out, &err);
        if (r < 0)
                return tb_log_errno(r, "cannot run %s", argv[0]);
        if (r != 0) {
                const char *msg = err.data ? (const char *)err.data : "";
                size_t n = strcspn(msg, "\n");

                tb_err("%s failed (exit status %d)%s%.*s", argv[0], r, n ? ": " : "", (int)n, msg);
                return -EIO;
        }
        return 0;
}
