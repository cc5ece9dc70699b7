#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pe/signer.h"
#include "rootfs/exclude.h"
#include "rootfs/initrd.h"
#include "util/log.h"

int cli_verbosity = 0;

__attribute__((format(printf, 2, 3))) int cli_usage_error(const char *cmd, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "trustboot%s%s: ", cmd ? " " : "", cmd ? cmd : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'trustboot%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
        return TB_EXIT_USAGE;
}

int cli_bad_option(const char *cmd, char **argv) {
        const char *arg = optind > 0 ? argv[optind - 1] : "?";

        if (optopt && optopt != '?' && arg[0] == '-' && arg[1] != '-')
                return cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
        return cli_usage_error(cmd, "option '%s' is unknown or needs a value", arg);
}

int cli_print_help(const char *usage) {
        fputs(usage, stdout);
        return TB_EXIT_OK;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int cli_parse_compression(const char *cmd, const char *arg, void *target) {
        if (tb_initrd_compression_from_string(arg, target) < 0)
                return cli_usage_error(cmd, "--compression: '%s' is not zstd, xz, gzip or none", arg);
        return 0;
}

int cli_parse_compression_level(const char *cmd, const char *arg, void *target) {
        uint64_t v;

        if (cli_parse_u64(arg, 0, 22, &v) < 0)
                return cli_usage_error(cmd, "--compression-level: '%s' is not a level from 0 to 22", arg);
        *(int *)target = (int)v;
        return 0;
}

int cli_parse_expiry_warn_days(const char *command, const char *arg, void *target) {
        uint64_t v;

        (void)target;
        if (cli_parse_u64(arg, 0, 36500, &v) < 0)
                return cli_usage_error(command, "--expiry-warn-days: '%s' is not a number of days", arg);
        tb_cert_set_expiry_warn_days((unsigned)v);
        return 0;
}

int cli_source_date_epoch(uint64_t max, int64_t *ret) {
        const char *s = getenv("SOURCE_DATE_EPOCH");
        uint64_t v;

        if (!s || !*s)
                return 0;
        if (cli_parse_u64(s, 0, max, &v) < 0) {
                tb_err("SOURCE_DATE_EPOCH=%s: not a number of seconds since 1970 up to %" PRIu64, s, max);
                return TB_EXIT_FAILURE;
        }
        *ret = (int64_t)v;
        return 0;
}

int cli_parse_exclude(const char *cmd, const char *arg, void *target) {
        _cleanup_(tb_exclude_freep) tb_exclude *x = NULL;
        cli_list *l = target;
        const char *why = NULL;
        int r;

        /* Checked here, so that a typo fails before any work, with the reason. */
        if (tb_exclude_new(&x) < 0)
                return TB_EXIT_FAILURE;
        r = tb_exclude_add(x, arg, &why);
        if (r == -EINVAL)
                return cli_usage_error(cmd, "--exclude '%s': %s", arg, why);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (*l->n >= l->max)
                return cli_usage_error(cmd, "at most %zu --exclude", l->max);
        l->v[(*l->n)++] = arg;
        return 0;
}
