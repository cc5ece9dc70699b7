/* exec.h — the one way trustboot runs another program: argv (no shell), status and stderr checked. */
#pragma once

#include "util/buf.h"

/* Runs ARGV[0] (looked up in PATH) with ARGV. If OUT is given, stdout is captured into it;
 * otherwise it goes to our stderr. Stderr is captured into ERR_OUT (NUL-terminated, may be NULL).
 * Returns the exit status (0..255), or a negative errno if it could not run or was killed. */
int tb_exec(const char *const argv[], tb_buf *out, tb_buf *err_out);

/* tb_exec() that logs "PROGRAM failed (status N): first line of stderr" and returns -EIO on
 * a non-zero status. */
int tb_exec_checked(const char *const argv[], tb_buf *out);
