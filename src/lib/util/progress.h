/* progress.h — one self-rewriting status line on stderr for long steps, only when stderr is a
 * terminal and the log level shows info messages (never in logs, pipes or CI output). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct tb_progress {
        const char *label;
        bool active;
        bool drawn; /* something is on the line, to be cleared */
        uint64_t bytes;
        double start, last;
} tb_progress;

void tb_progress_begin(tb_progress *p, const char *label);
/* Adds BYTES to the count; redraws at most four times a second. */
void tb_progress_add(tb_progress *p, uint64_t bytes);
/* Clears the line (if one was drawn), so that the next log line starts clean. */
void tb_progress_end(tb_progress *p);
