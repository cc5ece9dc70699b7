/* tests/unit/test-inspect.c — `trustboot inspect`'s report of a crafted UKI, known answers of both
 * views (text and JSON), the signature lines of a signed and of a tampered image, and a plain PE
 * without stub, SBAT or UKI sections. The section digests in the answers are SHA-256 of the
 * sections' fill bytes (printf 'o%.0s' {1..16} | sha256sum), independent of the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "medium/inspect.h"
#include "pe/authenticode.h"
#include "util/fileio.h"
#include "util/json.h"
#include "pe-image.h"
#include "testcert.h"
#include "tmpdir.h"

static const char sbat[] = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
                           "systemd,1,The systemd Developers,systemd,252,https://systemd.io/\n";
static const char sdmagic[] = "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####";

/* A 252 stub's .text, .sbat and .sdmagic, then .osrel, .cmdline and .linux as build-uki appends
 * them; .osrel's VirtualSize is below its raw size, .linux's above (zeros follow). */
static void make_uki(tb_buf *b) {
        static const img_section s[] = {
                { ".text", 0x1000, 0x100, 0x400, 0x200, 0xaa },
                { ".sbat", 0x2000, sizeof(sbat) - 1, 0x600, 0x200, 0 },
                { ".sdmagic", 0x3000, sizeof(sdmagic), 0x800, 0x200, 0 },
                { ".osrel", 0x4000, 0x10, 0xa00, 0x200, 'o' },
                { ".cmdline", 0x5000, 0x0c, 0xc00, 0x200, 'c' },
                { ".linux", 0x6000, 0x600, 0xe00, 0x400, 'L' },
        };

        img_make(b, 0x400, s, ARRAY_SIZE(s));
        memcpy(b->data + 0x600, sbat, sizeof(sbat) - 1);
        memcpy(b->data + 0x800, sdmagic, sizeof(sdmagic));
}

/* What PRINT writes for the report of the image IMG. */
static char *report_of(const tb_buf *img, bool json) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        assert_int_equal(tb_pe_from_memory(img->data, img->len, &pe), 0);
        assert_int_equal(tb_inspect_build(pe, "uki.efi", &o), 0);
        if (json)
                assert_int_equal(tb_inspect_print_json(o, f), 0);
        else
                tb_inspect_print_text(o, f);
        assert_int_equal(fclose(f), 0);
        return text;
}

static const char uki_text[] =
        "uki.efi: PE32+ x86-64, 4608 bytes\n"
        "  SizeOfImage 0x7000, SizeOfHeaders 0x400, alignment file 0x200 section 0x1000, CheckSum 0x12345\n"
        "  stub: systemd-stub 252.39-1~deb12u2\n"
        "  Authenticode SHA-256: 976f9f785e4849ce29faddac2e075ae44e4b21f7df75be4f985bfdf9e00937d1\n"
        "\n"
        "  Section   VirtAddr    VirtSize    RawOffset   RawSize     Flags\n"
        "  .text     0x00001000  0x00000100  0x00000400  0x00000200  initialized-data read\n"
        "  .sbat     0x00002000  0x0000008d  0x00000600  0x00000200  initialized-data read\n"
        "  .sdmagic  0x00003000  0x00000034  0x00000800  0x00000200  initialized-data read\n"
        "  .osrel    0x00004000  0x00000010  0x00000a00  0x00000200  initialized-data read\n"
        "  .cmdline  0x00005000  0x0000000c  0x00000c00  0x00000200  initialized-data read\n"
        "  .linux    0x00006000  0x00000600  0x00000e00  0x00000400  initialized-data read\n"
        "\n"
        "  Signatures: 0\n"
        "\n"
        "  SBAT (.sbat):\n"
        "  sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
        "  systemd,1,The systemd Developers,systemd,252,https://systemd.io/\n"
        "\n"
        "  UKI sections measured into PCR 11 (by a systemd-stub 252):\n"
        "  .linux          1536  678a29d71dfe0533eca8c70bfe92d50303df877d0fb6de24c18facab43864930\n"
        "  .osrel            16  536df1c9435f64266a8df52bc09ef68e03ffdaa6398e904d3b2530bd1a815c52\n"
        "  .cmdline          12  fa726e98c4fa11c02e281433f1fc1e30b177ec08be5691df445e831f047e4eda\n";

