/* tests/unit/test-status.c — the trust report against a node made of files: EFI variables in a
 * directory, an ESP with an entry booting a UKI signed by the db certificate whose .pcrsig holds
 * the policy of the PCR 11 value in a sysfs-like file. Consistent only when all of it holds; each
 * break (PCR 11, db, Secure Boot, setup mode, the booted entry) is named as a problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "measure/pcr.h"
#include "medium/uki.h"
#include "node/status.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/json.h"
#include "tmpdir.h"
#include "testcert.h"

#define NV_BS_RT 0x7u
#define PCR11_HEX "7f3e0b5c2f0e5a6b4e6a5b0f1d2c3b4a59687766554433221100ffeeddccbbaa"

typedef struct fx {
        char dir[256], efivars[400], esp[400], pcr[400];
        tb_signer signer;
        tb_status_options o;
} fx;

static void put(const char *base, const char *rel, const char *text) {
        char p[600];

        snprintf(p, sizeof(p), "%s/%s", base, rel);
        assert_int_equal(tb_write_file_atomic(p, text, strlen(text), 0644, true), 0);
}

static void set_bool(const fx *f, const char *name, uint8_t v) {
        assert_int_equal(tb_efivar_write(f->efivars, name, &TB_GUID_EFI_GLOBAL_VARIABLE, NV_BS_RT, &v, 1), 0);
}

static void set_db(const fx *f, X509 *cert) {
        tb_buf der = TB_BUF_INIT, esl = TB_BUF_INIT;

        assert_int_equal(tb_cert_to_der(cert, &der), 0);
        assert_int_equal(tb_esl_append_x509(&esl, &TB_GUID_OWNER_CUSTOM, der.data, der.len), 0);
        assert_int_equal(tb_efivar_write(f->efivars, "db", &TB_GUID_IMAGE_SECURITY_DATABASE, NV_BS_RT, esl.data, esl.len), 0);
        tb_buf_free(&der);
        tb_buf_free(&esl);
}

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        uint8_t value[32], pol[32];
        char pol_hex[65], pcrsig[256], uki[600];
        tb_uki_parts parts = { .stub_path = TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub" };
        int fd;

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "status");
        snprintf(f->efivars, sizeof(f->efivars), "%s/efivars", f->dir);
        snprintf(f->esp, sizeof(f->esp), "%s/esp", f->dir);
        snprintf(f->pcr, sizeof(f->pcr), "%s/pcr-sha256", f->dir);
        tb_test_mkdir(f->dir, "efivars");
        tb_test_mkdir(f->dir, "esp");
        tb_test_mkdir(f->esp, "EFI");
        tb_test_mkdir(f->esp, "EFI/trustboot");
        tb_test_mkdir(f->esp, "loader");
        tb_test_mkdir(f->esp, "loader/entries");
        tb_test_mkdir(f->dir, "pcr-sha256");
        put(f->pcr, "11", PCR11_HEX "\n");

        /* The running UKI: signed by db, its .pcrsig holding the policy of PCR 11 as it is. */
        assert_int_equal(tb_hex_decode(PCR11_HEX, value, sizeof(value)), 0);
        assert_int_equal(tb_pcr_policy_digest(TB_BANK_SHA256, value, pol), 0);
        tb_hex_encode(pol, sizeof(pol), pol_hex);
        snprintf(pcrsig, sizeof(pcrsig), "{\"sha256\":[{\"pcrs\":[11],\"pol\":\"%s\",\"sig\":\"AA==\"}]}", pol_hex);
        parts.pcrsig = (tb_pe_source){ .data = pcrsig, .size = strlen(pcrsig) };
        parts.osrel = (tb_pe_source){ .data = "ID=test\n", .size = 8 };
        f->signer.key = EVP_EC_gen("P-256");
        f->signer.cert = tb_test_cert(f->signer.key, "status db", 3600);
        snprintf(uki, sizeof(uki), "%s/EFI/trustboot/active.efi", f->esp);
        fd = open(uki, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(tb_uki_write(&parts, &f->signer, fd, uki), 0);
        close(fd);
        put(f->esp, "loader/entries/active.conf", "title trustboot\nefi /EFI/trustboot/active.efi\n");
        put(f->esp, "loader/entries/passive+2-1.conf", "title trustboot (fallback)\nefi /EFI/trustboot/passive.efi\n");

        set_bool(f, "SecureBoot", 1);
        set_bool(f, "SetupMode", 0);
        set_db(f, f->signer.cert);
        assert_int_equal(tb_efivar_write_string(f->efivars, "LoaderEntrySelected", &TB_GUID_LOADER, "active.conf"), 0);

        f->o = (tb_status_options){ .efivars = f->efivars, .esp = f->esp, .pcr_dir = f->pcr };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_signer_done(&f->signer);
        return tb_test_fixture_teardown(state);
}

