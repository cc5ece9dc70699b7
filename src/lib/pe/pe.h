/* pe.h — PE/COFF images (EFI applications, kernels, UKIs): strict parsing, section access,
 * appending/replacing sections and writing the result in one streaming pass. No crypto here.
 * Byte layouts: shared/research/formats.md §1 (UKI layout, section append) and §6.1.
 *
 * A tb_pe is opened on a file (read lazily through its fd, never loaded whole) or on a memory
 * buffer. Only the header area (SizeOfHeaders bytes) is held in memory. Edits (strip the symbol
 * table, add or replace sections) change the in-memory headers and a list of where each output
 * byte comes from; tb_pe_write() then streams the new image. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct tb_pe tb_pe;

#define TB_PE_NAME_MAX 8
#define TB_PE_MAX_SECTIONS 96 /* what systemd-stub and the Windows loader accept */

#define TB_PE_MACHINE_I386 0x014cu
#define TB_PE_MACHINE_AMD64 0x8664u
#define TB_PE_MACHINE_ARM64 0xaa64u
#define TB_PE_MACHINE_RISCV64 0x5064u
#define TB_PE_MACHINE_LOONGARCH64 0x6264u

/* "x86-64", "arm64", "i386", "riscv64", "loongarch64", or "unknown". */
const char *tb_pe_machine_name(uint16_t machine);

#define TB_PE_SCN_CNT_CODE 0x00000020u
#define TB_PE_SCN_CNT_INITIALIZED_DATA 0x00000040u
#define TB_PE_SCN_MEM_EXECUTE 0x20000000u
#define TB_PE_SCN_MEM_READ 0x40000000u
#define TB_PE_SCN_MEM_WRITE 0x80000000u

#define TB_PE_DIR_SECURITY 4

typedef struct tb_pe_section {
        char name[TB_PE_NAME_MAX + 1]; /* NUL-terminated copy of the 8-byte Name field */
        uint32_t virtual_size;
        uint32_t virtual_address;
        uint32_t raw_size;   /* SizeOfRawData */
        uint32_t raw_offset; /* PointerToRawData */
        uint32_t characteristics;
} tb_pe_section;

/* Header facts, all validated against the file by the parser. Offsets are file offsets. */
typedef struct tb_pe_info {
        uint16_t machine;
        uint16_t characteristics;
        bool pe32plus;
        uint32_t section_alignment;
        uint32_t file_alignment;
        uint32_t size_of_headers;
        uint32_t size_of_image;
        uint32_t checksum;
        uint32_t checksum_offset; /* where the 4-byte CheckSum field is */
        uint32_t certdir_offset;  /* where data directory #4 {offset, size} is */
        uint32_t cert_offset;     /* attribute certificate table; 0 when unsigned */
        uint32_t cert_size;
        uint32_t symtab_offset;   /* PointerToSymbolTable (0 when none) */
        uint32_t n_symbols;
        uint16_t major_image_version;
        uint64_t file_size;
} tb_pe_info;

/* Opens and parses PATH. Logs "PATH: what is wrong" and returns -EBADMSG for a malformed
 * image, -ENOENT/-EACCES/... when it cannot be read. Edits log what they refuse the same way. */
int tb_pe_open(const char *path, tb_pe **ret);
/* Same on an open fd (not closed by tb_pe_free()); NAME is used in messages. */
int tb_pe_open_fd(int fd, const char *name, tb_pe **ret);
/* Same for an image of SIZE bytes at offset OFF of FD (inside a file system image or an ISO). */
int tb_pe_open_fd_range(int fd, uint64_t off, uint64_t size, const char *name, tb_pe **ret);
/* Parses an image held in memory (DATA must outlive the tb_pe). Everything about it, from
 * parsing to edits and its signatures, is logged at debug level only, so that untrusted bytes
 * can be probed quietly (fuzzing, detection); the caller reports the returned error. */
int tb_pe_from_memory(const uint8_t *data, size_t len, tb_pe **ret);
void tb_pe_free(tb_pe *pe);
TB_DEFINE_CLEANUP(tb_pe *, tb_pe_free);

const char *tb_pe_name(const tb_pe *pe);
/* The level for errors about this image: TB_LOG_DEBUG for memory images, else TB_LOG_ERR. */
enum tb_log_level tb_pe_log_level(const tb_pe *pe);
const tb_pe_info *tb_pe_get_info(const tb_pe *pe);

size_t tb_pe_n_sections(const tb_pe *pe);
const tb_pe_section *tb_pe_section_at(const tb_pe *pe, size_t i);
/* The first section whose name is exactly NAME, or NULL. */
const tb_pe_section *tb_pe_find_section(const tb_pe *pe, const char *name);

/* The header area [0, SizeOfHeaders) as it will be written (edits included). */
const uint8_t *tb_pe_headers(const tb_pe *pe, size_t *ret_len);

