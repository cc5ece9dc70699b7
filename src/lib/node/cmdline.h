/* cmdline.h — the kernel command line (/proc/cmdline): flags and key=value, quoting as the kernel. */
#pragma once

#include <stdbool.h>

/* Reads the command line from PATH (NULL: /proc/cmdline; tests may point elsewhere). */
void tb_cmdline_set_path(const char *path);

/* Whether the bare word KEY (or KEY=…) is on the command line. */
bool tb_cmdline_has(const char *key);
/* A flag as systemd reads one: a bare KEY or KEY=1/yes/true/on is set; KEY=0/no/false/off, any
 * other value and no KEY at all are not (research: issue 17, "trustboot.insecure=0" must not
 * count as set). */
bool tb_cmdline_flag(const char *key);
/* 1 for "" (a bare word) and 1/yes/y/true/t/on, 0 for 0/no/n/false/f/off (any case), else -EINVAL. */
int tb_cmdline_parse_bool(const char *v);
/* The value of the last KEY=VALUE: 1 and *RET (malloc'ed, "" for a bare KEY), 0 if absent. */
int tb_cmdline_get(const char *key, char **ret);
