#include "pe/pe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"

/* Real images keep their headers in a page or two; anything near this is hostile. */
#define HDR_MAX (1u << 20)
#define CHUNK (1u << 20)
#define SECTION_HEADER_SIZE 40u
#define COFF_HEADER_SIZE 20u
#define SYMBOL_SIZE 18u

/* Offsets inside the optional header that PE32 and PE32+ share. */
#define OPT_SIZE_OF_INIT_DATA 8
#define OPT_SECTION_ALIGNMENT 32
#define OPT_FILE_ALIGNMENT 36
#define OPT_MAJOR_IMAGE_VERSION 44
#define OPT_SIZE_OF_IMAGE 56
#define OPT_SIZE_OF_HEADERS 60
#define OPT_CHECKSUM 64
#define DIR_DEBUG 6

typedef struct added_section {
        tb_pe_source src; /* src.path owned */
        uint64_t out_off;
        uint64_t raw_size;
} added_section;

typedef struct overlay {
        size_t section; /* index into pe->sections */
        tb_pe_source src; /* src.path owned */
} overlay;

struct tb_pe {
        char *name;
        int fd; /* -1 for a memory image */
        uint64_t base; /* where the image starts in fd (an image inside a larger file) */
        bool owns_fd;
        const uint8_t *mem;
        bool quiet;
        tb_pe_info info;

        tb_buf hdr; /* output header area, [0, SizeOfHeaders) */
        uint32_t coff_off, opt_off, dd_off, n_dirs, sect_off;
        size_t n_sections, n_input_sections;
        tb_pe_section sections[TB_PE_MAX_SECTIONS];

        /* The output: hdr, then input bytes [in_soh, body_end) moved by shift (replaced sections
         * overlaid), then the added sections. */
        uint32_t in_soh;
        uint64_t body_end;
        uint64_t shift;
        uint64_t out_size;
        added_section added[TB_PE_MAX_SECTIONS];
        size_t n_added;
        overlay overlays[TB_PE_MAX_SECTIONS];
        size_t n_overlays;
};

enum tb_log_level tb_pe_log_level(const tb_pe *pe) {
        return pe->quiet ? TB_LOG_DEBUG : TB_LOG_ERR;
}

/* "NAME: message", at debug level for images parsed from memory. */
#define pe_err(pe, fmt, ...) tb_log(tb_pe_log_level(pe), "%s: " fmt, (pe)->name, ##__VA_ARGS__)
#define pe_bad(pe, ...) (pe_err(pe, __VA_ARGS__), -EBADMSG)

static bool is_pow2(uint32_t x) {
        return x != 0 && (x & (x - 1)) == 0;
}

static uint64_t align_up(uint64_t x, uint64_t a) {
        return (x + a - 1) / a * a;
}

int tb_pe_pread(const tb_pe *pe, void *buf, size_t len, uint64_t off) {
        if (off > pe->info.file_size || len > pe->info.file_size - off)
                return -EBADMSG;
        if (len == 0)
                return 0;
        if (pe->fd < 0) {
                memcpy(buf, pe->mem + off, len);
                return 0;
        }
        return tb_pread_full(pe->fd, buf, len, (off_t)(pe->base + off));
}

static int cmp_u32_pair(const void *a, const void *b) {
        const uint32_t *x = a, *y = b;

        return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}

static int parse_sections(tb_pe *pe) {
        uint32_t ranges[TB_PE_MAX_SECTIONS][2];
        size_t n_ranges = 0;

        for (size_t i = 0; i < pe->n_sections; i++) {
                const uint8_t *h = pe->hdr.data + pe->sect_off + i * SECTION_HEADER_SIZE;
                tb_pe_section *s = &pe->sections[i];

                memcpy(s->name, h, TB_PE_NAME_MAX);
                s->name[TB_PE_NAME_MAX] = '\0';
                s->virtual_size = tb_get_u32le(h + 8);
                s->virtual_address = tb_get_u32le(h + 12);
                s->raw_size = tb_get_u32le(h + 16);
                s->raw_offset = tb_get_u32le(h + 20);
                s->characteristics = tb_get_u32le(h + 36);

                if ((uint64_t)s->virtual_address + s->virtual_size > UINT32_MAX)
                        return pe_bad(pe, "section %zu (%s): virtual range overflows", i, s->name);
                if (s->raw_size == 0)
                        continue;
                if (s->raw_offset < pe->info.size_of_headers)
                        return pe_bad(pe, "section %zu (%s): raw data at 0x%x overlaps the headers (0x%x bytes)", i,
                                      s->name, s->raw_offset, pe->info.size_of_headers);
                if ((uint64_t)s->raw_offset + s->raw_size > pe->body_end)
                        return pe_bad(pe, "section %zu (%s): raw data 0x%x+0x%x extends beyond the end of the image (0x%llx)",
                                      i, s->name, s->raw_offset, s->raw_size, (unsigned long long)pe->body_end);
                ranges[n_ranges][0] = s->raw_offset;
                ranges[n_ranges][1] = s->raw_size;
                n_ranges++;
        }
        qsort(ranges, n_ranges, sizeof(ranges[0]), cmp_u32_pair);
        for (size_t i = 1; i < n_ranges; i++)
                if ((uint64_t)ranges[i - 1][0] + ranges[i - 1][1] > ranges[i][0])
                        return pe_bad(pe, "sections overlap in the file at 0x%x", ranges[i][0]);
        return 0;
}

