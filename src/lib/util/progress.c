#include "util/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tb_progress_begin(tb_progress *p, const char *label) {
        *p = (tb_progress){ .label = label };
        p->active = isatty(STDERR_FILENO) && tb_log_get_level() >= TB_LOG_INFO;
        p->start = p->last = now();
}

void tb_progress_add(tb_progress *p, uint64_t bytes) {
        double t;

        p->bytes += bytes;
        if (!p->active)
                return;
        t = now();
        if (t - p->last < 0.25)
                return;
        p->last = t;
        fprintf(stderr, "\r\033[K%s: %.1f MiB, %.1f s", p->label, (double)p->bytes / (1 << 20), t - p->start);
        fflush(stderr);
        p->drawn = true;
}

void tb_progress_end(tb_progress *p) {
        if (p->active && p->drawn)
                fputs("\r\033[K", stderr);
        p->active = false;
}
