/* process.h — child processes that run beside us (a VM, a software TPM): spawn with chosen
 * descriptors, wait with a timeout, stop politely. One-shot commands go through exec.h. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

/* Seconds on the monotonic clock: for deadlines and durations. */
double tb_monotonic_s(void);

/* fork + exec ARGV (PATH lookup) with FD_IN, FD_OUT, FD_ERR as stdio and FD3 as descriptor 3
 * (each -1: inherited / none). The child gets its own process group (a Ctrl-C on the terminal is
 * ours to handle, not the child's), dies with us (PDEATHSIG), and starts with signal mask MASK.
 * An exec failure comes back through a close-on-exec pipe as its negative errno, so a caller can
 * tell "not installed" (-ENOENT) apart. Logs nothing. */
int tb_spawn(char *const argv[], int fd_in, int fd_out, int fd_err, int fd3, const sigset_t *mask, pid_t *ret);

/* Waits up to TIMEOUT seconds for PID; true when it was reaped (its status in *STATUS). */
bool tb_process_wait(pid_t pid, double timeout, int *status);

/* SIGTERM first (qemu then exits cleanly, flushing its disks), SIGKILL after GRACE seconds;
 * reaps it, stores the status (STATUS may be NULL) and sets *PID to 0. No-op for *PID <= 0. */
void tb_process_stop(pid_t *pid, double grace, int *status);