/* Validates every header field we use against the file, reading only the header area. */
static int parse(tb_pe *pe) {
        tb_pe_info *in = &pe->info;
        uint64_t probe = MIN(in->file_size, (uint64_t)HDR_MAX);
        uint32_t pe_off, opt_size, opt_min, dirs_min;
        uint16_t magic;
        const uint8_t *h, *opt;
        int r;

        if (in->file_size < 0x40)
                return pe_bad(pe, "file too small for a DOS header (%llu bytes)", (unsigned long long)in->file_size);
        r = tb_buf_reserve(&pe->hdr, probe);
        if (r < 0)
                return r;
        r = tb_pe_pread(pe, pe->hdr.data, probe, 0);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read headers", pe->name);
        pe->hdr.len = probe;
        h = pe->hdr.data;

        if (h[0] != 'M' || h[1] != 'Z')
                return pe_bad(pe, "not a PE image (no MZ signature)");
        pe_off = tb_get_u32le(h + 0x3c);
        if ((uint64_t)pe_off + 4 + COFF_HEADER_SIZE + 2 > probe)
                return pe_bad(pe, "PE header offset 0x%x is beyond the end of the headers", pe_off);
        if (memcmp(h + pe_off, "PE\0\0", 4) != 0)
                return pe_bad(pe, "not a PE image (no PE signature at 0x%x)", pe_off);
        pe->coff_off = pe_off + 4;
        in->machine = tb_get_u16le(h + pe->coff_off);
        pe->n_sections = tb_get_u16le(h + pe->coff_off + 2);
        in->symtab_offset = tb_get_u32le(h + pe->coff_off + 8);
        in->n_symbols = tb_get_u32le(h + pe->coff_off + 12);
        opt_size = tb_get_u16le(h + pe->coff_off + 16);
        in->characteristics = tb_get_u16le(h + pe->coff_off + 18);
        if (pe->n_sections > TB_PE_MAX_SECTIONS)
                return pe_bad(pe, "too many sections (%zu, at most %d)", pe->n_sections, TB_PE_MAX_SECTIONS);

        pe->opt_off = pe->coff_off + COFF_HEADER_SIZE;
        magic = tb_get_u16le(h + pe->opt_off);
        if (magic == 0x20b) {
                in->pe32plus = true;
                opt_min = 112;
        } else if (magic == 0x10b) {
                opt_min = 96;
        } else
                return pe_bad(pe, "unknown optional header magic 0x%x", magic);
        if (opt_size < opt_min || (uint64_t)pe->opt_off + opt_size > probe)
                return pe_bad(pe, "optional header size %u is invalid", opt_size);
        opt = h + pe->opt_off;
        pe->n_dirs = tb_get_u32le(opt + opt_min - 4);
        dirs_min = TB_PE_DIR_SECURITY + 1;
        if (pe->n_dirs < dirs_min)
                return pe_bad(pe, "no certificate table directory (%u data directories)", pe->n_dirs);
        if ((uint64_t)opt_min + 8ull * pe->n_dirs > opt_size)
                return pe_bad(pe, "%u data directories do not fit the optional header", pe->n_dirs);
        pe->dd_off = pe->opt_off + opt_min;
        pe->sect_off = pe->opt_off + opt_size;

        in->section_alignment = tb_get_u32le(opt + OPT_SECTION_ALIGNMENT);
        in->file_alignment = tb_get_u32le(opt + OPT_FILE_ALIGNMENT);
        in->major_image_version = tb_get_u16le(opt + OPT_MAJOR_IMAGE_VERSION);
        in->size_of_image = tb_get_u32le(opt + OPT_SIZE_OF_IMAGE);
        in->size_of_headers = tb_get_u32le(opt + OPT_SIZE_OF_HEADERS);
        in->checksum = tb_get_u32le(opt + OPT_CHECKSUM);
        in->checksum_offset = pe->opt_off + OPT_CHECKSUM;
        in->certdir_offset = pe->dd_off + 8 * TB_PE_DIR_SECURITY;
        in->cert_offset = tb_get_u32le(h + in->certdir_offset);
        in->cert_size = tb_get_u32le(h + in->certdir_offset + 4);
        if (!is_pow2(in->file_alignment) || !is_pow2(in->section_alignment))
                return pe_bad(pe, "alignments are not powers of two (file 0x%x, section 0x%x)", in->file_alignment,
                              in->section_alignment);
        if ((uint64_t)pe->sect_off + (uint64_t)pe->n_sections * SECTION_HEADER_SIZE > in->size_of_headers)
                return pe_bad(pe, "section table (%zu entries at 0x%x) does not fit SizeOfHeaders 0x%x", pe->n_sections,
                              pe->sect_off, in->size_of_headers);
        if (in->size_of_headers > probe)
                return pe_bad(pe, "SizeOfHeaders 0x%x is beyond the end of the file", in->size_of_headers);
        pe->hdr.len = in->size_of_headers;

        pe->body_end = in->file_size;
        if (in->cert_offset != 0 || in->cert_size != 0) {
                if (in->cert_offset < in->size_of_headers || in->cert_size < 8 ||
                    (uint64_t)in->cert_offset + in->cert_size != in->file_size)
                        return pe_bad(pe, "certificate table 0x%x+0x%x is not at the end of the file (0x%llx bytes)",
                                      in->cert_offset, in->cert_size, (unsigned long long)in->file_size);
                pe->body_end = in->cert_offset;
        }
        r = parse_sections(pe);
        if (r < 0)
                return r;
        pe->n_input_sections = pe->n_sections;
        pe->in_soh = in->size_of_headers;
        pe->out_size = pe->body_end;
        return 0;
}

