/* tests/unit/test-pe.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "pe-image.h"
#include "pe/pe.h"

static int to_buf(const uint8_t *data, size_t len, void *userdata) {
        return tb_buf_append(userdata, data, len);
}

/* Writes PE's output to OUT and parses it back from there. */
static tb_pe *rewrite(const tb_pe *pe, tb_buf *out) {
        tb_pe *again = NULL;

        out->len = 0;
        assert_int_equal(tb_pe_write(pe, to_buf, out), 0);
        assert_int_equal(out->len, tb_pe_output_size(pe));
        assert_int_equal(tb_pe_from_memory(out->data, out->len, &again), 0);
        return again;
}

static void parses_header_fields_and_sections(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        const tb_pe_section *s;
        const tb_pe_info *in;
        (void)state;

        img_make_basic(&img);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        in = tb_pe_get_info(pe);
        assert_int_equal(in->machine, TB_PE_MACHINE_AMD64);
        assert_true(in->pe32plus);
        assert_int_equal(in->size_of_headers, 0x200);
        assert_int_equal(in->checksum_offset, IMG_CHECKSUM_OFF);
        assert_int_equal(in->certdir_offset, IMG_CERTDIR_OFF);
        assert_int_equal(in->file_size, 0x800);
        assert_int_equal(tb_pe_n_sections(pe), 2);
        s = tb_pe_find_section(pe, ".data");
        assert_non_null(s);
        assert_int_equal(s->virtual_address, 0x2000);
        assert_int_equal(s->raw_offset, 0x600);
        assert_null(tb_pe_find_section(pe, ".dat"));
}

static void rejects_non_pe_files(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        tb_pe *pe = NULL;
        (void)state;

        img_make_basic(&img);
        img.data[0] = 'X';
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        img.data[IMG_PE_OFF + 1] = 'X';
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        tb_put_u32le(img.data + 0x3c, 0xfffffff0u); /* e_lfanew far outside the file */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        tb_put_u16le(img.data + IMG_OPT_OFF, 0x107); /* ROM image magic */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        assert_int_equal(tb_pe_from_memory((const uint8_t *)"MZ", 2, &pe), -EBADMSG);
        assert_null(pe);
}

static void rejects_every_truncation_of_the_headers(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        tb_pe *pe = NULL;
        (void)state;

        img_make_basic(&img);
        /* Shorter than SizeOfHeaders, or cutting into section data: never a valid image. */
        for (size_t len = 0; len < img.len; len++)
                assert_int_equal(tb_pe_from_memory(img.data, len, &pe), -EBADMSG);
        assert_null(pe);
}

static void rejects_sections_beyond_end_of_file(void **state) {
        static const img_section s[] = { { ".text", 0x1000, 0x400, 0x200, 0x400, 1 } };
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        tb_pe *pe = NULL;
        (void)state;

        img_make(&img, 0x200, s, 1);
        tb_put_u32le(img.data + IMG_SECT_OFF + 16, 0x401); /* SizeOfRawData one past EOF */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        tb_put_u32le(img.data + IMG_SECT_OFF + 16, 0x400);
        tb_put_u32le(img.data + IMG_SECT_OFF + 20, 0xfffffe00u); /* offset + size wraps in 32 bits */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        tb_put_u32le(img.data + IMG_SECT_OFF + 20, 0x100); /* inside the headers */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
}

static void rejects_overlapping_sections(void **state) {
        static const img_section s[] = {
                { ".a", 0x1000, 0x400, 0x200, 0x400, 1 },
                { ".b", 0x2000, 0x400, 0x400, 0x400, 2 }, /* starts inside .a */
        };
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        tb_pe *pe = NULL;
        (void)state;

        img_make(&img, 0x200, s, 2);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
}

static void rejects_huge_counts(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        tb_pe *pe = NULL;
        (void)state;

        img_make_basic(&img);
        tb_put_u16le(img.data + IMG_COFF_OFF + 2, 0xffff); /* NumberOfSections */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        tb_put_u16le(img.data + IMG_COFF_OFF + 2, 5); /* 5 headers do not fit below 0x200 */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_OPT_OFF + 108, 0x10000000); /* NumberOfRvaAndSizes */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_OPT_OFF + 60, 0x7fffffff); /* SizeOfHeaders */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_OPT_OFF + 36, 0x300); /* FileAlignment not a power of two */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
}

