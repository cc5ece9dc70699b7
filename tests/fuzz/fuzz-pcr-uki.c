/* Fuzz what measure --uki does with a UKI from anywhere: find the stub version (.sdmagic, .sbat)
 * and take the measured sections under both lookup rules (252 prefix/last, 257 exact/profiles).
 *
 * Input model: a section is measured over its VirtualSize, zero-padded past its raw data, so a
 * mutated VirtualSize of a few GiB made each run hash gigabytes of zeros (~40 runs/s) without
 * reaching any new code. Sections whose padding exceeds PAD_MAX are skipped before measuring:
 * the padding path itself is still taken, only its length is bounded. The stub-version parsers
 * get the first SLICE_MAX bytes (they read a section, not a file). Together: ~36 → ~1700
 * runs/s on the 2-core build machine. */
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "measure/pcr.h"
#include "pe/sbat.h"
#include "util/strset.h"

#define PAD_MAX ((uint32_t)64 << 10)
#define SLICE_MAX ((size_t)4096)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const enum tb_stub_gen gens[] = { TB_STUB_252, TB_STUB_257 };
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;

        tb_log_set_level(TB_LOG_QUIET);
        /* The version parsers read a .sdmagic or .sbat section (a few hundred bytes), not a whole
         * file: a bounded slice keeps libFuzzer's memcmp tracing from dominating every run. */
        (void)tb_stub_gen_from_sdmagic(data, size < SLICE_MAX ? size : SLICE_MAX);
        (void)tb_stub_gen_from_sbat(data, size < SLICE_MAX ? size : SLICE_MAX);
        {
                /* .sbat text as inspect, verify and the UKI builder split and merge it */
                _cleanup_(tb_strv_freep) char **lines = NULL;
                _cleanup_(tb_buf_freep) tb_buf merged = TB_BUF_INIT;
                const tb_sbat_part part = { data, size < SLICE_MAX ? size : SLICE_MAX };

                (void)tb_sbat_lines(part.data, part.len, &lines, NULL);
                (void)tb_sbat_merge(&part, 1, &merged, NULL);
        }
        if (tb_pe_from_memory(data, size, &pe) < 0)
                return 0;
        for (size_t i = 0; i < tb_pe_n_sections(pe); i++) {
                const tb_pe_section *s = tb_pe_section_at(pe, i);

                if (s->virtual_size > s->raw_size && s->virtual_size - s->raw_size > PAD_MAX)
                        return 0;
        }
        (void)tb_stub_gen_from_pe(pe);
        for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
                _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
                tb_digests v;

                if (tb_pcr11_new(TB_BANK_BIT(TB_BANK_SHA256), gens[i], &p) < 0)
                        return 0;
                if (tb_pcr11_set_from_pe(p, pe) >= 0)
                        (void)tb_pcr11_value(p, "enter-initrd", &v);
                /* the last profile, as "@N" selects it */
                if (tb_pcr11_set_from_pe_profile(p, pe, tb_uki_n_profiles(pe) > 0 ? tb_uki_n_profiles(pe) - 1 : 1) >= 0)
                        (void)tb_pcr11_value(p, "enter-initrd", &v);
        }
        return 0;
}
