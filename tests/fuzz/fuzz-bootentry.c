/* Fuzz the entry-name counter parser and the entry rewrite: the source medium's norole.conf
 * (a container image or ISO from elsewhere) and the ESP's file names are untrusted. The input is
 * a file name, a newline, and the conf text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/loader-entry.h"
#include "node/bootentries.h"
#include "node/bootentry.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The library logs every input it refuses; only sanitizer reports belong on stderr. */
__attribute__((constructor)) static void quiet_log(void) {
        tb_log_set_level(TB_LOG_QUIET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t name_len = nl ? (size_t)(nl - data) : size;
        char *name = strndup((const char *)data, name_len), *base = NULL;
        tb_buf out = TB_BUF_INIT;
        int left, done;

        if (!name)
                return 0;
        if (tb_loader_entry_parse_name(name, &base, &left, &done) >= 0 && left != TB_LOADER_ENTRY_COUNTER_NONE &&
            (left < 0 || done < 0))
                abort();
        free(base);
        if (nl) {
                /* Not NUL-terminated on purpose: the parser must stay inside LEN. */
                size_t len = size - name_len - 1;
                uint8_t *conf = malloc(len ? len : 1);
                if (conf) {
                        memcpy(conf, nl + 1, len);
                        (void)tb_bootentries_conf_for((const char *)conf, len, "passive", "/EFI/trustboot/passive.efi",
                                                    &out);
                        free(conf);
                }
        }
        tb_buf_free(&out);
        free(name);
        return 0;
}
