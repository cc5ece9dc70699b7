/* Fuzz the cloud-config reader: install configuration comes from the medium, the OEM partition
 * and other people's files (YAML through libyaml, then our typed mapping onto tb_cloudconfig).
 * Each input is merged twice into one config, as a second file would be, then validated. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "node/cloudconfig.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The library logs every input it refuses; only sanitizer reports belong on stderr. */
__attribute__((constructor)) static void quiet_log(void) {
        tb_log_set_level(TB_LOG_QUIET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        tb_cloudconfig *c = NULL;

        if (tb_cloudconfig_new(&c) < 0)
                return 0;
        /* Not NUL-terminated on purpose: the reader must stay inside LEN. */
        if (tb_cloudconfig_merge(c, "fuzz.yaml", (const char *)data, size) >= 0 &&
            tb_cloudconfig_merge(c, "fuzz2.yaml", (const char *)data, size) >= 0)
                (void)tb_cloudconfig_validate(c);
        tb_cloudconfig_free(c);
        return 0;
}