static int pe_new(const char *name, tb_pe **ret) {
        tb_pe *pe = calloc(1, sizeof(*pe));

        if (!pe)
                return tb_log_oom();
        pe->fd = -1;
        pe->name = strdup(name);
        if (!pe->name) {
                free(pe);
                return tb_log_oom();
        }
        *ret = pe;
        return 0;
}

int tb_pe_open_fd(int fd, const char *name, tb_pe **ret) {
        return tb_pe_open_fd_range(fd, 0, UINT64_MAX, name, ret);
}

int tb_pe_open_fd_range(int fd, uint64_t off, uint64_t size, const char *name, tb_pe **ret) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        struct stat st;
        int r;

        r = pe_new(name, &pe);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot stat", name);
        if (!S_ISREG(st.st_mode)) {
                tb_err("%s: not a regular file", name);
                return -EBADMSG;
        }
        if (off > (uint64_t)st.st_size) {
                tb_err("%s: starts beyond the end of the file", name);
                return -EBADMSG;
        }
        pe->fd = fd;
        pe->base = off;
        pe->info.file_size = MIN(size, (uint64_t)st.st_size - off);
        r = parse(pe);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pe);
        return 0;
}

int tb_pe_open(const char *path, tb_pe **ret) {
        _cleanup_(closep) int fd = -1;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", path);
        r = tb_pe_open_fd(fd, path, ret);
        if (r < 0)
                return r;
        (*ret)->owns_fd = true;
        TAKE_FD(fd);
        return 0;
}

int tb_pe_from_memory(const uint8_t *data, size_t len, tb_pe **ret) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        int r;

        r = pe_new("image", &pe);
        if (r < 0)
                return r;
        pe->mem = data;
        pe->quiet = true;
        pe->info.file_size = len;
        r = parse(pe);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pe);
        return 0;
}

static void source_done(tb_pe_source *src) {
        free((char *)src->path);
        src->path = NULL;
}

void tb_pe_free(tb_pe *pe) {
        if (!pe)
                return;
        for (size_t i = 0; i < pe->n_added; i++)
                source_done(&pe->added[i].src);
        for (size_t i = 0; i < pe->n_overlays; i++)
                source_done(&pe->overlays[i].src);
        if (pe->owns_fd)
                close(pe->fd);
        tb_buf_free(&pe->hdr);
        free(pe->name);
        free(pe);
}

