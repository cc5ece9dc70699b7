#include "medium/uki.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include "pe/authenticode.h"
#include "pe/sbat.h"
#include "util/fileio.h"
#include "util/log.h"

#define SBAT_MAX ((size_t)64 * 1024)

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
        if (present(&parts->sbat)) {
                /* As ukify: the merged .sbat takes the stub's section's place, so that the stub,
                 * which reads the first .sbat, sees it; it must fit the section's raw size. */
                const tb_pe_section *old = tb_pe_find_section(pe, ".sbat");

                if (!old)
                        r = tb_pe_add_section(pe, ".sbat", &parts->sbat, DATA_RO);
                else if (parts->sbat.size > old->raw_size)
                        return tb_fail(-ENOSPC, "%s: the merged .sbat (%llu bytes) does not fit the stub's .sbat "
                                       "section (%u bytes)", parts->stub_path,
                                       (unsigned long long)parts->sbat.size, (unsigned)old->raw_size);
                else
                        r = tb_pe_replace_section(pe, ".sbat", &parts->sbat);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot place the .sbat section", parts->stub_path);
        }
        for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
                if (!present(sections[i].src))
                        continue;
                if (parts->n_profiles > 0 && sections[i].src == &parts->pcrsig)
                        continue; /* each profile carries its own */
                if (tb_pe_find_section(pe, sections[i].name)) {
                        tb_err("%s: the stub already has a %s section", parts->stub_path, sections[i].name);
                        return -EEXIST;
                }
                r = tb_pe_add_section(pe, sections[i].name, sections[i].src, sections[i].flags);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < parts->n_profiles; i++) {
                const tb_uki_profile *prof = &parts->profiles[i];

                /* Everything before the first .profile is shared; a profile's sections run from its
                 * .profile to the next one, and the stub measures and uses those over the base's. */
                if (!present(&prof->profile) || !present(&prof->pcrsig) || (i == 0 && present(&prof->cmdline)))
                        return tb_fail(-EINVAL, "profile %zu: needs .profile and .pcrsig (and profile 0 no .cmdline)", i);
                r = tb_pe_add_section(pe, ".profile", &prof->profile, DATA_RO);
                if (r >= 0 && present(&prof->cmdline))
                        r = tb_pe_add_section(pe, ".cmdline", &prof->cmdline, DATA_RO);
                if (r >= 0)
                        r = tb_pe_add_section(pe, ".pcrsig", &prof->pcrsig, DATA_RO);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(pe);
        return 0;
}

static int pe_sbat(const tb_pe *pe, tb_buf *out) {
        const tb_pe_section *s = tb_pe_find_section(pe, ".sbat");

        return s ? tb_pe_section_read(pe, s, SBAT_MAX, out) : 0;
}

/* The kernel's .sbat, if it is a PE image that has one; probed quietly (a bzImage without a PE
 * header, or any other kernel, just has none). */
static int kernel_sbat(int fd, tb_buf *out) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        struct stat st;
        void *map;
        int r = 0;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_size < 64)
                return 0;
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return negative_errno();
        if (tb_pe_from_memory(map, (size_t)st.st_size, &pe) >= 0)
                r = pe_sbat(pe, out);
        tb_pe_free(TAKE_PTR(pe));
        munmap(map, (size_t)st.st_size);
        return r < 0 ? 0 : r; /* a damaged .sbat in the kernel: ukify skips it too */
}

int tb_uki_sbat(const tb_pe *stub, int kernel_fd, const char *const *user, size_t n_user, tb_buf *out) {
        tb_buf bufs[2 + TB_UKI_MAX_SBAT] = {};
        tb_sbat_part parts[2 + TB_UKI_MAX_SBAT];
        size_t n = 0, skipped = 0;
        int r;

        if (n_user > TB_UKI_MAX_SBAT)
                return tb_fail(-E2BIG, "more than %d SBAT entries given", TB_UKI_MAX_SBAT);
        r = pe_sbat(stub, &bufs[n]);
        if (r < 0) {
                r = tb_log_errno(r, "%s: cannot read .sbat", tb_pe_name(stub));
                goto out;
        }
        if (bufs[n].len > 0 && !tb_sbat_is_valid(bufs[n].data, bufs[n].len))
                tb_warn("%s: .sbat is not SBAT text; its entries are left out", tb_pe_name(stub));
        parts[n] = (tb_sbat_part){ bufs[n].data, bufs[n].len };
        n++;
        if (kernel_fd >= 0) {
                r = kernel_sbat(kernel_fd, &bufs[n]);
                if (r < 0) {
                        r = tb_log_errno(r, "cannot read the kernel");
                        goto out;
                }
                if (bufs[n].len > 0 && !tb_sbat_is_valid(bufs[n].data, bufs[n].len))
                        tb_warn("the kernel's .sbat is not SBAT text; its entries are left out");
                parts[n] = (tb_sbat_part){ bufs[n].data, bufs[n].len };
                n++;
        }
        for (size_t i = 0; i < n_user; i++) {
                const char *u = user[i];

                if (u[0] == '@') {
                        r = tb_read_file(u + 1, SBAT_MAX, &bufs[n]);
                        if (r < 0) {
                                r = tb_log_errno(r, "%s: cannot read SBAT entries", u + 1);
                                goto out;
                        }
                        parts[n] = (tb_sbat_part){ bufs[n].data, bufs[n].len };
                } else
                        parts[n] = (tb_sbat_part){ u, strlen(u) };
                if (!tb_sbat_is_valid(parts[n].data, parts[n].len)) {
                        r = tb_fail(-EINVAL, "%s: not SBAT text: its first line must be the header (%.20s…)",
                                    u[0] == '@' ? u + 1 : u, TB_SBAT_HEADER);
                        goto out;
                }
                n++;
        }
        if (n_user == 0)
                parts[n++] = (tb_sbat_part){ TB_SBAT_HEADER "\n" TB_SBAT_UKI_ENTRY "\n",
                                             strlen(TB_SBAT_HEADER) + strlen(TB_SBAT_UKI_ENTRY) + 2 };
        r = tb_sbat_merge(parts, n, out, &skipped);
        if (r < 0)
                r = tb_log_oom();
out:
        for (size_t i = 0; i < ARRAY_SIZE(bufs); i++)
                tb_buf_free(&bufs[i]);
        return r;
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

