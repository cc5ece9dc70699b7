/* Fuzz the image reference parser: references come from command lines, cloud-configs and CI. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rootfs/imageref.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        tb_imageref *r = NULL;

        tb_log_set_level(TB_LOG_QUIET);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (tb_imageref_parse(s, &r) == 0) {
                char *str = tb_imageref_string(r), *again = NULL;
                tb_imageref *r2 = NULL;

                /* What we print parses back to the same reference. */
                if (str && tb_imageref_parse(str, &r2) == 0) {
                        again = tb_imageref_string(r2);
                        if (!again || strcmp(str, again) != 0)
                                abort();
                } else if (str)
                        abort();
                (void)tb_imageref_api_host(r);
                (void)tb_imageref_manifest_ref(r);
                free(again);
                free(str);
                tb_imageref_free(r2);
                tb_imageref_free(r);
        }
        if (tb_imageref_from_source(s, &r) > 0)
                tb_imageref_free(r);
        free(s);
        return 0;
}