static void uki_text_is_the_known_answer(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(freep) char *text = NULL;
        (void)state;

        make_uki(&img);
        text = report_of(&img, false);
        assert_string_equal(text, uki_text);
}

/* The same report as JSON: every member (compared as values), json-c's two-space layout, '/'
 * not escaped, one newline at the end. */
static const char uki_json[] =
        "{\"file\":\"uki.efi\",\"size\":4608,\"format\":\"PE32+\",\"machine\":\"x86-64\","
        "\"section_alignment\":4096,\"file_alignment\":512,\"size_of_headers\":1024,\"size_of_image\":28672,"
        "\"checksum\":74565,\"stub\":\"systemd-stub 252.39-1~deb12u2\",\"sections\":["
        "{\"name\":\".text\",\"virtual_address\":4096,\"virtual_size\":256,\"raw_offset\":1024,\"raw_size\":512,"
        "\"characteristics\":1073741888,\"flags\":[\"initialized-data\",\"read\"]},"
        "{\"name\":\".sbat\",\"virtual_address\":8192,\"virtual_size\":141,\"raw_offset\":1536,\"raw_size\":512,"
        "\"characteristics\":1073741888,\"flags\":[\"initialized-data\",\"read\"]},"
        "{\"name\":\".sdmagic\",\"virtual_address\":12288,\"virtual_size\":52,\"raw_offset\":2048,\"raw_size\":512,"
        "\"characteristics\":1073741888,\"flags\":[\"initialized-data\",\"read\"]},"
        "{\"name\":\".osrel\",\"virtual_address\":16384,\"virtual_size\":16,\"raw_offset\":2560,\"raw_size\":512,"
        "\"characteristics\":1073741888,\"flags\":[\"initialized-data\",\"read\"]},"
        "{\"name\":\".cmdline\",\"virtual_address\":20480,\"virtual_size\":12,\"raw_offset\":3072,\"raw_size\":512,"
        "\"characteristics\":1073741888,\"flags\":[\"initialized-data\",\"read\"]},"
        "{\"name\":\".linux\",\"virtual_address\":24576,\"virtual_size\":1536,\"raw_offset\":3584,\"raw_size\":1024,"
        "\"characteristics\":1073741888,\"flags\":[\"initialized-data\",\"read\"]}],"
        "\"authenticode_sha256\":\"976f9f785e4849ce29faddac2e075ae44e4b21f7df75be4f985bfdf9e00937d1\","
        "\"signatures\":[],"
        "\"sbat\":[\"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\","
        "\"systemd,1,The systemd Developers,systemd,252,https://systemd.io/\"],"
        "\"uki\":{\"measured_by_stub\":252,\"profiles\":0,\"measured_sections\":["
        "{\"name\":\".linux\",\"size\":1536,\"sha256\":\"678a29d71dfe0533eca8c70bfe92d50303df877d0fb6de24c18facab43864930\"},"
        "{\"name\":\".osrel\",\"size\":16,\"sha256\":\"536df1c9435f64266a8df52bc09ef68e03ffdaa6398e904d3b2530bd1a815c52\"},"
        "{\"name\":\".cmdline\",\"size\":12,\"sha256\":\"fa726e98c4fa11c02e281433f1fc1e30b177ec08be5691df445e831f047e4eda\"}]}}";

static void uki_json_is_the_known_answer(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(freep) char *text = NULL;
        _cleanup_(json_object_putp) json_object *got = NULL, *want = json_tokener_parse(uki_json);
        size_t len;
        (void)state;

        make_uki(&img);
        text = report_of(&img, true);
        got = json_tokener_parse(text);
        assert_non_null(want);
        assert_non_null(got);
        assert_true(json_object_equal(got, want));
        assert_memory_equal(text, "{\n  \"file\":\"uki.efi\",\n  \"size\":4608,\n", 37);
        assert_non_null(strstr(text, "\n  \"signatures\":[\n  ],\n"));
        assert_non_null(strstr(text, "https://github.com/rhboot/shim/blob/main/SBAT.md"));
        len = strlen(text);
        assert_true(len > 12);
        assert_string_equal(text + len - 12, "    ]\n  }\n}\n");
}

