/* Fuzz the EFI signature list parser (custom firmware databases come from untrusted files). */
#include <stddef.h>
#include <stdint.h>

#include "sb/efisig.h"
#include "util/log.h"

static int count(const tb_esl_entry *e, void *userdata) {
        size_t *n = userdata;

        /* Touch the entry's bytes so that ASan sees any out-of-bounds view. */
        if (e->len > 0 && e->data[e->len - 1] == 0x42)
                (*n)++;
        (*n)++;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The library logs every input it refuses; only sanitizer reports belong on stderr. */
__attribute__((constructor)) static void quiet_log(void) {
        tb_log_set_level(TB_LOG_QUIET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t n = 0;

        (void)tb_esl_foreach(data, size, count, &n);
        return 0;
}
