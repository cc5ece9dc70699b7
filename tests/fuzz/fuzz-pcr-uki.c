/* Fuzz what measure --uki does with a UKI from anywhere: find the stub version (.sdmagic, .sbat)
 * and take the measured sections under both lookup rules (252 prefix/last, 257 exact/profiles). */
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "measure/pcr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const enum tb_stub_gen gens[] = { TB_STUB_252, TB_STUB_257 };
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;

        tb_log_set_level(TB_LOG_QUIET);
        (void)tb_stub_gen_from_sdmagic(data, size);
        (void)tb_stub_gen_from_sbat(data, size);
        if (tb_pe_from_memory(data, size, &pe) < 0)
                return 0;
        (void)tb_stub_gen_from_pe(pe);
        for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
                _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
                tb_digests v;

                if (tb_pcr11_new(TB_BANK_BIT(TB_BANK_SHA256), gens[i], &p) < 0)
                        return 0;
                if (tb_pcr11_set_from_pe(p, pe) >= 0)
                        (void)tb_pcr11_value(p, "enter-initrd", &v);
        }
        return 0;
}
