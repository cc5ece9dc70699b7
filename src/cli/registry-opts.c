#include "registry-opts.h"

#include <errno.h>
#include <string.h>

#include "cli.h"

int cli_parse_size(const char *s, uint64_t *ret) {
        static const char units[] = "KMGT";
        char num[32];
        const char *u;
        size_t n = strlen(s ?: "");
        unsigned shift = 0;
        uint64_t v;

        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        memcpy(num, s, n + 1);
        if (num[n - 1] == 'B' || num[n - 1] == 'b')
                num[--n] = '\0';
        if (n > 0 && (u = strchr(units, num[n - 1] & ~0x20)) && num[n - 1] != '\0') {
                shift = 10 * (unsigned)(u - units + 1);
                num[--n] = '\0';
        }
        if (cli_parse_u64(num, 0, UINT64_MAX, &v) < 0 || (shift && v > (UINT64_MAX >> shift)))
                return -EINVAL;
        *ret = v << shift;
        return 0;
}

int cli_parse_platform(const char *command, const char *arg, void *target) {
        tb_oci_platform p;
        char buf[64];

        if (tb_registry_parse_platform(arg, buf, sizeof(buf), &p) < 0)
                return cli_usage_error(command, "--platform: '%s' is not OS/ARCH[/VARIANT]", arg);
        *(const char **)target = arg;
        return 0;
}

int cli_parse_size_option(const char *command, const char *arg, void *target) {
        uint64_t v;

        if (cli_parse_size(arg, &v) < 0 || v == 0)
                return cli_usage_error(command, "'%s' is not a size (e.g. 512M, 20G)", arg);
        *(uint64_t *)target = v;
        return 0;
}

int cli_parse_registry_timeout(const char *command, const char *arg, void *target) {
        uint64_t v;

        if (cli_parse_u64(arg, 1, 3600, &v) < 0)
                return cli_usage_error(command, "--registry-timeout: '%s' is not a number of seconds (1-3600)", arg);
        *(unsigned *)target = (unsigned)v;
        return 0;
}
