/* tests/unit/test-uki.c — a UKI from the installed systemd-stub: the sections present in ukify's
 * order with .linux last, absent ones left out, a stub's own section never doubled, the whole
 * signed so that it verifies with the signer's certificate; the kernel release from a bzImage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "medium/uki.h"
#include "pe/authenticode.h"
#include "pe/sbat.h"
#include "util/fileio.h"
#include "testcert.h"
#include "tmpdir.h"

#define STUB TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub"

typedef struct fx {
        char dir[256], kernel[512];
        tb_signer signer;
} fx;

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        static char kernel[5000];

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "uki");
        memset(kernel, 0x90, sizeof(kernel));
        memcpy(kernel, "MZ", 2);
        snprintf(f->kernel, sizeof(f->kernel), "%s/vmlinuz", f->dir);
        assert_int_equal(tb_write_file_new(f->kernel, kernel, sizeof(kernel), 0644), 0);

        f->signer.key = EVP_EC_gen("P-256");
        f->signer.cert = tb_test_cert(f->signer.key, "uki test db", 3600);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_signer_done(&f->signer);
        return tb_test_fixture_teardown(state);
}

static tb_pe_source bytes(const char *s) {
        return (tb_pe_source){ .data = s, .size = strlen(s) };
}

static void expect_section(const tb_pe *pe, const char *name, const char *want) {
        const tb_pe_section *s = tb_pe_find_section(pe, name);
        tb_buf b = TB_BUF_INIT;

        assert_non_null(s);
        assert_int_equal(tb_pe_section_read(pe, s, 1 << 20, &b), 0);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
        tb_buf_free(&b);
}

static void sections_in_order_linux_last_and_signed(void **state) {
        fx *f = *state;
        tb_uki_parts parts = { .stub_path = STUB, .osrel = bytes("ID=test\n"), .cmdline = bytes("console=ttyS0"),
                               .uname = bytes("6.1.0-test"), .linux_image = { .path = f->kernel, .size = 5000 } };
        _cleanup_(tb_pe_freep) tb_pe *stub = NULL, *uki = NULL;
        char path[600];
        size_t n_stub, n_uki;
        int fd;

        assert_int_equal(tb_pe_open(STUB, &stub), 0);
        n_stub = tb_pe_n_sections(stub);
        snprintf(path, sizeof(path), "%s/norole.efi", f->dir);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(tb_uki_write(&parts, &f->signer, fd, path), 0);
        close(fd);

        assert_int_equal(tb_pe_open(path, &uki), 0);
        n_uki = tb_pe_n_sections(uki);
        assert_int_equal(n_uki, n_stub + 4);
        assert_string_equal(tb_pe_section_at(uki, n_stub)->name, ".osrel");
        assert_string_equal(tb_pe_section_at(uki, n_stub + 1)->name, ".cmdline");
        assert_string_equal(tb_pe_section_at(uki, n_stub + 2)->name, ".uname");
        assert_string_equal(tb_pe_section_at(uki, n_stub + 3)->name, ".linux");
        assert_null(tb_pe_find_section(uki, ".initrd"));
        assert_null(tb_pe_find_section(uki, ".pcrsig"));
        expect_section(uki, ".cmdline", "console=ttyS0");
        expect_section(uki, ".osrel", "ID=test\n");
        assert_int_equal(tb_pe_find_section(uki, ".linux")->virtual_size, 5000);
        assert_true(tb_pe_find_section(uki, ".linux")->characteristics & 0x20000000); /* executable */
        assert_false(tb_pe_find_section(uki, ".cmdline")->characteristics & 0x80000000); /* not writable */

        assert_true(tb_pe_get_info(uki)->cert_size > 0);
        assert_int_equal(tb_authenticode_verify(uki, f->signer.cert), 1);
}

