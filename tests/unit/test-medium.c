/* tests/unit/test-medium.c — the build-uki pipeline: Kairos' entry names, the option defaults, a
 * whole ESP tree from a tiny root file system (each UKI signed, with the PCR key and its policy),
 * and refusals that leave the output directory as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "medium/medium.h"
#include "pe/authenticode.h"
#include "pe/pe.h"
#include "util/fileio.h"
#include "util/json.h"
#include "testcert.h"
#include "tmpdir.h"

typedef struct fx {
        char dir[256], root[400], out[400], sb_key[400], sb_cert[400], pcr_key[400], ec_key[400];
        X509 *cert;
} fx;

static void put(const char *dir, const char *name, const void *data, size_t len, mode_t mode) {
        char p[600];

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        assert_int_equal(tb_write_file_new(p, data, len, mode), 0);
}

static void put_key(EVP_PKEY *key, const char *path) {
        tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_key_to_pem(key, &b), 0);
        assert_int_equal(tb_write_file_new(path, b.data, b.len, 0600), 0);
        tb_buf_wipe(&b);
}

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        const char *dirs[] = { "etc", "boot", "usr", "usr/bin", "proc", "dev", "tmp" };
        EVP_PKEY *db = EVP_EC_gen("P-256"), *pcr = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
        tb_buf stub = TB_BUF_INIT, pem = TB_BUF_INIT;
        char p[600];

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "medium");
        snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
        snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
        assert_int_equal(mkdir(f->root, 0755), 0);
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                snprintf(p, sizeof(p), "%s/%s", f->root, dirs[i]);
                assert_int_equal(mkdir(p, 0755), 0);
        }
        put(f->root, "etc/os-release", "ID=synthetic\nVERSION_ID=1.0\n", 28, 0644);
        put(f->root, "usr/bin/hello", "#!/bin/sh\necho hello\n", 21, 0755);
        /* Any PE stands in for the kernel: the structure is what is tested. */
        assert_int_equal(tb_read_file(TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub", 1 << 22, &stub), 0);
        put(f->root, "boot/vmlinuz", stub.data, stub.len, 0644);

        snprintf(f->sb_key, sizeof(f->sb_key), "%s/db.key", f->dir);
        snprintf(f->sb_cert, sizeof(f->sb_cert), "%s/db.pem", f->dir);
        snprintf(f->pcr_key, sizeof(f->pcr_key), "%s/pcr.key", f->dir);
        snprintf(f->ec_key, sizeof(f->ec_key), "%s/ec.key", f->dir);
        put_key(db, f->sb_key);
        put_key(pcr, f->pcr_key);
        put_key(ec, f->ec_key);
        f->cert = tb_test_cert(db, "medium test db", 86400L * 365);
        assert_int_equal(tb_cert_to_pem(f->cert, &pem), 0);
        assert_int_equal(tb_write_file_new(f->sb_cert, pem.data, pem.len, 0644), 0);

        EVP_PKEY_free(db);
        EVP_PKEY_free(pcr);
        EVP_PKEY_free(ec);
        tb_buf_free(&stub);
        tb_buf_free(&pem);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_test_tmpdir_remove(f->dir);
        X509_free(f->cert);
        free(f);
        return 0;
}

static void options(const fx *f, tb_medium_options *o, char *source, size_t size) {
        tb_medium_options_init(o);
        snprintf(source, size, "dir:%s", f->root);
        o->source = source;
        o->output_dir = f->out;
        o->sb_key = f->sb_key;
        o->sb_cert = f->sb_cert;
        o->pcr_key = f->pcr_key;
        o->epoch = 1700000000;
        o->compression = TB_INITRD_NONE;
        o->init = "/usr/bin/hello";
}

static void entry_names_follow_kairos(void **state) {
        static const struct {
                const char *base, *cmdline, *want;
        } cases[] = {
                { "norole", "install-mode rd.debug", "norole_install-mode_rd.debug" },
                { "norole", "  Console=ttyS0,115200  quiet", "norole_console_ttys0_115200_quiet" },
                { "norole", "a=/b/ ", "norole_a_b" },
                { "norole", "", "norole" },
                { "My Entry", "", "My Entry" }, /* the base is taken as given */
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *s = NULL;

                assert_int_equal(tb_medium_entry_name(cases[i].base, cases[i].cmdline, &s), 0);
                assert_string_equal(s, cases[i].want);
                free(s);
        }
}

static void types_and_defaults(void **state) {
        tb_medium_type t = TB_MEDIUM_UKI;
        tb_medium_options o;
        (void)state;

        assert_int_equal(tb_medium_type_from_string("iso", &t), 0);
        assert_int_equal(t, TB_MEDIUM_ISO);
        assert_int_equal(tb_medium_type_from_string("container", &t), 0);
        assert_int_equal(t, TB_MEDIUM_CONTAINER);
        assert_int_equal(tb_medium_type_from_string("uki", &t), 0);
        assert_int_equal(t, TB_MEDIUM_UKI);
        assert_int_equal(tb_medium_type_from_string("ISO", &t), -EINVAL);
        assert_int_equal(tb_medium_type_from_string("", &t), -EINVAL);

        tb_medium_options_init(&o);
        assert_int_equal(o.type, TB_MEDIUM_UKI);
        assert_string_equal(o.branding, "trustboot");
        assert_int_equal(o.enroll, TB_ENROLL_IF_SAFE);
        assert_int_equal(o.compression, TB_INITRD_ZSTD);
        assert_int_equal(o.efi_size_warn, 1024u << 20);
}

static void an_esp_tree_with_signed_ukis_bound_to_the_pcr_key(void **state) {
        fx *f = *state;
        tb_medium_options o;
        char source[500], p[900], *output = NULL;
        _cleanup_(tb_pe_freep) tb_pe *uki = NULL;
        tb_buf conf = TB_BUF_INIT, pkey = TB_BUF_INIT, want = TB_BUF_INIT;
        EVP_PKEY *pcr = NULL;

        options(f, &o, source, sizeof(source));
        o.extra_cmdlines[o.n_extra++] = "rd.debug";
        assert_int_equal(tb_medium_build(&o, &output), 0);
        assert_non_null(output);
        assert_string_equal(output, f->out); /* the ESP tree goes into the output directory */

        snprintf(p, sizeof(p), "%s/EFI/BOOT/BOOTX64.EFI", output);
        assert_true(tb_path_exists(p));
        snprintf(p, sizeof(p), "%s/loader/entries/norole_install-mode_rd.debug.conf", output);
        assert_true(tb_path_exists(p));
        snprintf(p, sizeof(p), "%s/loader/entries/norole.conf", output);
        assert_int_equal(tb_read_file(p, 1 << 16, &conf), 0);
        assert_non_null(memmem(conf.data, conf.len, "efi /EFI/trustboot/norole.efi\n", 30));

        snprintf(p, sizeof(p), "%s/EFI/trustboot/norole.efi", output);
        assert_int_equal(tb_pe_open(p, &uki), 0);
        assert_int_equal(tb_authenticode_verify(uki, f->cert), 1);
        assert_non_null(tb_pe_find_section(uki, ".initrd"));
        assert_non_null(tb_pe_find_section(uki, ".pcrsig"));
        assert_string_equal(tb_pe_section_at(uki, tb_pe_n_sections(uki) - 1)->name, ".linux");
        /* .pcrpkey is the PCR key's public half. */
        assert_int_equal(tb_pe_section_read(uki, tb_pe_find_section(uki, ".pcrpkey"), 1 << 16, &pkey), 0);
        assert_int_equal(tb_private_key_load(f->pcr_key, &pcr), 0);
        assert_int_equal(tb_pubkey_to_pem(pcr, &want), 0);
        assert_int_equal(pkey.len, want.len);
        assert_memory_equal(pkey.data, want.data, want.len);

        EVP_PKEY_free(pcr);
        tb_buf_free(&conf);
        tb_buf_free(&pkey);
        tb_buf_free(&want);
        free(output);
}

/* Where the regular file NAME (or, starting with '*', a name containing the rest) of the tar at
 * OFF of FD keeps its data: one ustar header block after the header's position (names here are
 * short: no pax record in front). */
static bool tar_member(int fd, uint64_t off, const char *name, uint64_t *ret_off, uint64_t *ret_size) {
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        bool found = false;
        int dup_fd = dup(fd);

        assert_true(dup_fd >= 0);
        assert_true(lseek(dup_fd, (off_t)off, SEEK_SET) >= 0);
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_fd(a, dup_fd, 10240), ARCHIVE_OK);
        while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK)
                if (strcmp(archive_entry_pathname(e), name) == 0 ||
                    (name[0] == '*' && strstr(archive_entry_pathname(e), name + 1))) {
                        *ret_size = (uint64_t)archive_entry_size(e);
                        *ret_off = off + (uint64_t)archive_read_header_position(a) + 512;
                        found = true;
                }
        archive_read_free(a);
        close(dup_fd);
        return found;
}

