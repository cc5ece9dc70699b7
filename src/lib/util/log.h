/* log.h — the only place the library prints: one line per message, on stderr. */
#pragma once

#include <errno.h>

#include "util/macro.h"

enum tb_log_level {
        TB_LOG_QUIET = -1, /* nothing at all: fuzz targets, whose stderr must carry only sanitizer reports */
        TB_LOG_ERR = 0,
        TB_LOG_WARN = 1,
        TB_LOG_INFO = 2,
        TB_LOG_DEBUG = 3,
};

void tb_log_set_level(enum tb_log_level level);
enum tb_log_level tb_log_get_level(void);

/* The prefix names the program and subcommand, e.g. "trustboot genkey". */
void tb_log_set_prefix(const char *prefix);

_printf_(2, 3) void tb_log(enum tb_log_level level, const char *fmt, ...);

/* The three functions below return a negative errno, and the macros make that visible where
 * they are called: a static analyzer reads one file at a time, and without the macros it sees
 * "return tb_log_oom();" as a failure path that may return 0 and leave *ret unset. */

/* Logs "prefix: fmt: strerror(-err)" at error level and returns err (negative errno): the
 * failure came from the system (open, read, a library call that set errno). */
_printf_(2, 3) void tb_log_errno_report(int err, const char *fmt, ...);
#define tb_log_errno(err, ...)                                  \
        ({                                                      \
                int _le_ = (err);                               \
                tb_log_errno_report(_le_, __VA_ARGS__);         \
                _le_ < 0 ? _le_ : -_le_;                        \
        })

/* Logs "prefix: fmt" at error level and returns err (negative errno): the message itself says
 * what is wrong, err only classifies it for the caller (systemd's SYNTHETIC_ERRNO idea).
 *   return tb_fail(-EBADMSG, "%s: not a PE image", path); */
_printf_(1, 2) void tb_fail_report(const char *fmt, ...);
#define tb_fail(err, ...)                                       \
        ({                                                      \
                int _lf_ = (err);                               \
                tb_fail_report(__VA_ARGS__);                    \
                _lf_ < 0 ? _lf_ : -_lf_;                        \
        })

/* Logs "out of memory" (once per process) and returns -ENOMEM: for allocations in I/O and
 * composite functions. */
void tb_log_oom_report(void);
static inline int tb_log_oom(void) {
        tb_log_oom_report();
        return -ENOMEM;
}

/* How many error-level lines were printed so far: main()'s check that no command fails silently. */
unsigned tb_log_error_count(void);

#define tb_err(...) tb_log(TB_LOG_ERR, __VA_ARGS__)
#define tb_warn(...) tb_log(TB_LOG_WARN, __VA_ARGS__)
#define tb_info(...) tb_log(TB_LOG_INFO, __VA_ARGS__)
#define tb_debug(...) tb_log(TB_LOG_DEBUG, __VA_ARGS__)