static void rejects_certificate_table_not_at_end(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        (void)state;

        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF, 0x600);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF + 4, 0x100);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), -EBADMSG);
        /* At the end, after the sections: accepted, and excluded from the output body. */
        tb_buf_append_zero(&img, 0x10);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF, 0x800);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF + 4, 0x10);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_output_size(pe), 0x800);
}

static void section_read_zero_fills_to_virtual_size(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        const tb_pe_section *s;
        (void)state;

        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_SECT_OFF + 40 + 8, 0x280); /* .data VirtualSize > SizeOfRawData */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        s = tb_pe_find_section(pe, ".data");
        assert_int_equal(tb_pe_section_read(pe, s, 1 << 20, &out), 0);
        assert_int_equal(out.len, 0x280);
        assert_int_equal(out.data[0x1ff], 0xbb);
        assert_int_equal(out.data[0x200], 0);
        assert_int_equal(out.data[0x27f], 0);
        out.len = 0;
        s = tb_pe_find_section(pe, ".text"); /* VirtualSize < SizeOfRawData: only VirtualSize bytes */
        assert_int_equal(tb_pe_section_read(pe, s, 1 << 20, &out), 0);
        assert_int_equal(out.len, 0x3f0);
        out.len = 0;
        assert_int_equal(tb_pe_section_read(pe, s, 0x100, &out), -EFBIG);
}

static void add_section_follows_ukify_layout_rules(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT, data = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        const tb_pe_section *s;
        const uint8_t *opt;
        tb_pe_source src = { .data = "ID=test\n", .size = 8 };
        (void)state;

        img_make_basic(&img);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_add_section(pe, ".osrel", &src, TB_PE_SCN_MEM_READ | TB_PE_SCN_CNT_INITIALIZED_DATA), 0);
        again = rewrite(pe, &out);
        assert_int_equal(tb_pe_n_sections(again), 3);
        s = tb_pe_section_at(again, 2);
        assert_string_equal(s->name, ".osrel");
        assert_int_equal(s->virtual_address, 0x3000); /* round_up(0x2000 + 0x300, SectionAlignment) */
        assert_int_equal(s->virtual_size, 8);
        assert_int_equal(s->raw_offset, 0x800); /* round_up(old file end, FileAlignment) */
        assert_int_equal(s->raw_size, 0x200);
        assert_int_equal(s->characteristics, 0x40000040);
        assert_int_equal(out.len, 0xa00);
        opt = out.data + IMG_OPT_OFF;
        assert_int_equal(tb_get_u32le(opt + 56), 0x4000); /* SizeOfImage */
        assert_int_equal(tb_get_u32le(opt + 8), 8);       /* SizeOfInitializedData += VirtualSize */
        assert_int_equal(tb_get_u32le(opt + 64), 0);      /* CheckSum */
        assert_memory_equal(out.data, img.data + 0, 0x40); /* untouched bytes stay */
        assert_memory_equal(out.data + 0x200, img.data + 0x200, 0x600);
        assert_int_equal(tb_pe_section_read(again, s, 100, &data), 0);
        assert_memory_equal(data.data, "ID=test\n", 8);
        assert_int_equal(out.data[0x808], 0); /* padding */
}

static void add_section_reads_file_sources_at_write_time(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT, data = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        char path[] = "/tmp/test-pe-XXXXXX";
        int fd = mkstemp(path);
        tb_pe_source src = { .path = path, .size = 3000 };
        uint8_t blob[3000];
        (void)state;

        for (size_t i = 0; i < sizeof(blob); i++)
                blob[i] = (uint8_t)(i * 7);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, blob, sizeof(blob)), (ssize_t)sizeof(blob));
        close(fd);
        img_make_basic(&img);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_add_section(pe, ".linux", &src, TB_PE_SCN_MEM_READ | TB_PE_SCN_CNT_CODE), 0);
        again = rewrite(pe, &out);
        assert_int_equal(tb_pe_section_read(again, tb_pe_find_section(again, ".linux"), 1 << 20, &data), 0);
        assert_int_equal(data.len, sizeof(blob));
        assert_memory_equal(data.data, blob, sizeof(blob));
        /* A source that changed size since it was added is an error, not a corrupt image. */
        assert_int_equal(truncate(path, 10), 0);
        out.len = 0;
        assert_int_equal(tb_pe_write(pe, to_buf, &out), -EIO);
        unlink(path);
}

