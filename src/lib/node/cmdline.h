/* cmdline.h — the kernel command line (/proc/cmdline): flags and key=value, quoting as the kernel. */
#pragma once

#include <stdbool.h>

/* Reads the command line from PATH (NULL: /proc/cmdline; tests may point elsewhere). */
void tb_cmdline_set_path(const char *path);

/* Whether the bare word KEY (or KEY=…) is on the command line. */
bool tb_cmdline_has(const char *key);
/* The value of the last KEY=VALUE: 1 and *RET (malloc'ed, "" for a bare KEY), 0 if absent. */
int tb_cmdline_get(const char *key, char **ret);
