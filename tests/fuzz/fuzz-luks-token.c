/* Fuzz the systemd-tpm2 token parser: LUKS2 headers come from untrusted disks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/luks-token.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The library logs every input it refuses; only sanitizer reports belong on stderr. */
__attribute__((constructor)) static void quiet_log(void) {
        tb_log_set_level(TB_LOG_QUIET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        tb_tpm2_sealed s = TB_TPM2_SEALED_INIT;
        char *json, *again = NULL;
        int slot;

        /* libcryptsetup hands tokens over as C strings. */
        json = strndup((const char *)data, size);
        if (!json)
                return 0;
        if (tb_luks_token_parse(json, strlen(json), &s, &slot) >= 0 &&
            (s.primary_alg == TPM2_ALG_ECC || s.primary_alg == TPM2_ALG_RSA)) {
                /* Whatever parses must format and parse again. */
                tb_tpm2_sealed t = TB_TPM2_SEALED_INIT;

                if (tb_luks_token_format(&s, slot, &again) < 0 ||
                    tb_luks_token_parse(again, strlen(again), &t, NULL) < 0)
                        abort();
                tb_tpm2_sealed_done(&t);
        }
        free(again);
        free(json);
        tb_tpm2_sealed_done(&s);
        return 0;
}