/* Collects; checks CONSISTENT and that some problem contains WANT (NULL: none at all). */
static json_object *collect(const fx *f, bool consistent, const char *want) {
        json_object *j = NULL, *problems;
        bool ok = !consistent, found = false;

        assert_int_equal(tb_status_collect(&f->o, &j, &ok), 0);
        assert_non_null(j);
        assert_true(json_object_object_get_ex(j, "problems", &problems));
        for (size_t i = 0; i < json_object_array_length(problems); i++)
                if (want && strstr(json_object_get_string(json_object_array_get_idx(problems, i)), want))
                        found = true;
        if (ok != consistent || (want && !found) || (!want && json_object_array_length(problems) > 0))
                fail_msg("consistent %d, want %d; problems %s", ok, consistent, json_object_get_string(problems));
        return j;
}

static void a_node_where_everything_holds_is_consistent(void **state) {
        fx *f = *state;
        json_object *j = collect(f, true, NULL), *v, *e;

        assert_true(json_object_object_get_ex(j, "booted_entry", &v));
        assert_string_equal(json_object_get_string(v), "active.conf");
        assert_true(json_object_object_get_ex(j, "running_uki", &v));
        assert_true(json_object_object_get_ex(v, "allowed_by_db", &e));
        assert_true(json_object_get_boolean(e));
        assert_true(json_object_object_get_ex(j, "pcr11", &v));
        assert_true(json_object_object_get_ex(v, "signed_policy_met", &e));
        assert_true(json_object_get_boolean(e));
        assert_true(json_object_object_get_ex(v, "sha256", &e));
        assert_string_equal(json_object_get_string(e), PCR11_HEX);
        assert_true(json_object_object_get_ex(j, "variables", &v));
        assert_true(json_object_object_get_ex(v, "db", &v));
        assert_true(json_object_object_get_ex(v, "certificates", &v));
        assert_int_equal(json_object_array_length(v), 1);
        assert_true(json_object_object_get_ex(j, "entries", &v));
        assert_int_equal(json_object_array_length(v), 2);
        json_object_put(j);
}

static void another_pcr11_value_is_a_problem(void **state) {
        fx *f = *state;

        put(f->pcr, "11", "0000000000000000000000000000000000000000000000000000000000000000\n");
        json_object_put(collect(f, false, "PCR 11 meets none"));
        put(f->pcr, "11", "not hex\n");
        json_object_put(collect(f, false, "cannot read PCR 11"));
}

static void a_uki_db_does_not_allow_is_a_problem(void **state) {
        fx *f = *state;
        EVP_PKEY *other = EVP_EC_gen("P-256");
        X509 *cert = tb_test_cert(other, "someone else", 3600);

        set_db(f, cert);
        json_object_put(collect(f, false, "not allowed by db"));
        X509_free(cert);
        EVP_PKEY_free(other);
}

static void secure_boot_off_or_setup_mode_is_a_problem(void **state) {
        fx *f = *state;

        set_bool(f, "SetupMode", 1);
        json_object_put(collect(f, false, "setup mode"));
        set_bool(f, "SetupMode", 0);
        set_bool(f, "SecureBoot", 0);
        json_object_put(collect(f, false, "Secure Boot is off"));
}

