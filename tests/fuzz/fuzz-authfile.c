/* Fuzz the auth-file reader (containers auth.json, ~/.docker/config.json): the first byte picks
 * which registry to look up, so prefixes, docker.io aliases and repository keys all get tried. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rootfs/regauth.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const regs[][2] = {
                { "docker.io", "library/alpine" }, { "quay.io", "kairos/fedora" }, { "127.0.0.1:5000", "a" }, { "r", NULL },
        };
        tb_regauth_creds c = { 0 };
        size_t k;

        tb_log_set_level(TB_LOG_QUIET);
        if (size < 1)
                return 0;
        k = data[0] % (sizeof(regs) / sizeof(regs[0]));
        if (tb_regauth_parse_authfile((const char *)data + 1, size - 1, regs[k][0], regs[k][1], &c) > 0) {
                if (!c.username || !c.password)
                        __builtin_trap();
                (void)strlen(c.username);
                tb_regauth_creds_done(&c);
        }
        return 0;
}