/* -t container: one image tar in the output directory; in its layer every UKI, signed where it
 * lies, verifies against the db certificate, and the initrd (the same in both) is in each. */
static void a_container_image_whose_ukis_verify_where_they_lie(void **state) {
        fx *f = *state;
        tb_medium_options o;
        char source[500], *output = NULL;
        const char *ukis[] = { "EFI/trustboot/norole.efi", "EFI/trustboot/norole_install-mode_rd.debug.efi" };
        uint64_t layer_off = 0, layer_size = 0;
        int fd;

        options(f, &o, source, sizeof(source));
        o.type = TB_MEDIUM_CONTAINER;
        o.extra_cmdlines[o.n_extra++] = "rd.debug";
        assert_int_equal(tb_medium_build(&o, &output), 0);
        assert_non_null(output);
        assert_non_null(strstr(output, "/synthetic-1.0-uki.tar"));
        fd = open(output, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(tar_member(fd, 0, "*/layer.tar", &layer_off, &layer_size));
        assert_int_equal(layer_off, 512);
        for (size_t i = 0; i < 2; i++) {
                _cleanup_(tb_pe_freep) tb_pe *uki = NULL;
                uint64_t off, size;

                assert_true(tar_member(fd, layer_off, ukis[i], &off, &size));
                assert_int_equal(tb_pe_open_fd_range(fd, off, size, ukis[i], &uki), 0);
                assert_int_equal(tb_authenticode_verify(uki, f->cert), 1);
                assert_non_null(tb_pe_find_section(uki, ".initrd"));
        }
        close(fd);
        free(output);
}

static void refusals_leave_no_output_directory(void **state) {
        fx *f = *state;
        tb_medium_options o;
        char source[500], *output = NULL;

        /* systemd verifies PCR policy signatures with RSA only. */
        options(f, &o, source, sizeof(source));
        o.pcr_key = f->ec_key;
        assert_int_equal(tb_medium_build(&o, &output), -EKEYREJECTED);
        assert_null(output);
        assert_false(tb_path_exists(f->out));

        /* Two -c that differ only in what the name folds away would overwrite each other. */
        options(f, &o, source, sizeof(source));
        o.extra_cmdlines[o.n_extra++] = "a=b";
        o.extra_cmdlines[o.n_extra++] = "a b";
        assert_int_equal(tb_medium_build(&o, &output), -EEXIST);
        assert_false(tb_path_exists(f->out));

        /* The db key of another certificate. */
        options(f, &o, source, sizeof(source));
        o.sb_key = f->ec_key;
        assert_int_equal(tb_medium_build(&o, &output), -EKEYREJECTED);
        assert_false(tb_path_exists(f->out));
}

static void copy_in(const char *from, const char *dir, const char *name) {
        tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_read_file(from, 1 << 20, &b), 0);
        put(dir, name, b.data, b.len, 0600);
        tb_buf_wipe(&b);
}