static void a_stub_that_has_the_section_already_is_refused(void **state) {
        fx *f = *state;
        tb_uki_parts parts = { .stub_path = STUB, .cmdline = bytes("quiet") };
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *again = NULL;
        char path[600];
        int fd;

        /* An unsigned stub with a .cmdline, used as the stub of a second UKI with a .cmdline. */
        assert_int_equal(tb_uki_assemble(&parts, &pe), 0);
        snprintf(path, sizeof(path), "%s/with-cmdline.stub", f->dir);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(tb_pe_write_fd(pe, fd), 0);
        close(fd);
        parts.stub_path = path;
        assert_int_equal(tb_uki_assemble(&parts, &again), -EEXIST);
        assert_null(again);
        parts.cmdline = (tb_pe_source){ 0 };
        parts.osrel = bytes("ID=x\n");
        assert_int_equal(tb_uki_assemble(&parts, &again), 0);
        assert_non_null(tb_pe_find_section(again, ".osrel"));
}

static int write_bzimage(const char *dir, const char *version, uint16_t ptr, bool magic) {
        uint8_t img[0x1000] = { 0 };
        char path[600];
        int fd;

        if (magic)
                memcpy(img + 0x202, "HdrS", 4);
        tb_put_u16le(img + 0x20e, ptr);
        if (version)
                memcpy(img + 0x200 + ptr, version, strlen(version));
        snprintf(path, sizeof(path), "%s/bz-%u-%d", dir, ptr, magic);
        assert_int_equal(tb_write_file_atomic(path, img, sizeof(img), 0644, true), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void kernel_release_is_the_first_word_of_the_version_string(void **state) {
        fx *f = *state;
        char buf[64];
        int fd;

        fd = write_bzimage(f->dir, "6.1.0-28-amd64 (debian-kernel@lists.debian.org) #1 SMP", 0x300, true);
        assert_int_equal(tb_uki_kernel_release(fd, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "6.1.0-28-amd64");
        assert_int_equal(tb_uki_kernel_release(fd, buf, 8), -ENODATA); /* does not fit */
        close(fd);

        fd = write_bzimage(f->dir, "6.1.0", 0x300, false); /* not an x86 boot header */
        assert_int_equal(tb_uki_kernel_release(fd, buf, sizeof(buf)), -ENODATA);
        close(fd);
        fd = write_bzimage(f->dir, NULL, 0, true); /* no version pointer */
        assert_int_equal(tb_uki_kernel_release(fd, buf, sizeof(buf)), -ENODATA);
        close(fd);
        fd = write_bzimage(f->dir, "", 0x300, true); /* an empty string */
        assert_int_equal(tb_uki_kernel_release(fd, buf, sizeof(buf)), -ENODATA);
        close(fd);
}

/* ukify's merge: the stub's entries, none from a kernel without .sbat, ukify's uki entry unless
 * the user gives entries; user text must be SBAT. The result replaces the stub's .sbat in place. */
static void sbat_is_merged_as_ukify_and_replaces_the_stubs(void **state) {
        fx *f = *state;
        _cleanup_(tb_pe_freep) tb_pe *stub = NULL, *uki = NULL;
        _cleanup_(tb_buf_freep) tb_buf def = TB_BUF_INIT, user = TB_BUF_INIT, bad = TB_BUF_INIT;
        char file[600], arg[610];
        const char *u[1] = { arg }, *b[1] = { "mine,1,Me,mine,1,https://example.invalid" };
        size_t n_stub, sbats = 0;
        int kfd;

        assert_int_equal(tb_pe_open(STUB, &stub), 0);
        n_stub = tb_pe_n_sections(stub);
        kfd = write_bzimage(f->dir, "6.1.0", 0x300, true); /* no PE header: no .sbat */
        assert_int_equal(tb_uki_sbat(stub, kfd, NULL, 0, &def), 0);
        assert_non_null(memmem(def.data, def.len, "\n" TB_SBAT_UKI_ENTRY "\n\0", strlen(TB_SBAT_UKI_ENTRY) + 3));
        assert_memory_equal(def.data, TB_SBAT_HEADER "\n", strlen(TB_SBAT_HEADER) + 1);
        assert_int_equal(def.data[def.len - 1], '\0');

        snprintf(file, sizeof(file), "%s/user.sbat", f->dir);
        assert_int_equal(tb_write_file_atomic(file, "sbat,1,x,sbat,1,u\nmine,1,Me,mine,1,u\n", 37, 0644, true), 0);
        snprintf(arg, sizeof(arg), "@%s", file);
        assert_int_equal(tb_uki_sbat(stub, kfd, u, 1, &user), 0);
        assert_null(memmem(user.data, user.len, TB_SBAT_UKI_ENTRY, strlen(TB_SBAT_UKI_ENTRY)));
        assert_non_null(memmem(user.data, user.len, "\nmine,1,Me,mine,1,u\n\0", 21));
        assert_int_equal(tb_uki_sbat(stub, kfd, b, 1, &bad), -EINVAL); /* no "sbat," header line */
        close(kfd);

        tb_uki_parts parts = { .stub_path = STUB, .cmdline = bytes("quiet"),
                               .sbat = { .data = user.data, .size = user.len } };
        assert_int_equal(tb_uki_assemble(&parts, &uki), 0);
        assert_int_equal(tb_pe_n_sections(uki), n_stub + 1); /* in place: no second .sbat */
        for (size_t i = 0; i < tb_pe_n_sections(uki); i++)
                sbats += strcmp(tb_pe_section_at(uki, i)->name, ".sbat") == 0;
        assert_int_equal(sbats, 1);
        assert_int_equal(tb_pe_find_section(uki, ".sbat")->virtual_size, user.len);
}

/* --cmd-lines-v2 layout, as ukify --join-profile: base (no .pcrsig), then profile 0's .profile and
 * .pcrsig, then each further profile's .profile, .cmdline, .pcrsig. */
static void profiles_follow_the_base_each_with_its_own_pcrsig(void **state) {
        fx *f = *state;
        const tb_uki_profile prof[] = {
                { .profile = bytes("ID=profile-0\n"), .pcrsig = bytes("{\"p\":0}") },
                { .profile = bytes("ID=profile-1\n"), .cmdline = bytes("quiet one"), .pcrsig = bytes("{\"p\":1}") },
        };
        tb_uki_parts parts = { .stub_path = STUB, .osrel = bytes("ID=test\n"), .cmdline = bytes("base"),
                               .pcrsig = bytes("{\"unused\":1}"), .linux_image = { .path = f->kernel, .size = 5000 },
                               .profiles = prof, .n_profiles = 2 };
        static const char *const want[] = { ".osrel", ".cmdline", ".linux", ".profile", ".pcrsig",
                                            ".profile", ".cmdline", ".pcrsig" };
        _cleanup_(tb_pe_freep) tb_pe *stub = NULL, *uki = NULL, *bad = NULL;
        tb_uki_profile wrong[2];
        size_t n_stub;

        assert_int_equal(tb_pe_open(STUB, &stub), 0);
        n_stub = tb_pe_n_sections(stub);
        assert_int_equal(tb_uki_assemble(&parts, &uki), 0);
        assert_int_equal(tb_pe_n_sections(uki), n_stub + ARRAY_SIZE(want));
        for (size_t i = 0; i < ARRAY_SIZE(want); i++)
                assert_string_equal(tb_pe_section_at(uki, n_stub + i)->name, want[i]);
        expect_section(uki, ".pcrsig", "{\"p\":0}"); /* the first: profile 0's, not the base's */

        memcpy(wrong, prof, sizeof(prof));
        wrong[0].cmdline = bytes("x"); /* profile 0 boots the base .cmdline */
        parts.profiles = wrong;
        assert_int_equal(tb_uki_assemble(&parts, &bad), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(sections_in_order_linux_last_and_signed, setup, teardown),
                cmocka_unit_test_setup_teardown(a_stub_that_has_the_section_already_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(kernel_release_is_the_first_word_of_the_version_string, setup, teardown),
                cmocka_unit_test_setup_teardown(sbat_is_merged_as_ukify_and_replaces_the_stubs, setup, teardown),
                cmocka_unit_test_setup_teardown(profiles_follow_the_base_each_with_its_own_pcrsig, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
