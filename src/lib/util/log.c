#include "util/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum tb_log_level current_level = TB_LOG_INFO;
static const char *current_prefix = "trustboot";
static unsigned error_count;
static bool oom_logged; /* "out of memory" is said once, however many callers pass -ENOMEM up */

void tb_log_set_level(enum tb_log_level level) {
        current_level = level;
}

enum tb_log_level tb_log_get_level(void) {
        return current_level;
}

void tb_log_set_prefix(const char *prefix) {
        current_prefix = prefix ? prefix : "trustboot";
}

_printf_(3, 0) static void log_va(enum tb_log_level level, const char *suffix, const char *fmt, va_list ap) {
        static const char *const tags[] = {
                [TB_LOG_ERR] = "", [TB_LOG_WARN] = "warning: ", [TB_LOG_INFO] = "", [TB_LOG_DEBUG] = "debug: ",
        };
        char line[4096];

        if (level == TB_LOG_ERR)
                error_count++;
        if (level > current_level)
                return;
        vsnprintf(line, sizeof(line), fmt, ap);
        /* Build the whole line first so that concurrent writers do not interleave. */
        fprintf(stderr, "%s: %s%s%s%s\n", current_prefix, tags[level], line, suffix ? ": " : "", suffix ? suffix : "");
}

void tb_log(enum tb_log_level level, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_va(level, NULL, fmt, ap);
        va_end(ap);
}

void tb_log_errno_report(int err, const char *fmt, ...) {
        va_list ap;

        if ((err == -ENOMEM || err == ENOMEM) && oom_logged)
                return;
        va_start(ap, fmt);
        log_va(TB_LOG_ERR, strerror(err < 0 ? -err : err), fmt, ap);
        va_end(ap);
}

void tb_fail_report(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_va(TB_LOG_ERR, NULL, fmt, ap);
        va_end(ap);
}

void tb_log_oom_report(void) {
        if (!oom_logged)
                tb_err("out of memory");
        oom_logged = true;
}

unsigned tb_log_error_count(void) {
        return error_count;
}
