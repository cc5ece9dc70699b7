/* cmdline.c — kernel command line words, with the kernel's double-quote rule. */
#include "node/cmdline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/log.h"

static const char *cmdline_path = "/proc/cmdline";

void tb_cmdline_set_path(const char *path) {
        cmdline_path = path ? path : "/proc/cmdline";
}

/* Calls back for each word; quotes group (a"b c"d is one word: ab cd), as next_arg() does. */
static int lookup(const char *key, char **ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        size_t klen = strlen(key);
        int found = 0;

        if (tb_read_file(cmdline_path, (size_t)64 * 1024, &b) < 0)
                return 0;
        const char *p = (const char *)b.data, *end = p + b.len;
        while (p < end) {
                while (p < end && (*p == ' ' || *p == '\n' || *p == '\t'))
                        p++;
                if (p >= end)
                        break;
                char word[4096];
                size_t n = 0;
                bool quoted = false;
                while (p < end && (quoted || (*p != ' ' && *p != '\n' && *p != '\t'))) {
                        if (*p == '"')
                                quoted = !quoted;
                        else if (n + 1 < sizeof(word))
                                word[n++] = *p;
                        p++;
                }
                word[n] = 0;
                if (strncmp(word, key, klen) == 0 && (word[klen] == 0 || word[klen] == '=')) {
                        found = 1;
                        if (ret) {
                                free(*ret);
                                if (!(*ret = strdup(word[klen] ? word + klen + 1 : "")))
                                        return tb_log_oom();
                        }
                }
        }
        return found;
}

bool tb_cmdline_has(const char *key) {
        return lookup(key, NULL) > 0;
}

int tb_cmdline_get(const char *key, char **ret) {
        *ret = NULL;
        return lookup(key, ret);
}

int tb_cmdline_parse_bool(const char *v) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        if (!*v)
                return 1; /* a bare word */
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
                if (strcasecmp(v, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ARRAY_SIZE(no); i++)
                if (strcasecmp(v, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

bool tb_cmdline_flag(const char *key) {
        _cleanup_(freep) char *v = NULL;

        if (lookup(key, &v) <= 0 || !v)
                return false;
        /* Only a clear yes counts: "trustboot.insecure=0" or a typo leaves the flag unset. */
        return tb_cmdline_parse_bool(v) == 1;
}
