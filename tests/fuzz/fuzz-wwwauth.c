/* Fuzz the WWW-Authenticate parser: the header comes from any registry, before any trust. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rootfs/regauth.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        tb_regauth_challenge c = { 0 };

        tb_log_set_level(TB_LOG_QUIET);
        if (tb_regauth_parse_challenge((const char *)data, size, &c) == 0) {
                if (c.scheme == TB_REGAUTH_NONE || (c.scheme == TB_REGAUTH_BEARER && !c.realm))
                        abort();
                /* Every value is a NUL-terminated string. */
                (void)(c.realm ? strlen(c.realm) : 0);
                (void)(c.service ? strlen(c.service) : 0);
                (void)(c.scope ? strlen(c.scope) : 0);
                tb_regauth_challenge_done(&c);
        }
        return 0;
}
