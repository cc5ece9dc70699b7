/* Fuzz the .pcrsig JSON lookup: the signature file comes from the boot medium. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "measure/tpm2-policy.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The library logs every input it refuses; only sanitizer reports belong on stderr. */
__attribute__((constructor)) static void quiet_log(void) {
        tb_log_set_level(TB_LOG_QUIET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t pol[TB_TPM2_DIGEST_SIZE] = { 0x08, 0xa8, 0xce, 0x75 };
        tb_buf sig = TB_BUF_INIT;

        (void)tb_tpm2_find_signature((const char *)data, size, TPM2_ALG_SHA256, UINT32_C(1) << 11,
                                     "4176d001e459ff4e7736cc0e7f1ad6132a709b637ff6a0576e453f2a2b6dc291", pol, &sig);
        tb_buf_free(&sig);
        return 0;
}