const char *tb_pe_machine_name(uint16_t machine) {
        switch (machine) {
        case TB_PE_MACHINE_AMD64:
                return "x86-64";
        case TB_PE_MACHINE_ARM64:
                return "arm64";
        case TB_PE_MACHINE_I386:
                return "i386";
        case TB_PE_MACHINE_RISCV64:
                return "riscv64";
        case TB_PE_MACHINE_LOONGARCH64:
                return "loongarch64";
        default:
                return "unknown";
        }
}

const char *tb_pe_name(const tb_pe *pe) {
        return pe->name;
}

const tb_pe_info *tb_pe_get_info(const tb_pe *pe) {
        return &pe->info;
}

size_t tb_pe_n_sections(const tb_pe *pe) {
        return pe->n_sections;
}

const tb_pe_section *tb_pe_section_at(const tb_pe *pe, size_t i) {
        return i < pe->n_sections ? &pe->sections[i] : NULL;
}

const tb_pe_section *tb_pe_find_section(const tb_pe *pe, const char *name) {
        for (size_t i = 0; i < pe->n_sections; i++)
                if (strncmp(pe->sections[i].name, name, TB_PE_NAME_MAX + 1) == 0)
                        return &pe->sections[i];
        return NULL;
}

const uint8_t *tb_pe_headers(const tb_pe *pe, size_t *ret_len) {
        *ret_len = pe->hdr.len;
        return pe->hdr.data;
}

uint64_t tb_pe_output_size(const tb_pe *pe) {
        return pe->out_size;
}

/* ---- Output streaming ---- */

typedef struct emitter {
        const tb_pe *pe;
        uint64_t lo, hi; /* requested output window */
        uint64_t pos;    /* output offset of the next segment */
        tb_pe_chunk_fn fn;
        void *userdata;
        uint8_t *buf;
} emitter;

static const uint8_t zeros[4096];

static int emit_zero(emitter *e, uint64_t len) {
        while (len > 0) {
                size_t n = (size_t)MIN(len, (uint64_t)sizeof(zeros));
                int r = e->fn(zeros, n, e->userdata);

                if (r < 0)
                        return r;
                len -= n;
        }
        return 0;
}

/* Clips the segment [pos, pos+len) to the window; returns false when nothing of it is wanted. */
static bool clip(emitter *e, uint64_t len, uint64_t *skip, uint64_t *take) {
        uint64_t a = MAX(e->pos, e->lo), b = MIN(e->pos + len, e->hi);

        if (a >= b)
                return false;
        *skip = a - e->pos;
        *take = b - a;
        return true;
}

static int seg_zero(emitter *e, uint64_t len) {
        uint64_t skip, take;
        int r = 0;

        if (clip(e, len, &skip, &take))
                r = emit_zero(e, take);
        e->pos += len;
        return r;
}

static int seg_mem(emitter *e, const uint8_t *data, uint64_t len) {
        uint64_t skip, take;
        int r = 0;

        if (clip(e, len, &skip, &take))
                r = e->fn(data + skip, (size_t)take, e->userdata);
        e->pos += len;
        return r;
}

static int copy_fd(emitter *e, int fd, const char *name, uint64_t off, uint64_t len) {
        while (len > 0) {
                size_t n = (size_t)MIN(len, (uint64_t)CHUNK);
                int r = tb_pread_full(fd, e->buf, n, (off_t)off);

                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read", name);
                r = e->fn(e->buf, n, e->userdata);
                if (r < 0)
                        return r;
                off += n;
                len -= n;
        }
        return 0;
}

static int seg_input(emitter *e, uint64_t in_off, uint64_t len) {
        uint64_t skip, take;
        int r = 0;

        if (clip(e, len, &skip, &take)) {
                if (e->pe->fd < 0)
                        r = e->fn(e->pe->mem + in_off + skip, (size_t)take, e->userdata);
                else
                        r = copy_fd(e, e->pe->fd, e->pe->name, e->pe->base + in_off + skip, take);
        }
        e->pos += len;
        return r;
}