/* Reads LEN bytes at OFF of the *input* image; -EBADMSG if the range is outside the file. */
int tb_pe_pread(const tb_pe *pe, void *buf, size_t len, uint64_t off);

/* Chunked consumer of bytes: return 0 to go on, negative errno to stop. */
typedef int (*tb_pe_chunk_fn)(const uint8_t *data, size_t len, void *userdata);

/* Feeds a section's in-memory contents to FN: VirtualSize bytes, i.e. the raw data followed
 * by zeros when VirtualSize > SizeOfRawData (what the loader maps, what systemd-stub
 * measures). Works on sections of the input image only (not on sections added by edits). */
int tb_pe_section_stream(const tb_pe *pe, const tb_pe_section *s, tb_pe_chunk_fn fn, void *userdata);
/* The same, appended to OUT; fails with -EFBIG beyond MAX bytes. */
int tb_pe_section_read(const tb_pe *pe, const tb_pe_section *s, size_t max, tb_buf *out);

/* ---- Edits ---- */

/* Where the bytes of a new section come from: exactly one of DATA (borrowed until
 * tb_pe_write() returns) or PATH (read at write time; its size must still be SIZE). With
 * OFFSET, the bytes are [OFFSET, OFFSET + SIZE) of PATH, which must hold at least that much (a
 * range of a larger file: an initrd compressed straight into its place in the output). */
typedef struct tb_pe_source {
        const void *data;
        const char *path;
        uint64_t size;
        uint64_t offset;
} tb_pe_source;

/* Drops a COFF symbol table (and its string table) that ends the file; no-op without one.
 * Refuses (-EBUSY) a table that is followed by other data. */
int tb_pe_strip_symbols(tb_pe *pe);

/* Appends a section after the last one (ukify's pe_add_sections rules, formats.md §1.4):
 * VirtualAddress after the last section, raw data at the FileAlignment-rounded end of the
 * file, VirtualSize = SIZE, SizeOfImage/SizeOfInitializedData/NumberOfSections updated,
 * CheckSum zeroed. When the header area has no free slot, it grows by whole FileAlignment
 * units (moving all raw data) as long as it stays below the first section's address.
 * Refuses a signed image (-EBUSY), names longer than 8 bytes (-EINVAL), more than
 * TB_PE_MAX_SECTIONS sections or no room for headers (-ENOSPC). Logs what is wrong. */
int tb_pe_add_section(tb_pe *pe, const char *name, const tb_pe_source *src, uint32_t characteristics);

/* Overwrites the raw data of the existing section NAME (first match) with SRC followed by
 * zeros; SizeOfRawData and VirtualAddress stay, VirtualSize becomes SRC's size. -ENOSPC when
 * SRC is larger than the section's SizeOfRawData, -ENOENT when there is no such section. */
int tb_pe_replace_section(tb_pe *pe, const char *name, const tb_pe_source *src);

/* Size of the image tb_pe_write() produces. */
uint64_t tb_pe_output_size(const tb_pe *pe);

/* Streams the (edited) image to FN in order, in chunks of at most 1 MiB. An existing
 * certificate table at the end of the file is not part of the output. */
int tb_pe_write(const tb_pe *pe, tb_pe_chunk_fn fn, void *userdata);
int tb_pe_write_fd(const tb_pe *pe, int fd);
/* Streams output bytes [OFF, OFF+LEN); bytes past tb_pe_output_size() read as zeros. */
int tb_pe_write_range(const tb_pe *pe, uint64_t off, uint64_t len, tb_pe_chunk_fn fn, void *userdata);

/* Header fields the signer fills in (the Authenticode hash excludes both). */
void tb_pe_set_security_dir(tb_pe *pe, uint32_t offset, uint32_t size);
void tb_pe_set_checksum(tb_pe *pe, uint32_t checksum);

/* PE checksum (formats.md §6.4): a 16-bit end-around-carry sum of little-endian words,
 * fed in order, skipping the CheckSum field, plus the file length. */
typedef struct tb_pe_csum {
        uint32_t sum;
        uint64_t len; /* bytes fed so far */
        int pending;  /* low byte of a word split across chunks, or -1 */
} tb_pe_csum;

void tb_pe_csum_init(tb_pe_csum *c);
void tb_pe_csum_update(tb_pe_csum *c, const uint8_t *data, size_t len);
/* Adds LEN bytes that sit at file offset OFF but were fed as zeros (fields filled in after the
 * image was written). The sum does not depend on the order words are added in. */
void tb_pe_csum_add_at(tb_pe_csum *c, uint64_t off, const uint8_t *data, size_t len);
/* TOTAL_LEN counts the skipped CheckSum bytes as well. */
uint32_t tb_pe_csum_final(const tb_pe_csum *c, uint64_t total_len);