/* A signed image names its signer and the digest it signed; after one byte of a section
 * changed, the same signature no longer matches the image. */
static void signature_lines_say_whether_it_matches(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, signed_img = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(freep) char *text = NULL, *line = NULL;
        tb_signer s = { .key = EVP_RSA_gen(2048) };
        struct stat st;
        int fd = memfd_create("signed", MFD_CLOEXEC);
        (void)state;

        assert_true(fd >= 0);
        assert_non_null(s.key);
        s.cert = tb_test_cert(s.key, "inspect test signer", 3600);
        make_uki(&img);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
        assert_int_equal(tb_authenticode_sign(pe, &s, fd, "memfd"), 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(tb_buf_append_zero(&signed_img, (size_t)st.st_size), 0);
        assert_int_equal(tb_pread_full(fd, signed_img.data, signed_img.len, 0), 0);
        close(fd);
        tb_signer_done(&s);

        text = report_of(&signed_img, false);
        assert_non_null(strstr(text, "\n  Signatures: 1\n  1: CN=inspect test signer\n     SHA256 "
                                     "976f9f785e4849ce29faddac2e075ae44e4b21f7df75be4f985bfdf9e00937d1 (matches the image)\n"));
        free(text);
        signed_img.data[0xe00] ^= 1; /* the first byte of .linux */
        text = report_of(&signed_img, false);
        assert_non_null(strstr(text, "\n  Signatures: 1\n  1: CN=inspect test signer\n     SHA256 "
                                     "976f9f785e4849ce29faddac2e075ae44e4b21f7df75be4f985bfdf9e00937d1 (DOES NOT match the image)\n"));
        assert_null(strstr(text, "976f9f785e4849ce29faddac2e075ae44e4b21f7df75be4f985bfdf9e00937d1\n"));
}

/* A PE that is no UKI and has no .sdmagic or .sbat: those lines are left out, null in JSON. */
static void plain_pe_has_no_stub_sbat_or_uki(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        _cleanup_(freep) char *text = NULL, *json = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        (void)state;

        img_make_basic(&img);
        text = report_of(&img, false);
        assert_null(strstr(text, "stub:"));
        assert_null(strstr(text, "SBAT"));
        assert_null(strstr(text, "UKI"));
        assert_non_null(strstr(text, "\n  .data     0x00002000  0x00000300  0x00000600  0x00000200  initialized-data read\n\n"
                                     "  Signatures: 0\n"));
        assert_string_equal(strstr(text, "  Signatures: 0\n"), "  Signatures: 0\n");
        json = report_of(&img, true);
        o = json_tokener_parse(json);
        assert_non_null(o);
        for (const char *const *k = (const char *const[]){ "stub", "sbat", "uki", NULL }; *k; k++) {
                json_object *v = (json_object *)0x1;

                assert_true(json_object_object_get_ex(o, *k, &v));
                assert_null(v);
        }
}

/* tb_inspect opens the file by its path and prints the view asked for; a missing file is an
 * error and nothing is printed. */
static void inspect_reads_the_file_and_prints_one_view(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        char dir[256], path[300], *text = NULL;
        size_t len = 0;
        FILE *f;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "inspect");
        make_uki(&img);
        tb_test_write(dir, "uki.efi", img.data, img.len);
        snprintf(path, sizeof(path), "%s/uki.efi", dir);
        f = open_memstream(&text, &len);
        assert_int_equal(tb_inspect(&(tb_inspect_options){ .path = path }, f), 0);
        assert_int_equal(fclose(f), 0);
        assert_string_equal(strchr(text, ':'), strchr(uki_text, ':'));
        assert_memory_equal(text, path, strlen(path));
        free(text);

        snprintf(path, sizeof(path), "%s/missing.efi", dir);
        f = open_memstream(&text, &len);
        assert_true(tb_inspect(&(tb_inspect_options){ .path = path, .json = true }, f) < 0);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(len, 0);
        free(text);
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(uki_text_is_the_known_answer),
                cmocka_unit_test(uki_json_is_the_known_answer),
                cmocka_unit_test(signature_lines_say_whether_it_matches),
                cmocka_unit_test(plain_pe_has_no_stub_sbat_or_uki),
                cmocka_unit_test(inspect_reads_the_file_and_prints_one_view),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
