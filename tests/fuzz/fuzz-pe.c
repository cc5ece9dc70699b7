/* Fuzz the PE parser and everything that reads through it on untrusted images: section access,
 * the Authenticode hash and the certificate table / PKCS#7 reader, and the section editor. */
#include <stddef.h>
#include <stdint.h>

#include "pe/authenticode.h"
#include "util/log.h"
#include "pe/pe.h"

static int sink(const uint8_t *data, size_t len, void *userdata) {
        /* Touch the bytes so that ASan sees any out-of-bounds view. */
        if (len > 0)
                *(uint8_t *)userdata ^= data[0] ^ data[len - 1];
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        uint8_t acc = 0, md[EVP_MAX_MD_SIZE];
        unsigned md_len;
        tb_pe_source src = { .data = "fuzz", .size = 4 };

        tb_log_set_level(TB_LOG_QUIET);
        if (tb_pe_from_memory(data, size, &pe) < 0)
                return 0;
        for (size_t i = 0; i < tb_pe_n_sections(pe); i++) {
                const tb_pe_section *s = tb_pe_section_at(pe, i);

                /* Bounded: huge VirtualSizes are zero fill, not worth the time. */
                if (s->virtual_size <= (1u << 20))
                        (void)tb_pe_section_stream(pe, s, sink, &acc);
        }
        (void)tb_authenticode_digest(pe, EVP_sha256(), md, &md_len);
        (void)tb_authenticode_read(pe, &sigs);
        if (sigs.n == 0) {
                (void)tb_pe_strip_symbols(pe);
                (void)tb_pe_replace_section(pe, ".sbat", &src);
                if (tb_pe_add_section(pe, ".osrel", &src, TB_PE_SCN_MEM_READ | TB_PE_SCN_CNT_INITIALIZED_DATA) == 0)
                        (void)tb_pe_write(pe, sink, &acc);
        }
        return acc == 0x42 ? 0 : 0;
}
