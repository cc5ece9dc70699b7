#include "medium/uki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pe/authenticode.h"
#include "util/fileio.h"
#include "util/log.h"

/* objcopy --set-section-flags X=data,readonly / .linux=code,readonly, as ukify does. */
#define DATA_RO (TB_PE_SCN_CNT_INITIALIZED_DATA | TB_PE_SCN_MEM_READ)
#define CODE_RO (TB_PE_SCN_CNT_CODE | TB_PE_SCN_MEM_READ | TB_PE_SCN_MEM_EXECUTE)

static bool present(const tb_pe_source *s) {
        return s->path || s->size > 0;
}

int tb_uki_assemble(const tb_uki_parts *parts, tb_pe **ret) {
        /* Section order as the issue and ukify: data sections, .linux last (the stub may
         * decompress the kernel in place past its end). */
        const struct {
                const char *name;
                const tb_pe_source *src;
                uint32_t flags;
        } sections[] = {
                { ".osrel", &parts->osrel, DATA_RO },   { ".cmdline", &parts->cmdline, DATA_RO },
                { ".uname", &parts->uname, DATA_RO },   { ".splash", &parts->splash, DATA_RO },
                { ".initrd", &parts->initrd, DATA_RO }, { ".pcrpkey", &parts->pcrpkey, DATA_RO },
                { ".pcrsig", &parts->pcrsig, DATA_RO }, { ".linux", &parts->linux_image, CODE_RO },
        };
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        int r;

        r = tb_pe_open(parts->stub_path, &pe);
        if (r < 0)
                return r;
        if (tb_pe_get_info(pe)->cert_size > 0) {
                /* A signed stub (Debian ships them unsigned): its signature would not cover the
                 * new sections; drop it, we sign the whole UKI. */
                tb_debug("%s: ignoring the stub's own signature", parts->stub_path);
        }
        r = tb_pe_strip_symbols(pe);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot strip the symbol table", parts->stub_path);
        for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
                if (!present(sections[i].src))
                        continue;
                if (tb_pe_find_section(pe, sections[i].name)) {
                        tb_err("%s: the stub already has a %s section", parts->stub_path, sections[i].name);
                        return -EEXIST;
                }
                r = tb_pe_add_section(pe, sections[i].name, sections[i].src, sections[i].flags);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(pe);
        return 0;
}

int tb_uki_write(const tb_uki_parts *parts, const tb_signer *signer, int fd, const char *name) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        int r;

        r = tb_uki_assemble(parts, &pe);
        if (r < 0)
                return r;
        return tb_authenticode_sign(pe, signer, fd, name);
}

int tb_uki_kernel_release(int fd, char *buf, size_t size) {
        uint8_t hdr[0x210];
        char s[128];
        uint16_t ptr;
        int r;

        /* Linux/x86 boot protocol: "HdrS" at 0x202; kernel_version at 0x20e is an offset, from
         * 0x200, of a NUL-terminated string that starts with the release. */
        r = tb_pread_full(fd, hdr, sizeof(hdr), 0);
        if (r < 0)
                return r;
        if (memcmp(hdr + 0x202, "HdrS", 4) != 0)
                return -ENODATA;
        ptr = tb_get_u16le(hdr + 0x20e);
        if (ptr == 0)
                return -ENODATA;
        r = tb_pread_full(fd, s, sizeof(s) - 1, (off_t)ptr + 0x200);
        if (r < 0)
                return r;
        s[sizeof(s) - 1] = '\0';
        s[strcspn(s, " ")] = '\0';
        if (!*s || strlen(s) >= size)
                return -ENODATA;
        memcpy(buf, s, strlen(s) + 1);
        return 0;
}

