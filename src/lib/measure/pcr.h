/* pcr.h — PCR 11 as systemd-stub and systemd-pcrphase extend it, the signed PolicyPCR
 * (.pcrsig JSON) that systemd-measure writes, computed in software for every bank at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "util/buf.h"
#include "util/macro.h"
#include "measure/mhash.h"
#include "util/strset.h" /* tb_strv_free() for the phase lists */
#include "pe/pe.h"

#define TB_PCR_KERNEL_BOOT 11

/* UKI sections in the stub's canonical measurement order (not PE table order). */
enum tb_uki_section {
        TB_UKI_LINUX,
        TB_UKI_OSREL,
        TB_UKI_CMDLINE,
        TB_UKI_INITRD,
        TB_UKI_UCODE,
        TB_UKI_SPLASH,
        TB_UKI_DTB,
        TB_UKI_UNAME,
        TB_UKI_SBAT,
        TB_UKI_PCRSIG,
        TB_UKI_PCRPKEY,
        TB_UKI_PROFILE,
        TB_UKI_DTBAUTO,
        TB_UKI_HWIDS,
        TB_UKI_EFIFW,
        _TB_UKI_SECTION_MAX,
};

const char *tb_uki_section_name(enum tb_uki_section s); /* ".linux" */
int tb_uki_section_from_name(const char *name);        /* -EINVAL if not a UKI section */

/* Which systemd-stub will measure the UKI: the measured set is a property of the stub. */
enum tb_stub_gen {
        TB_STUB_252 = 252, /* 252, 253: 7 sections */
        TB_STUB_254 = 254, /* 254, 255: + .uname .sbat */
        TB_STUB_256 = 256, /* + .ucode */
        TB_STUB_257 = 257, /* + .profile .dtbauto .hwids */
        TB_STUB_258 = 258, /* + .efifw */
};

/* The newest generation whose measurements trustboot knows. A newer stub may measure more or
 * other sections: its PCR 11 cannot be predicted, so no policy is signed for it unless the user
 * names the generation it follows (tb_stub_gen_resolve). */
#define TB_STUB_NEWEST TB_STUB_258

/* Maps a systemd major version to the generation whose rules it follows; -ERANGE below 252,
 * -EPROTONOSUPPORT above TB_STUB_NEWEST. */
int tb_stub_gen_from_version(unsigned long major);
/* Whether V is one of the generations (252, 254, 256, 257, 258) itself. */
bool tb_stub_gen_valid(unsigned long v);
bool tb_stub_measures(enum tb_stub_gen gen, enum tb_uki_section s);
/* The stub's systemd major version (252, 259, …) from a stub's or UKI's ".sdmagic" ("#### LoaderInfo:
 * systemd-stub 252.39-1 ####") or ".sbat" (the "systemd"/"systemd-stub" component line of package
 * "systemd") contents; -EBADMSG if no stub version is found. */
int tb_stub_version_from_sdmagic(const void *data, size_t len);
int tb_stub_version_from_sbat(const void *data, size_t len);
/* The same mapped to a generation: -EBADMSG as above, -ERANGE/-EPROTONOSUPPORT as
 * tb_stub_gen_from_version(). */
int tb_stub_gen_from_sdmagic(const void *data, size_t len);
int tb_stub_gen_from_sbat(const void *data, size_t len);

/* The version (.sdmagic, else .sbat) and generation of the stub inside PE (a stub or a UKI built
 * on it). -EBADMSG if neither names a systemd-stub version; the generation also fails as
 * tb_stub_gen_from_version() does for a stub older than 252 or newer than TB_STUB_NEWEST. */
int tb_stub_version_from_pe(const tb_pe *pe);
int tb_stub_gen_from_pe(const tb_pe *pe);

/* The generation to predict for the stub in PE: its own, or FORCED (a generation, 0: none) for a
 * stub newer than TB_STUB_NEWEST or one without a version. FORCE_OPTION names the option that
 * forces one, for the message. A stub whose generation is known and differs from FORCED, a too-new
 * stub without FORCED and an unversioned one are refused with one error line naming PE. */
int tb_stub_gen_resolve(const tb_pe *pe, int forced, const char *force_option);

/* The generation of this machine's installed systemd-stub (TB_SDBOOT_EFI_DIR), for a prediction
 * without a UKI to read it from; TB_STUB_252 (what this distribution ships) when there is none or
 * it names no known generation. */
int tb_stub_gen_installed(void);

/* Phase words systemd extends into PCR 11 after boot (systemd-pcrphase/pcrextend). */
bool tb_pcr_phase_word_known(const char *word);
/* Removes empty words ("a::b:" → "a:b", as systemd-measure does). -EINVAL if a word is not a
 * known phase word; *ret_bad_word then points into PHASE at that word. */