static int seg_source(emitter *e, const tb_pe_source *src) {
        _cleanup_(closep) int fd = -1;
        uint64_t skip, take;
        struct stat st;

        if (!clip(e, src->size, &skip, &take)) {
                e->pos += src->size;
                return 0;
        }
        if (src->data)
                return seg_mem(e, src->data, src->size);
        fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", src->path);
        if (fstat(fd, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot stat", src->path);
        if (src->offset == 0 ? (uint64_t)st.st_size != src->size
                             : (uint64_t)st.st_size < src->offset || (uint64_t)st.st_size - src->offset < src->size) {
                tb_err("%s: size changed while building the image (%llu, expected %llu bytes)", src->path,
                       (unsigned long long)st.st_size, (unsigned long long)(src->offset + src->size));
                return -EIO;
        }
        e->pos += src->size;
        return copy_fd(e, fd, src->path, src->offset + skip, take);
}

/* The body: input bytes after the headers, with replaced sections' raw ranges overlaid. */
static int emit_body(emitter *e) {
        const tb_pe *pe = e->pe;
        uint64_t in_pos = pe->in_soh;
        size_t order[TB_PE_MAX_SECTIONS];
        size_t n = pe->n_overlays;
        int r;

        for (size_t i = 0; i < n; i++)
                order[i] = i;
        for (size_t i = 1; i < n; i++) /* few overlays: insertion sort by file offset */
                for (size_t j = i; j > 0 && pe->sections[pe->overlays[order[j]].section].raw_offset <
                                                    pe->sections[pe->overlays[order[j - 1]].section].raw_offset;
                     j--) {
                        size_t t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }
        for (size_t i = 0; i < n; i++) {
                const overlay *o = &pe->overlays[order[i]];
                const tb_pe_section *s = &pe->sections[o->section];
                uint64_t in_start = s->raw_offset - pe->shift;

                r = seg_input(e, in_pos, in_start - in_pos);
                if (r < 0)
                        return r;
                r = seg_source(e, &o->src);
                if (r < 0)
                        return r;
                r = seg_zero(e, s->raw_size - o->src.size);
                if (r < 0)
                        return r;
                in_pos = in_start + s->raw_size;
        }
        return seg_input(e, in_pos, pe->body_end - in_pos);
}

int tb_pe_write_range(const tb_pe *pe, uint64_t off, uint64_t len, tb_pe_chunk_fn fn, void *userdata) {
        _cleanup_(freep) uint8_t *buf = NULL;
        emitter e = { .pe = pe, .lo = off, .hi = off + len, .fn = fn, .userdata = userdata };
        int r;

        if (len > UINT64_MAX - off)
                return -EINVAL;
        if (pe->fd >= 0 || pe->n_added > 0 || pe->n_overlays > 0) {
                buf = malloc(CHUNK);
                if (!buf)
                        return tb_log_oom();
        }
        e.buf = buf;
        r = seg_mem(&e, pe->hdr.data, pe->hdr.len);
        if (r < 0)
                return r;
        r = emit_body(&e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < pe->n_added; i++) {
                const added_section *a = &pe->added[i];

                r = seg_zero(&e, a->out_off - e.pos);
                if (r < 0)
                        return r;
                r = seg_source(&e, &a->src);
                if (r < 0)
                        return r;
                r = seg_zero(&e, a->raw_size - a->src.size);
                if (r < 0)
                        return r;
        }
        /* Past the end: zeros, so that callers can ask for an aligned tail. */
        if (e.hi > e.pos)
                r = seg_zero(&e, e.hi - e.pos);
        return r;
}

int tb_pe_write(const tb_pe *pe, tb_pe_chunk_fn fn, void *userdata) {
        return tb_pe_write_range(pe, 0, pe->out_size, fn, userdata);
}

static int write_fd_chunk(const uint8_t *data, size_t len, void *userdata) {
        return tb_write_all(*(int *)userdata, data, len);
}

int tb_pe_write_fd(const tb_pe *pe, int fd) {
        return tb_pe_write(pe, write_fd_chunk, &fd);
}

typedef struct section_reader {
        tb_buf *out;
        size_t max;
} section_reader;

static int append_chunk(const uint8_t *data, size_t len, void *userdata) {
        section_reader *sr = userdata;

        if (len > sr->max - sr->out->len)
                return -EFBIG;
        return tb_buf_append(sr->out, data, len);
}

int tb_pe_section_stream(const tb_pe *pe, const tb_pe_section *s, tb_pe_chunk_fn fn, void *userdata) {
        uint64_t file_part = MIN(s->raw_size, s->virtual_size);
        int r;

        r = tb_pe_write_range(pe, s->raw_offset, file_part, fn, userdata);
        if (r < 0)
                return r;
        for (uint64_t left = s->virtual_size - file_part; left > 0;) {
                size_t n = (size_t)MIN(left, (uint64_t)sizeof(zeros));

                r = fn(zeros, n, userdata);
                if (r < 0)
                        return r;
                left -= n;
        }
        return 0;
}

int tb_pe_section_read(const tb_pe *pe, const tb_pe_section *s, size_t max, tb_buf *out) {
        section_reader sr = { .out = out, .max = out->len + MIN(max, SIZE_MAX - out->len) };

        if (s->virtual_size > max)
                return -EFBIG;
        return tb_pe_section_stream(pe, s, append_chunk, &sr);
}

/* ---- Edits ---- */

static uint8_t *opt_field(tb_pe *pe, unsigned off) {
        return pe->hdr.data + pe->opt_off + off;
}

void tb_pe_set_security_dir(tb_pe *pe, uint32_t offset, uint32_t size) {
        tb_put_u32le(pe->hdr.data + pe->info.certdir_offset, offset);
        tb_put_u32le(pe->hdr.data + pe->info.certdir_offset + 4, size);
}

void tb_pe_set_checksum(tb_pe *pe, uint32_t checksum) {
        tb_put_u32le(opt_field(pe, OPT_CHECKSUM), checksum);
}

static int refuse_if_signed(const tb_pe *pe) {
        if (pe->info.cert_size == 0)
                return 0;
        pe_err(pe, "image is signed; sections can only be changed in an unsigned image");
        return -EBUSY;
}

int tb_pe_strip_symbols(tb_pe *pe) {
        tb_pe_info *in = &pe->info;
        uint8_t strsize[4];
        uint64_t end;
        int r;

        if (in->symtab_offset == 0)
                return 0;
        r = refuse_if_signed(pe);
        if (r < 0)
                return r;
        if (pe->n_added > 0 || pe->shift > 0) {
                pe_err(pe, "the symbol table must be stripped before sections are added");
                return -EBUSY;
        }
        end = (uint64_t)in->symtab_offset + (uint64_t)in->n_symbols * SYMBOL_SIZE;
        r = tb_pe_pread(pe, strsize, sizeof(strsize), end);
        if (r < 0 || end + tb_get_u32le(strsize) != pe->body_end || in->symtab_offset < in->size_of_headers) {
                pe_err(pe, "COFF symbol table at 0x%x is not at the end of the file; not stripping it",
                       in->symtab_offset);
                return -EBUSY;
        }
        for (size_t i = 0; i < pe->n_sections; i++)
                if (pe->sections[i].raw_size > 0 &&
                    (uint64_t)pe->sections[i].raw_offset + pe->sections[i].raw_size > in->symtab_offset) {
                        pe_err(pe, "section %s overlaps the COFF symbol table", pe->sections[i].name);
                        return -EBADMSG;
                }
        pe->body_end = in->symtab_offset;
        pe->out_size = pe->body_end;
        tb_put_u32le(pe->hdr.data + pe->coff_off + 8, 0);
        tb_put_u32le(pe->hdr.data + pe->coff_off + 12, 0);
        in->symtab_offset = 0;
        in->n_symbols = 0;
        return 0;
}

static void put_section_header(tb_pe *pe, size_t i) {
        const tb_pe_section *s = &pe->sections[i];
        uint8_t *h = pe->hdr.data + pe->sect_off + i * SECTION_HEADER_SIZE;

        memset(h, 0, SECTION_HEADER_SIZE);
        memcpy(h, s->name, strnlen(s->name, TB_PE_NAME_MAX));
        tb_put_u32le(h + 8, s->virtual_size);
        tb_put_u32le(h + 12, s->virtual_address);
        tb_put_u32le(h + 16, s->raw_size);
        tb_put_u32le(h + 20, s->raw_offset);
        tb_put_u32le(h + 36, s->characteristics);
}

/* Makes room for one more section header by growing SizeOfHeaders in FileAlignment steps and
 * moving every byte after the headers by the same amount. The headers are mapped at the image
 * base, so they must stay below the first section's address. */
static int grow_headers(tb_pe *pe) {
        tb_pe_info *in = &pe->info;
        uint64_t need = pe->sect_off + (uint64_t)(pe->n_sections + 1) * SECTION_HEADER_SIZE;
        uint64_t new_soh = align_up(need, in->file_alignment), delta, limit = UINT32_MAX;
        int r;

        if (need <= in->size_of_headers)
                return 0;
        for (size_t i = 0; i < pe->n_sections; i++)
                limit = MIN(limit, (uint64_t)pe->sections[i].virtual_address);
        if (new_soh > limit || new_soh > HDR_MAX) {
                pe_err(pe, "no room for another section header (headers would reach 0x%llx, first section at 0x%llx)",
                       (unsigned long long)new_soh, (unsigned long long)limit);
                return -ENOSPC;
        }
        if (pe->n_dirs > DIR_DEBUG && tb_get_u32le(pe->hdr.data + pe->dd_off + (size_t)8 * DIR_DEBUG + 4) != 0) {
                /* Debug directory entries hold file offsets inside section data we copy verbatim. */
                pe_err(pe, "no free section header slot, and the debug directory prevents moving raw data");
                return -ENOSPC;
        }
        delta = new_soh - in->size_of_headers;
        r = tb_buf_append_zero(&pe->hdr, (size_t)delta);
        if (r < 0)
                return r;
        for (size_t i = 0; i < pe->n_sections; i++)
                if (pe->sections[i].raw_size > 0) {
                        pe->sections[i].raw_offset += (uint32_t)delta;
                        put_section_header(pe, i);
                }
        for (size_t i = 0; i < pe->n_added; i++)
                pe->added[i].out_off += delta;
        if (in->symtab_offset != 0) {
                in->symtab_offset += (uint32_t)delta;
                tb_put_u32le(pe->hdr.data + pe->coff_off + 8, in->symtab_offset);
        }
        pe->shift += delta;
        pe->out_size += delta;
        in->size_of_headers = (uint32_t)new_soh;
        tb_put_u32le(opt_field(pe, OPT_SIZE_OF_HEADERS), in->size_of_headers);
        return 0;
}

static int source_copy(const tb_pe_source *src, tb_pe_source *ret) {
        *ret = *src;
        if ((src->data != NULL) == (src->path != NULL))
                return -EINVAL;
        if (src->path) {
                ret->path = strdup(src->path);
                if (!ret->path)
                        return tb_log_oom();
        }
        return 0;
}

/* What every section edit requires: a valid name, an unsigned image, a usable source. */
static int check_edit(const tb_pe *pe, const char *name, const tb_pe_source *src) {
        size_t l = strlen(name);

        if (l == 0 || l > TB_PE_NAME_MAX) {
                pe_err(pe, "section name '%s' must be 1 to %d bytes", name, TB_PE_NAME_MAX);
                return -EINVAL;
        }
        if (refuse_if_signed(pe) < 0)
                return -EBUSY;
        if (src->size == 0 || src->size > UINT32_MAX || (src->data != NULL) == (src->path != NULL)) {
                pe_err(pe, "section %s: a source of %llu bytes is not supported", name, (unsigned long long)src->size);
                return -EINVAL;
        }
        return 0;
}

static void update_size_of_image(tb_pe *pe, const tb_pe_section *s) {
        uint64_t end = align_up((uint64_t)s->virtual_address + s->virtual_size, pe->info.section_alignment);

        if (end > pe->info.size_of_image && end <= UINT32_MAX) {
                pe->info.size_of_image = (uint32_t)end;
                tb_put_u32le(opt_field(pe, OPT_SIZE_OF_IMAGE), pe->info.size_of_image);
        }
}

int tb_pe_add_section(tb_pe *pe, const char *name, const tb_pe_source *src, uint32_t characteristics) {
        tb_pe_info *in = &pe->info;
        tb_pe_section s = {};
        uint64_t va, raw_off, raw_size;
        added_section *a;
        int r;

        r = check_edit(pe, name, src);
        if (r < 0)
                return r;
        if (pe->n_sections >= TB_PE_MAX_SECTIONS) {
                pe_err(pe, "cannot add %s: already %d sections", name, TB_PE_MAX_SECTIONS);
                return -ENOSPC;
        }
        r = grow_headers(pe);
        if (r < 0)
                return r;

        /* After every mapped section, not just the last one in the table (which is what ukify
         * assumes): tables are not always sorted by address. The loader maps SizeOfRawData bytes
         * when VirtualSize is 0. */
        va = in->size_of_headers;
        for (size_t i = 0; i < pe->n_sections; i++) {
                const tb_pe_section *t = &pe->sections[i];
                uint64_t end = (uint64_t)t->virtual_address + (t->virtual_size ? t->virtual_size : t->raw_size);

                va = MAX(va, end);
        }
        va = align_up(va, in->section_alignment);
        raw_off = align_up(pe->out_size, in->file_alignment);
        raw_size = align_up(src->size, in->file_alignment);
        if (va + src->size > UINT32_MAX || raw_off + raw_size > UINT32_MAX) {
                pe_err(pe, "cannot add %s: the image would exceed 4 GiB", name);
                return -EFBIG;
        }

        a = &pe->added[pe->n_added];
        r = source_copy(src, &a->src);
        if (r < 0)
                return r;
        a->out_off = raw_off;
        a->raw_size = raw_size;
        pe->n_added++;

        memcpy(s.name, name, strlen(name));
        s.virtual_size = (uint32_t)src->size;
        s.virtual_address = (uint32_t)va;
        s.raw_size = (uint32_t)raw_size;
        s.raw_offset = (uint32_t)raw_off;
        s.characteristics = characteristics;
        pe->sections[pe->n_sections] = s;
        put_section_header(pe, pe->n_sections);
        pe->n_sections++;
        tb_put_u16le(pe->hdr.data + pe->coff_off + 2, (uint16_t)pe->n_sections);
        tb_put_u32le(opt_field(pe, OPT_SIZE_OF_INIT_DATA),
                     tb_get_u32le(opt_field(pe, OPT_SIZE_OF_INIT_DATA)) + s.virtual_size);
        update_size_of_image(pe, &s);
        tb_pe_set_checksum(pe, 0);
        in->checksum = 0;
        pe->out_size = raw_off + raw_size;
        return 0;
}

int tb_pe_replace_section(tb_pe *pe, const char *name, const tb_pe_source *src) {
        tb_pe_section *s = NULL;
        overlay *o = NULL;
        size_t idx;
        int r;

        r = check_edit(pe, name, src);
        if (r < 0)
                return r;
        for (idx = 0; idx < pe->n_input_sections; idx++)
                if (strncmp(pe->sections[idx].name, name, TB_PE_NAME_MAX + 1) == 0) {
                        s = &pe->sections[idx];
                        break;
                }
        if (!s) {
                pe_err(pe, "no section %s to replace", name);
                return -ENOENT;
        }
        if (src->size > s->raw_size) {
                pe_err(pe, "new %s (%llu bytes) does not fit the existing section (%u bytes)", name,
                       (unsigned long long)src->size, s->raw_size);
                return -ENOSPC;
        }
        for (size_t i = 0; i < pe->n_overlays; i++)
                if (pe->overlays[i].section == idx) {
                        o = &pe->overlays[i];
                        source_done(&o->src);
                }
        if (!o)
                o = &pe->overlays[pe->n_overlays++];
        o->section = idx;
        r = source_copy(src, &o->src);
        if (r < 0) {
                o->src = (tb_pe_source){};
                return r;
        }
        s->virtual_size = (uint32_t)src->size;
        put_section_header(pe, idx);
        update_size_of_image(pe, s);
        tb_pe_set_checksum(pe, 0);
        pe->info.checksum = 0;
        return 0;
}

/* ---- Checksum ---- */

void tb_pe_csum_init(tb_pe_csum *c) {
        *c = (tb_pe_csum){ .pending = -1 };
}

static inline uint32_t fold_add(uint32_t sum, uint32_t w) {
        sum += w;
        return (sum & 0xffff) + (sum >> 16);
}

void tb_pe_csum_update(tb_pe_csum *c, const uint8_t *data, size_t len) {
        uint32_t sum = c->sum;
        size_t i = 0;

        c->len += len;
        if (len > 0 && c->pending >= 0) {
                sum = fold_add(sum, (uint32_t)c->pending | ((uint32_t)data[0] << 8));
                c->pending = -1;
                i = 1;
        }
        for (; i + 1 < len; i += 2)
                sum = fold_add(sum, (uint32_t)data[i] | ((uint32_t)data[i + 1] << 8));
        if (i < len)
                c->pending = data[i];
        c->sum = sum;
}

void tb_pe_csum_add_at(tb_pe_csum *c, uint64_t off, const uint8_t *data, size_t len) {
        /* A word is lo + 256 * hi, and the end-around-carry sum is addition modulo 0xffff, so each
         * byte can be added on its own at its place in its word. */
        for (size_t i = 0; i < len; i++)
                c->sum = fold_add(c->sum, (uint32_t)data[i] << (((off + i) & 1) ? 8 : 0));
}

uint32_t tb_pe_csum_final(const tb_pe_csum *c, uint64_t total_len) {
        uint32_t sum = c->sum;

        if (c->pending >= 0)
                sum = fold_add(sum, (uint32_t)c->pending);
        return (uint32_t)((sum & 0xffff) + total_len);
}