static void add_section_grows_a_full_header_area(void **state) {
        static const img_section s[] = {
                { ".a", 0x1000, 0x10, 0x200, 0x200, 1 },
                { ".b", 0x2000, 0x10, 0x400, 0x200, 2 },
                { ".c", 0x3000, 0x10, 0x600, 0x200, 3 },
                { ".d", 0x4000, 0x10, 0x800, 0x200, 4 },
        };
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT, data = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        tb_pe_source src = { .data = "hello", .size = 5 };
        (void)state;

        img_make(&img, 0x200, s, 4); /* section table full: 0x148 + 4 * 40 = 0x1e8 */
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_add_section(pe, ".e", &src, 0x40000040), 0);
        again = rewrite(pe, &out);
        assert_int_equal(tb_pe_get_info(again)->size_of_headers, 0x400);
        for (size_t i = 0; i < 4; i++) {
                const tb_pe_section *t = tb_pe_section_at(again, i);

                assert_int_equal(t->raw_offset, s[i].raw_off + 0x200); /* moved by one FileAlignment */
                assert_int_equal(t->virtual_address, s[i].va);         /* addresses do not change */
                assert_int_equal(out.data[t->raw_offset], s[i].fill);
        }
        assert_int_equal(tb_pe_section_at(again, 4)->raw_offset, 0xc00);
        assert_int_equal(tb_pe_section_read(again, tb_pe_section_at(again, 4), 16, &data), 0);
        assert_memory_equal(data.data, "hello", 5);
}

static void add_section_fails_cleanly_without_header_room(void **state) {
        static const img_section s[] = {
                { ".a", 0x200, 0x10, 0x200, 0x200, 1 }, /* mapped right after the headers */
                { ".b", 0x400, 0x10, 0x400, 0x200, 2 },
                { ".c", 0x600, 0x10, 0x600, 0x200, 3 },
                { ".d", 0x800, 0x10, 0x800, 0x200, 4 },
        };
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        tb_pe_source src = { .data = "x", .size = 1 };
        (void)state;

        img_make(&img, 0x200, s, 4);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_add_section(pe, ".e", &src, 0x40000040), -ENOSPC);
        assert_int_equal(tb_pe_add_section(pe, ".toolongname", &src, 0x40000040), -EINVAL);
        assert_int_equal(tb_pe_n_sections(pe), 4);
        assert_int_equal(tb_pe_output_size(pe), img.len);
}

static void replace_section_overwrites_in_place_and_zero_fills(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT, big = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        tb_pe_source src = { .data = "sbat,1\n", .size = 7 };
        const tb_pe_section *s;
        (void)state;

        img_make_basic(&img);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_replace_section(pe, ".data", &src), 0);
        again = rewrite(pe, &out);
        assert_int_equal(out.len, img.len);
        s = tb_pe_find_section(again, ".data");
        assert_int_equal(s->virtual_size, 7);
        assert_int_equal(s->raw_size, 0x200);
        assert_int_equal(s->virtual_address, 0x2000);
        assert_memory_equal(out.data + 0x600, "sbat,1\n", 7);
        assert_int_equal(out.data[0x607], 0);
        assert_int_equal(out.data[0x7ff], 0);
        assert_memory_equal(out.data + 0x200, img.data + 0x200, 0x400); /* .text untouched */

        tb_buf_append_zero(&big, 0x201);
        src = (tb_pe_source){ .data = big.data, .size = big.len };
        assert_int_equal(tb_pe_replace_section(pe, ".data", &src), -ENOSPC);
        assert_int_equal(tb_pe_replace_section(pe, ".nope", &src), -ENOENT);
}

static void strip_symbols_drops_a_trailing_symbol_table(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        uint8_t strtab[4];
        (void)state;

        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_COFF_OFF + 8, 0x800); /* PointerToSymbolTable */
        tb_put_u32le(img.data + IMG_COFF_OFF + 12, 2);    /* NumberOfSymbols */
        tb_buf_append_zero(&img, 36);
        tb_put_u32le(strtab, 10); /* string table: its own 4-byte size + 6 bytes */
        tb_buf_append(&img, strtab, 4);
        tb_buf_append(&img, "abcde", 6);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_strip_symbols(pe), 0);
        again = rewrite(pe, &out);
        assert_int_equal(out.len, 0x800);
        assert_int_equal(tb_get_u32le(out.data + IMG_COFF_OFF + 8), 0);
        assert_int_equal(tb_get_u32le(out.data + IMG_COFF_OFF + 12), 0);
        assert_int_equal(tb_pe_strip_symbols(again), 0); /* nothing left to strip */
}