static void an_unknown_booted_entry_is_a_problem(void **state) {
        fx *f = *state;

        assert_int_equal(tb_efivar_write_string(f->efivars, "LoaderEntrySelected", &TB_GUID_LOADER, "gone.conf"), 0);
        json_object_put(collect(f, false, "gone.conf is not on"));
        assert_int_equal(tb_efivar_write(f->efivars, "LoaderEntrySelected", &TB_GUID_LOADER, 0, NULL, 0), 0);
        json_object_put(collect(f, false, "LoaderEntrySelected is not set"));
}

/* The text `trustboot status` prints, from a report with every kind of item: what is missing
 * reads "-" or "unknown". */
static void the_text_report_has_one_labelled_line_per_item(void **state) {
        static const char report[] =
                "{\"secure_boot\":true,\"setup_mode\":false,"
                "\"variables\":{\"PK\":{\"set\":true,\"hashes\":\"0\",\"certificates\":[{\"subject\":\"CN=u-PK\","
                "\"owner\":\"o-1\",\"sha256\":\"00112233445566778899aabbccddeeff\",\"not_after\":\"2027\"}]},"
                "\"dbx\":{\"set\":false}},"
                "\"booted_entry\":\"active.conf\","
                "\"running_uki\":{\"path\":\"/efi/EFI/a.efi\",\"allowed_by_db\":true,\"revoked_by_dbx\":false},"
                "\"pcr11\":{\"sha256\":\"ab\",\"signed_policy_met\":null},"
                "\"volumes\":[{\"device\":\"/dev/vda3\",\"name\":\"persistent\",\"open\":true,\"pcr_keys\":\"1\","
                "\"pcr_key_matches_running_uki\":true,\"srk_token\":false}],"
                "\"entries\":[{\"id\":\"active+1-2.conf\",\"state\":\"bad\",\"tries_left\":\"1\",\"tries_done\":\"2\","
                "\"title\":\"A\"},{\"id\":\"recovery.conf\",\"state\":\"good\",\"title\":\"R\"}],"
                "\"problems\":[\"p1\",\"p2\"]}";
        static const char want[] =
                "Secure Boot:      yes\n"
                "Setup mode:       no\n"
                "PK                set, 1 certificate(s), 0 hash(es)\n"
                "                    CN=u-PK (owner o-1, sha256 0011223344556677…, until 2027)\n"
                "dbx               not set, 0 certificate(s), - hash(es)\n"
                "Booted entry:     active.conf\n"
                "Running UKI:      /efi/EFI/a.efi: allowed by db: yes, revoked by dbx: no\n"
                "PCR 11 (sha256):  ab, signed policy met: unknown\n"
                "Volume:           /dev/vda3 (persistent): open: yes, PCR keys: 1, bound to the running UKI's PCR key: "
                "yes, SRK token: no\n"
                "Entry:            active+1-2.conf              bad           tries left 1, done 2 A\n"
                "Entry:            recovery.conf                good          R\n"
                "Consistent:       no\n"
                "  problem: p1\n"
                "  problem: p2\n";
        _cleanup_(json_object_putp) struct json_object *j = json_tokener_parse(report);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        (void)state;

        assert_non_null(j);
        assert_non_null(out);
        tb_status_print_text(j, out);
        assert_int_equal(fclose(out), 0);
        assert_string_equal(text, want);
        assert_int_equal(tb_status_n_problems(j), 2);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(a_node_where_everything_holds_is_consistent, setup, teardown),
                cmocka_unit_test_setup_teardown(another_pcr11_value_is_a_problem, setup, teardown),
                cmocka_unit_test_setup_teardown(a_uki_db_does_not_allow_is_a_problem, setup, teardown),
                cmocka_unit_test_setup_teardown(secure_boot_off_or_setup_mode_is_a_problem, setup, teardown),
                cmocka_unit_test_setup_teardown(an_unknown_booted_entry_is_a_problem, setup, teardown),
                cmocka_unit_test(the_text_report_has_one_labelled_line_per_item),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
