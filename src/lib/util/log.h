/* log.h — the only place the library prints: one line per message, on stderr. */
#pragma once

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

/* Logs "prefix: fmt: strerror(-err)" at error level and returns err (negative errno): the
 * failure came from the system (open, read, a library call that set errno). */
_printf_(2, 3) int tb_log_errno(int err, const char *fmt, ...);

/* Logs "prefix: fmt" at error level and returns err (negative errno): the message itself says
 * what is wrong, err only classifies it for the caller (systemd's SYNTHETIC_ERRNO idea).
 *   return tb_fail(-EBADMSG, "%s: not a PE image", path); */
_printf_(2, 3) int tb_fail(int err, const char *fmt, ...);

/* Logs "out of memory" and returns -ENOMEM: for allocations in I/O and composite functions. */
int tb_log_oom(void);

/* How many error-level lines were printed so far: main()'s check that no command fails silently. */
unsigned tb_log_error_count(void);

#define tb_err(...) tb_log(TB_LOG_ERR, __VA_ARGS__)
#define tb_warn(...) tb_log(TB_LOG_WARN, __VA_ARGS__)
#define tb_info(...) tb_log(TB_LOG_INFO, __VA_ARGS__)
#define tb_debug(...) tb_log(TB_LOG_DEBUG, __VA_ARGS__)