/* build-uki -k KEYDIR: the signing keys and the enrollment keys come from the key set. */
static void build_and_push_signs_with_a_key_set(void **state) {
        fx *f = *state;
        _cleanup_(tb_medium_outcome_done) tb_medium_outcome res = {};
        _cleanup_(json_object_putp) json_object *j = NULL;
        _cleanup_(tb_pe_freep) tb_pe *uki = NULL;
        tb_medium_options o;
        tb_medium_run run = {};
        char source[500], keys[500], p[900], want[1000];

        snprintf(keys, sizeof(keys), "%s/keys", f->dir);
        assert_int_equal(mkdir(keys, 0700), 0);
        copy_in(f->sb_key, keys, "db.key");
        copy_in(f->sb_cert, keys, "db.pem");
        copy_in(f->pcr_key, keys, "tpm2-pcr-private.pem");
        for (const char *const *a = (const char *const[]){ "PK.auth", "KEK.auth", "db.auth", NULL }; *a; a++)
                put(keys, *a, *a, strlen(*a), 0644);
        options(f, &o, source, sizeof(source));
        o.sb_key = o.sb_cert = o.pcr_key = NULL;
        run.keys_dir = keys;
        assert_int_equal(tb_medium_build_and_push(&o, &run, &res), 0);
        assert_string_equal(res.output, f->out);
        assert_null(res.pushed);
        snprintf(p, sizeof(p), "%s/EFI/trustboot/norole.efi", f->out);
        assert_int_equal(tb_pe_open(p, &uki), 0);
        assert_int_equal(tb_authenticode_verify(uki, f->cert), 1);
        snprintf(p, sizeof(p), "%s/loader/keys/auto/KEK.auth", f->out); /* --public-keys defaults to KEYDIR */
        assert_true(tb_path_exists(p));

        /* The summary: no pull (a dir: source), no push. */
        j = tb_medium_outcome_json(&res);
        assert_non_null(j);
        snprintf(want, sizeof(want), "{\"output\":\"%s\"}", f->out);
        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), want);
}

