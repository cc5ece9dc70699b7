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

int cli_registry_option(const char *cmd, int opt, const char *arg, tb_registry_options *o, uint64_t *max_image_size) {
        tb_oci_platform p;
        char buf[64];
        uint64_t v;

        switch (opt) {
        case CLI_REG_PLATFORM:
                if (tb_registry_parse_platform(arg, buf, sizeof(buf), &p) < 0)
                        return cli_usage_error(cmd, "--platform: '%s' is not OS/ARCH[/VARIANT]", arg);
                o->platform = arg;
                return 1;
        case CLI_REG_INSECURE:
                o->allow_insecure = true;
                return 1;
        case CLI_REG_CERT_DIR:
                o->cert_dir = arg;
                return 1;
        case CLI_REG_CACHE:
                o->cache_dir = arg;
                return 1;
        case CLI_REG_NO_CACHE:
                o->no_cache = true;
                return 1;
        case CLI_REG_CACHE_MAX:
                if (cli_parse_size(arg, &v) < 0 || v == 0)
                        return cli_usage_error(cmd, "--cache-max: '%s' is not a size (e.g. 20G)", arg);
                o->cache_max = v;
                return 1;
        case CLI_REG_MAX_IMAGE_SIZE:
                if (cli_parse_size(arg, &v) < 0 || v == 0)
                        return cli_usage_error(cmd, "--max-image-size: '%s' is not a size (e.g. 8G)", arg);
                *max_image_size = v;
                return 1;
        case CLI_REG_TIMEOUT:
                if (cli_parse_u64(arg, 1, 3600, &v) < 0)
                        return cli_usage_error(cmd, "--registry-timeout: '%s' is not a number of seconds (1-3600)", arg);
                o->timeout = (unsigned)v;
                return 1;
        default:
                return 0;
        }
}