int tb_pcr_phase_normalize(const char *phase, char **ret, const char **ret_bad_word);
/* systemd-measure's phase list: the normalized PHASES sorted and de-duplicated, or its default
 * list (enter-initrd … ready) when N is 0. *ret is a NULL-terminated strv. */
int tb_pcr_phase_list(char *const *phases, size_t n, char ***ret, size_t *ret_n);

/* The inputs of one PCR 11 prediction: every section's per-bank digest and size. Section
 * digests come from a tb_mhash fed with exactly the bytes the stub sees (VirtualSize), so a
 * builder can stream a section while writing it, and UKIs that share kernel and initrd only set
 * .cmdline again before the next tb_pcr11_value()/tb_pcr11_sign(). */
typedef struct tb_pcr11 tb_pcr11;

int tb_pcr11_new(unsigned banks, enum tb_stub_gen gen, tb_pcr11 **ret);
void tb_pcr11_free(tb_pcr11 *p);
TB_DEFINE_CLEANUP(tb_pcr11 *, tb_pcr11_free);
unsigned tb_pcr11_banks(const tb_pcr11 *p);
enum tb_stub_gen tb_pcr11_gen(const tb_pcr11 *p);
int tb_pcr11_set_gen(tb_pcr11 *p, enum tb_stub_gen gen);

/* D must cover all of P's banks (-EINVAL otherwise). SIZE 0 means absent, as for the stub. */
int tb_pcr11_set_section(tb_pcr11 *p, enum tb_uki_section s, const tb_digests *d, uint64_t size);
int tb_pcr11_set_section_data(tb_pcr11 *p, enum tb_uki_section s, const void *data, size_t len);
/* Reads FD to its end, once, into all banks. */
int tb_pcr11_set_section_fd(tb_pcr11 *p, enum tb_uki_section s, int fd);
/* Takes every section from a built UKI the way P's stub generation finds them: 252–256 match
 * name prefixes and the last match wins; 257+ match exact names, first match wins, the base
 * sections (before the first .profile) overridden by profile 0's. VirtualSize bytes each. */
int tb_pcr11_set_from_pe(tb_pcr11 *p, const tb_pe *pe);
/* The same for PROFILE of a multi-profile UKI (257+): the base sections (before the first
 * .profile) overridden by those of the PROFILE-th .profile up to the next one, as the stub does
 * when booted with "@PROFILE". Profile 0 exists in every UKI (implied without .profile sections);
 * -ENOENT for another profile the UKI lacks, -EOPNOTSUPP for a profile > 0 with a stub generation
 * before 257 (it has no profiles). */
int tb_pcr11_set_from_pe_profile(tb_pcr11 *p, const tb_pe *pe, unsigned profile);
/* The number of .profile sections of PE (0: not a multi-profile UKI). */
unsigned tb_uki_n_profiles(const tb_pe *pe);
/* Where PROFILE's sections are in PE, as section indexes: the base ends at *RET_FIRST (the first
 * .profile); profile K runs from *RET_START (the K-th .profile, counting from 0) to *RET_END (the
 * next one, or the end). An index is the section count where there is no such .profile. */
void tb_uki_profile_range(const tb_pe *pe, unsigned profile, size_t *ret_first, size_t *ret_start, size_t *ret_end);
void tb_pcr11_clear_section(tb_pcr11 *p, enum tb_uki_section s);
bool tb_pcr11_has_section(const tb_pcr11 *p, enum tb_uki_section s);

/* PCR 11 after the measured sections and then each word of PHASE (normalized, "" = none). */
int tb_pcr11_value(const tb_pcr11 *p, const char *phase, tb_digests *ret);

/* TPM2_PolicyPCR digest (SHA-256 session) for PCR 11 in BANK holding VALUE. */
int tb_pcr_policy_digest(enum tb_bank bank, const uint8_t *value, uint8_t ret[32]);
/* SHA-256 of the DER PKCS#1 public key: systemd's "pkfp". */
int tb_pcr_pkfp(EVP_PKEY *key, uint8_t ret[32]);
/* -EKEYREJECTED unless KEY is RSA: what systemd can verify at unlock. */
int tb_pcr_check_key(EVP_PKEY *key);
/* RSASSA-PKCS1-v1_5 with BANK's hash over the 32-byte policy digest. */
int tb_pcr_sign_policy(EVP_PKEY *key, enum tb_bank bank, const uint8_t pol[32], tb_buf *sig);

/* systemd-measure sign's JSON: {"<bank>":[{"pcrs":[11],"pkfp":…,"pol":…,"sig":…} per phase]}
 * with banks in order and one entry per phase. PUB gives pkfp (NULL: derived from KEY).
 * -EKEYREJECTED if KEY is not RSA, -EINVAL if PUB is not KEY's public half. */
int tb_pcr11_sign(const tb_pcr11 *p, char *const *phases, size_t n_phases, EVP_PKEY *key, EVP_PKEY *pub,
                  struct json_object **ret);