static void build_and_push_refuses_a_bad_key_set_before_building(void **state) {
        fx *f = *state;
        tb_medium_outcome res = { .output = (char *)"untouched" };
        tb_medium_options o;
        tb_medium_run run = {};
        char source[500], keys[500];

        snprintf(keys, sizeof(keys), "%s/keys", f->dir);
        assert_int_equal(mkdir(keys, 0700), 0);
        put(keys, "db.pkcs11", "file:///nowhere\n", 16, 0644); /* not a pkcs11: URI */
        options(f, &o, source, sizeof(source));
        run.keys_dir = keys;
        assert_int_equal(tb_medium_build_and_push(&o, &run, &res), -EBADMSG);
        assert_string_equal(res.output, "untouched");
        assert_false(tb_path_exists(f->out));
}

static void the_summary_names_output_then_pushed(void **state) {
        tb_medium_outcome res = { .output = (char *)"out/x.tar", .pushed = (char *)"r.example/x@sha256:ab" };
        _cleanup_(json_object_putp) json_object *j = tb_medium_outcome_json(&res);
        (void)state;

        assert_non_null(j);
        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                            "{\"output\":\"out/x.tar\",\"pushed\":\"r.example/x@sha256:ab\"}");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(entry_names_follow_kairos),
                cmocka_unit_test(types_and_defaults),
                cmocka_unit_test_setup_teardown(an_esp_tree_with_signed_ukis_bound_to_the_pcr_key, setup, teardown),
                cmocka_unit_test_setup_teardown(a_container_image_whose_ukis_verify_where_they_lie, setup, teardown),
                cmocka_unit_test_setup_teardown(refusals_leave_no_output_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(build_and_push_signs_with_a_key_set, setup, teardown),
                cmocka_unit_test_setup_teardown(build_and_push_refuses_a_bad_key_set_before_building, setup, teardown),
                cmocka_unit_test(the_summary_names_output_then_pushed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