static void strip_symbols_refuses_a_table_followed_by_data(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        uint8_t strtab[4];
        (void)state;

        img_make_basic(&img);
        tb_put_u32le(img.data + IMG_COFF_OFF + 8, 0x800);
        tb_put_u32le(img.data + IMG_COFF_OFF + 12, 1);
        tb_buf_append_zero(&img, 18);
        tb_put_u32le(strtab, 4);
        tb_buf_append(&img, strtab, 4);
        tb_buf_append(&img, "junk", 4);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_strip_symbols(pe), -EBUSY);
        assert_int_equal(tb_pe_output_size(pe), img.len);
}

static void edits_refuse_a_signed_image(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        tb_pe_source src = { .data = "x", .size = 1 };
        (void)state;

        img_make_basic(&img);
        tb_buf_append_zero(&img, 16);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF, 0x800);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF + 4, 16);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_pe_add_section(pe, ".x", &src, 0x40000040), -EBUSY);
        assert_int_equal(tb_pe_replace_section(pe, ".data", &src), -EBUSY);
}

static void checksum_does_not_depend_on_chunking(void **state) {
        uint8_t data[1001];
        tb_pe_csum a, b;
        uint32_t sum = 0;
        (void)state;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 131 + 7);
        /* Reference: 16-bit words with end-around carry, the odd last byte alone, plus length. */
        for (size_t i = 0; i + 1 < sizeof(data); i += 2) {
                sum += tb_get_u16le(data + i);
                sum = (sum & 0xffff) + (sum >> 16);
        }
        sum += data[1000];
        sum = (sum & 0xffff) + (sum >> 16);
        tb_pe_csum_init(&a);
        tb_pe_csum_update(&a, data, sizeof(data));
        tb_pe_csum_init(&b);
        for (size_t i = 0, step = 1; i < sizeof(data); i += step, step = step % 7 + 1)
                tb_pe_csum_update(&b, data + i, MIN(step, sizeof(data) - i));
        assert_int_equal(tb_pe_csum_final(&a, 5000), sum + 5000);
        assert_int_equal(tb_pe_csum_final(&b, 5000), sum + 5000);
}

static void opens_the_debian_stub_and_appends_past_its_free_slots(void **state) {
        static const char *const names[] = { ".osrel", ".cmdline", ".uname", ".pcrpkey", ".initrd",
                                             ".splash", ".dtb",    ".pcrsig", ".linux" };
        const char *path = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        tb_pe_source src = { .data = "0123456789", .size = 10 };
        (void)state;

        if (access(path, R_OK) < 0)
                skip();
        assert_int_equal(tb_pe_open(path, &pe), 0);
        assert_int_equal(tb_pe_strip_symbols(pe), 0);
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                assert_int_equal(tb_pe_add_section(pe, names[i], &src, 0x40000040), 0);
        again = rewrite(pe, &out);
        assert_int_equal(tb_pe_n_sections(again), 8 + ARRAY_SIZE(names));
        assert_true(tb_pe_get_info(again)->size_of_headers > 0x400);
        assert_non_null(tb_pe_find_section(again, ".sdmagic"));
        assert_int_equal(tb_pe_get_info(again)->symtab_offset, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parses_header_fields_and_sections),
                cmocka_unit_test(rejects_non_pe_files),
                cmocka_unit_test(rejects_every_truncation_of_the_headers),
                cmocka_unit_test(rejects_sections_beyond_end_of_file),
                cmocka_unit_test(rejects_overlapping_sections),
                cmocka_unit_test(rejects_huge_counts),
                cmocka_unit_test(rejects_certificate_table_not_at_end),
                cmocka_unit_test(section_read_zero_fills_to_virtual_size),
                cmocka_unit_test(add_section_follows_ukify_layout_rules),
                cmocka_unit_test(add_section_reads_file_sources_at_write_time),
                cmocka_unit_test(add_section_grows_a_full_header_area),
                cmocka_unit_test(add_section_fails_cleanly_without_header_room),
                cmocka_unit_test(replace_section_overwrites_in_place_and_zero_fills),
                cmocka_unit_test(strip_symbols_drops_a_trailing_symbol_table),
                cmocka_unit_test(strip_symbols_refuses_a_table_followed_by_data),
                cmocka_unit_test(edits_refuse_a_signed_image),
                cmocka_unit_test(checksum_does_not_depend_on_chunking),
                cmocka_unit_test(opens_the_debian_stub_and_appends_past_its_free_slots),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
