/* uki.h — a Unified Kernel Image: a systemd-stub with the UKI sections appended (.linux last),
 * signed with Authenticode, written in one streaming pass (shared/research/formats.md §1, §9). */
#pragma once

#include "pe/pe.h"
#include "pe/signer.h"

/* What goes into one UKI. Every source is either bytes or a file path (see tb_pe_source);
 * an empty source (size 0, no path) leaves the section out. */
/* One profile of a multi-profile UKI (systemd 257+): its .profile text, the sections it overrides
 * (an empty source keeps the base's) and its own .pcrsig. */
typedef struct tb_uki_profile {
        tb_pe_source profile, cmdline, pcrsig;
} tb_uki_profile;

typedef struct tb_uki_parts {
        const char *stub_path;
        tb_pe_source osrel, cmdline, uname, splash, initrd, pcrpkey, pcrsig, linux_image;
        tb_pe_source sbat; /* replaces the stub's .sbat in place (see tb_uki_sbat), or is added */
        /* A multi-profile UKI when N_PROFILES > 0: laid out as ukify 257 joins profiles — the base
         * sections (without .pcrsig), then profile 0's .profile and .pcrsig, then for every further
         * profile its .profile, its overrides and its .pcrsig. PROFILES[0].cmdline must be empty
         * (profile 0 boots the base .cmdline). */
        const tb_uki_profile *profiles;
        size_t n_profiles;
} tb_uki_parts;

#define TB_UKI_MAX_SBAT 16

/* The UKI's .sbat as ukify 257 merges it: the stub's entries, then the kernel's (when the kernel
 * is a PE image with a .sbat), then those of USER (each SBAT text whose first line is the "sbat,"
 * header, or "@PATH" of a file holding it; none: ukify's "uki,1,UKI,…" entry). Appends to OUT,
 * ending "\n\0". A USER entry that is not SBAT text is refused; a stub's or kernel's is skipped
 * (with a warning), as ukify does. Logs what fails. */
int tb_uki_sbat(const tb_pe *stub, int kernel_fd, const char *const *user, size_t n_user, tb_buf *out);

/* The UKI as an edited stub, not yet written (sign it with tb_authenticode_sign_at(); its size
 * is tb_authenticode_signed_size()). Data sources must outlive *RET. Logs what fails. */
int tb_uki_assemble(const tb_uki_parts *parts, tb_pe **ret);

/* Builds the UKI and writes it, signed by SIGNER, to FD (a new, empty file open for reading and writing; NAME for messages).
 * Logs what fails. */
int tb_uki_write(const tb_uki_parts *parts, const tb_signer *signer, int fd, const char *name);

/* The kernel release from an x86 bzImage's setup header ("6.1.0-28-amd64"), as the .uname
 * section holds it. -ENODATA when the image has no such header (other architectures). */
int tb_uki_kernel_release(int kernel_fd, char *buf, size_t size);

