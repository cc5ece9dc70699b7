/* tests/unit/test-sdmeasure.c — systemd-measure's calculate and sign output, byte for byte: the
 * known answers are what Debian 12's systemd-measure 252.38 printed for the formats.md Appendix A.2
 * inputs (sign: Appendix A.3), and the whole verb run over section files and a crafted UKI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/sdmeasure.h"
#include "util/json.h"
#include "util/ossl.h"
#include "pcr-test-key.h"
#include "pe-image.h"
#include "tmpdir.h"

#define SHA1_SHA256 (TB_BANK_BIT(TB_BANK_SHA1) | TB_BANK_BIT(TB_BANK_SHA256))

/* systemd-measure calculate --linux=… --osrel=… --cmdline=… --initrd=… --pcrpkey=test-pub.pem
 * --bank=sha1 --bank=sha256 --phase=enter-initrd --phase= --phase=enter-initrd:leave-initrd */
static const char a2_text_stdout[] =
        "11:sha1=8e3b8f2330ff4452af8b843d76a160615e27c4b7\n"
        "11:sha256=490ac94432b96367cf6be243181d56c2e2b7c83e146154e900ba77fc7270a5cb\n"
        "11:sha1=83b4aca4ec559555f9d62b877f6a196c79b0df06\n"
        "11:sha256=bc7ed6dd5a5ee99f2045f8a448dedf13afc6462e03574033ddfa2b642538c48c\n"
        "11:sha1=8a758a8374fb4e0072604f850970d8f193addf63\n"
        "11:sha256=ee805ff57200b80e95e78ec1ee101a2499e8579f868f43871e9126d4ecc55c2f\n";
static const char a2_text_stderr[] =
        "# PCR[11] Phase <:>\n"
        "# PCR[11] Phase <enter-initrd>\n"
        "# PCR[11] Phase <enter-initrd:leave-initrd>\n";

/* The same inputs, --bank=sha384 --bank=sha512 --phase= --phase=enter-initrd --json=short */
static const char a2_json_short[] =
        "{\"sha384\":[{\"pcr\":11,\"hash\":\"96e35a031a009e7077c6a60e363172d1d8cbaed5a69a283579bf26ed29783ad74a4c568c"
        "ea0b46c9a38a31ee75cd71ed\"},{\"phase\":\"enter-initrd\",\"pcr\":11,\"hash\":\"0c90e1a6a9c5a1492840829da8c562ff"
        "b24568cc0c4e84aac5cda97416b9bb91fc626ffc834686d063b41a7e6cc5d88d\"}],\"sha512\":[{\"pcr\":11,\"hash\":\"70a13c"
        "ffb393178d7c16be601964628a608f6b6e3a3eb48f6eb12c47bc0d325d5aa15fff9a35d93103b997fe09b7d09cef3622f6136baf723f"
        "2200178f5304d4\"},{\"phase\":\"enter-initrd\",\"pcr\":11,\"hash\":\"786489e8e533f7c032a8ffc3d4f2bbd89995feaa57f8"
        "2e362db935a4ec4472dceaa185b943297ef17bbee77a43b96949c10c4bcbd92bb9718d1b359bb395fa0f\"}]}\n";

/* --bank=sha256 --phase=enter-initrd --json=pretty */
static const char a2_json_pretty[] =
        "{\n"
        "\t\"sha256\" : [\n"
        "\t\t{\n"
        "\t\t\t\"phase\" : \"enter-initrd\",\n"
        "\t\t\t\"pcr\" : 11,\n"
        "\t\t\t\"hash\" : \"bc7ed6dd5a5ee99f2045f8a448dedf13afc6462e03574033ddfa2b642538c48c\"\n"
        "\t\t}\n"
        "\t]\n"
        "}\n";

static const char a2_linux[] = "linux-kernel-payload", a2_osrel[] = "ID=test\nVERSION_ID=1\n",
                  a2_cmdline[] = "console=ttyS0 quiet", a2_initrd[] = "initrd-payload";

static tb_pcr11 *a2_inputs(unsigned banks) {
        tb_pcr11 *p = NULL;

        assert_int_equal(tb_pcr11_new(banks, TB_STUB_252, &p), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_LINUX, a2_linux, strlen(a2_linux)), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_OSREL, a2_osrel, strlen(a2_osrel)), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_CMDLINE, a2_cmdline, strlen(a2_cmdline)), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_INITRD, a2_initrd, strlen(a2_initrd)), 0);
        assert_int_equal(tb_pcr11_set_section_data(p, TB_UKI_PCRPKEY, test_pub_pem, strlen(test_pub_pem)), 0);
        return p;
}

static void assert_buf_string(const tb_buf *b, const char *want) {
        assert_int_equal(b->len, strlen(want));
        assert_memory_equal(b->data, want, b->len);
}

static void text_is_systemd_measures_phase_line_and_values(void **state) {
        static const char *const phases[] = { "", "enter-initrd", "enter-initrd:leave-initrd" };
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = a2_inputs(SHA1_SHA256);
        _cleanup_(tb_buf_freep) tb_buf comment = TB_BUF_INIT, values = TB_BUF_INIT;
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
                tb_digests v;

                assert_int_equal(tb_pcr11_value(p, phases[i], &v), 0);
                assert_int_equal(tb_sdmeasure_text(phases[i], SHA1_SHA256, &v, &comment, &values), 0);
        }
        assert_buf_string(&comment, a2_text_stderr);
        assert_buf_string(&values, a2_text_stdout);
}

static void calculate_json_is_byte_identical_short_and_pretty(void **state) {
        char *two[] = { (char *)"", (char *)"enter-initrd", NULL };
        char *one[] = { (char *)"enter-initrd", NULL };
        _cleanup_(tb_pcr11_freep) tb_pcr11 *big = a2_inputs(TB_BANK_BIT(TB_BANK_SHA384) | TB_BANK_BIT(TB_BANK_SHA512));
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p256 = a2_inputs(TB_BANK_BIT(TB_BANK_SHA256));
        _cleanup_(json_object_putp) struct json_object *j = NULL, *j256 = NULL;
        _cleanup_(tb_buf_freep) tb_buf a = TB_BUF_INIT, b = TB_BUF_INIT, c = TB_BUF_INIT, d = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_sdmeasure_calculate_json(big, two, &j), 0);
        assert_int_equal(tb_sdmeasure_json_text(j, TB_SDMEASURE_CALCULATE, TB_SDMEASURE_JSON_SHORT, true, &a), 0);
        assert_buf_string(&a, a2_json_short);
        /* auto: short unless on a terminal */
        assert_int_equal(tb_sdmeasure_json_text(j, TB_SDMEASURE_CALCULATE, TB_SDMEASURE_JSON_AUTO, false, &b), 0);
        assert_buf_string(&b, a2_json_short);

        assert_int_equal(tb_sdmeasure_calculate_json(p256, one, &j256), 0);
        assert_int_equal(tb_sdmeasure_json_text(j256, TB_SDMEASURE_CALCULATE, TB_SDMEASURE_JSON_PRETTY, false, &c), 0);
        assert_buf_string(&c, a2_json_pretty);
        assert_int_equal(tb_sdmeasure_json_text(j256, TB_SDMEASURE_CALCULATE, TB_SDMEASURE_JSON_AUTO, true, &d), 0);
        assert_buf_string(&d, a2_json_pretty);
}

/* sign always prints JSON: with --json=off short and without a newline, as systemd-measure 252;
 * calculate prints text then, which is not the JSON formatter's to write. */
static void json_off_means_text_for_calculate_and_no_newline_for_sign(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        _cleanup_(tb_buf_freep) tb_buf off = TB_BUF_INIT, def = TB_BUF_INIT, def_tty = TB_BUF_INIT, none = TB_BUF_INIT;
        (void)state;

        assert_non_null(o);
        assert_int_equal(json_object_object_add(o, "k", json_object_new_int(1)), 0);
        assert_int_equal(tb_sdmeasure_json_text(o, TB_SDMEASURE_SIGN, TB_SDMEASURE_JSON_OFF, true, &off), 0);
        assert_buf_string(&off, "{\"k\":1}");
        assert_int_equal(tb_sdmeasure_json_text(o, TB_SDMEASURE_SIGN, TB_SDMEASURE_JSON_DEFAULT, false, &def), 0);
        assert_buf_string(&def, "{\"k\":1}\n");
        assert_int_equal(tb_sdmeasure_json_text(o, TB_SDMEASURE_SIGN, TB_SDMEASURE_JSON_DEFAULT, true, &def_tty), 0);
        assert_buf_string(&def_tty, "{\n\t\"k\" : 1\n}\n");
        assert_int_equal(tb_sdmeasure_json_text(o, TB_SDMEASURE_CALCULATE, TB_SDMEASURE_JSON_OFF, false, &none), -EINVAL);
        assert_int_equal(tb_sdmeasure_json_text(o, TB_SDMEASURE_CALCULATE, TB_SDMEASURE_JSON_DEFAULT, false, &none),
                         -EINVAL);
        assert_int_equal(none.len, 0);
}

/* A whole run: section files in, OUT and COMMENTS captured. */
typedef struct fx {
        char dir[256];
        char linux_[300], osrel[300], cmdline[300], initrd[300], pcrpkey[300], priv[300];
        tb_sdmeasure_options o;
        char *out, *comments;
        size_t out_len, comments_len;
} fx;

static void fx_file(fx *f, char *path, const char *name, const void *data, size_t len) {
        tb_test_write(f->dir, name, data, len);
        snprintf(path, 300, "%s/%s", f->dir, name);
}

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "sdmeasure");
        fx_file(f, f->linux_, "linux", a2_linux, strlen(a2_linux));
        fx_file(f, f->osrel, "osrel", a2_osrel, strlen(a2_osrel));
        fx_file(f, f->cmdline, "cmdline", a2_cmdline, strlen(a2_cmdline));
        fx_file(f, f->initrd, "initrd", a2_initrd, strlen(a2_initrd));
        fx_file(f, f->pcrpkey, "pub.pem", test_pub_pem, strlen(test_pub_pem));
        fx_file(f, f->priv, "priv.pem", test_priv_pem, strlen(test_priv_pem));
        f->o.sections[TB_UKI_LINUX] = f->linux_;
        f->o.sections[TB_UKI_OSREL] = f->osrel;
        f->o.sections[TB_UKI_CMDLINE] = f->cmdline;
        f->o.sections[TB_UKI_INITRD] = f->initrd;
        f->o.sections[TB_UKI_PCRPKEY] = f->pcrpkey;
        f->o.stub_gen = TB_STUB_252; /* not the installed stub's: the known answers are 252's */
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        free(f->out);
        free(f->comments);
        return tb_test_fixture_teardown(state);
}

static int run(fx *f) {
        FILE *out, *comments;
        int r;

        free(f->out);
        free(f->comments);
        f->out = f->comments = NULL;
        out = open_memstream(&f->out, &f->out_len);
        comments = open_memstream(&f->comments, &f->comments_len);
        assert_non_null(out);
        assert_non_null(comments);
        r = tb_sdmeasure_run(&f->o, out, comments);
        assert_int_equal(fclose(out), 0);
        assert_int_equal(fclose(comments), 0);
        return r;
}

static void assert_out(const fx *f, const char *out, const char *comments) {
        assert_int_equal(f->out_len, strlen(out));
        assert_memory_equal(f->out, out, f->out_len);
        assert_int_equal(f->comments_len, strlen(comments));
        assert_memory_equal(f->comments, comments, f->comments_len);
}

static void calculate_reads_the_section_files_and_splits_phases_from_values(void **state) {
        fx *f = *state;
        char *phases[] = { (char *)"enter-initrd:leave-initrd", (char *)"", (char *)"enter-initrd" };

        f->o.banks = SHA1_SHA256;
        f->o.phases = phases;
        f->o.n_phases = ARRAY_SIZE(phases); /* sorted on the way: "" first */
        assert_int_equal(run(f), 0);
        assert_out(f, a2_text_stdout, a2_text_stderr);

        f->o.json = TB_SDMEASURE_JSON_OFF; /* the same text */
        assert_int_equal(run(f), 0);
        assert_out(f, a2_text_stdout, a2_text_stderr);

        phases[0] = (char *)"enter-initrd";
        f->o.n_phases = 1;
        f->o.banks = TB_BANK_BIT(TB_BANK_SHA256);
        f->o.json = TB_SDMEASURE_JSON_PRETTY;
        assert_int_equal(run(f), 0);
        assert_out(f, a2_json_pretty, "");
}

/* A section the stub does not measure changes nothing (a warning only); with 254 it counts. */
static void a_section_the_stub_does_not_measure_is_ignored(void **state) {
        fx *f = *state;
        char uname[300];
        char *phases[] = { (char *)"" };
        _cleanup_(freep) char *without = NULL;

        fx_file(f, uname, "uname", "6.1.0", 5);
        f->o.phases = phases;
        f->o.n_phases = 1;
        f->o.banks = TB_BANK_BIT(TB_BANK_SHA256);
        assert_int_equal(run(f), 0);
        without = strdup(f->out);
        assert_non_null(without);
        assert_string_equal(without, "11:sha256=490ac94432b96367cf6be243181d56c2e2b7c83e146154e900ba77fc7270a5cb\n");
        f->o.sections[TB_UKI_UNAME] = uname;
        assert_int_equal(run(f), 0);
        assert_string_equal(f->out, without);
        f->o.stub_gen = TB_STUB_254;
        assert_int_equal(run(f), 0);
        assert_string_not_equal(f->out, without);
}

static void sign_prints_appendix_a3_and_json_off_drops_the_newline(void **state) {
        fx *f = *state;
        char *phases[] = { (char *)"enter-initrd" };
        _cleanup_(freep) char *with_newline = NULL;

        f->o.verb = TB_SDMEASURE_SIGN;
        f->o.banks = TB_BANK_BIT(TB_BANK_SHA256);
        f->o.phases = phases;
        f->o.n_phases = 1;
        f->o.private_key = f->priv;
        f->o.json = TB_SDMEASURE_JSON_OFF;
        assert_int_equal(run(f), 0);
        assert_out(f, test_a3_sign_json, "");
        f->o.json = TB_SDMEASURE_JSON_DEFAULT; /* auto: short, OUT is no terminal */
        f->o.public_key = f->pcrpkey;         /* the same fingerprint as the derived one */
        assert_int_equal(run(f), 0);
        assert_int_equal(asprintf(&with_newline, "%s\n", test_a3_sign_json), (int)strlen(test_a3_sign_json) + 1);
        assert_out(f, with_newline, "");
}

static void write_pem(fx *f, char *path, const char *name, EVP_PKEY *k, bool private) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        char *data;
        long len;

        assert_non_null(bio);
        assert_int_equal(private ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(bio, k),
                         1);
        len = BIO_get_mem_data(bio, &data);
        assert_true(len > 0);
        fx_file(f, path, name, data, (size_t)len);
}

/* Refusals leave OUT empty: a missing section file, a key systemd cannot verify with, a public key
 * that is not the signing key's, a UKI that is not a PE image. */
static void bad_inputs_are_refused_before_any_output(void **state) {
        fx *f = *state;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        char ec_priv[300], ec_pub[300], notpe[300], missing[300];

        assert_non_null(ec);
        write_pem(f, ec_priv, "ec.pem", ec, true);
        write_pem(f, ec_pub, "ec.pub", ec, false);
        fx_file(f, notpe, "notpe.efi", "not a PE image at all", 21);
        snprintf(missing, sizeof(missing), "%s/missing", f->dir);

        f->o.sections[TB_UKI_INITRD] = missing;
        assert_int_equal(run(f), -ENOENT);
        assert_int_equal(f->out_len + f->comments_len, 0);
        f->o.sections[TB_UKI_INITRD] = f->initrd;

        f->o.verb = TB_SDMEASURE_SIGN;
        f->o.private_key = ec_priv;
        assert_int_equal(run(f), -EKEYREJECTED);
        assert_int_equal(f->out_len, 0);
        f->o.private_key = f->priv;
        f->o.public_key = ec_pub;
        assert_int_equal(run(f), -EINVAL);
        assert_int_equal(f->out_len, 0);

        f->o.verb = TB_SDMEASURE_CALCULATE;
        f->o.public_key = NULL;
        f->o.uki = notpe;
        assert_int_equal(run(f), -EBADMSG);
        assert_int_equal(f->out_len, 0);
}

/* --uki: the UKI's sections as the 252 stub finds them, and a section file overrides the UKI's. */
static void a_uki_gives_the_values_of_its_sections_and_files_override_them(void **state) {
        static const img_section s[] = {
                { ".text", 0x1000, 0x100, 0x200, 0x200, 0xcc },
                { ".linux", 0x2000, 0x300, 0x400, 0x400, 'k' }, /* VirtualSize bytes are measured */
                { ".cmdline", 0x3000, 0x20, 0x800, 0x200, 'c' },
        };
        fx *f = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        char uki[300], k[0x300], c[0x20], other[300];
        char *phases[] = { (char *)"" };
        _cleanup_(freep) char *from_uki = NULL;

        img_make(&img, 0x200, s, ARRAY_SIZE(s));
        fx_file(f, uki, "uki.efi", img.data, img.len);
        memset(k, 'k', sizeof(k));
        memset(c, 'c', sizeof(c));
        f->o.banks = TB_BANK_BIT(TB_BANK_SHA256);
        f->o.phases = phases;
        f->o.n_phases = 1;

        memset(f->o.sections, 0, sizeof(f->o.sections));
        f->o.uki = uki;
        assert_int_equal(run(f), 0);
        from_uki = strdup(f->out);
        assert_non_null(from_uki);

        fx_file(f, f->linux_, "k", k, sizeof(k));
        fx_file(f, f->cmdline, "c", c, sizeof(c));
        f->o.uki = NULL;
        f->o.sections[TB_UKI_LINUX] = f->linux_;
        f->o.sections[TB_UKI_CMDLINE] = f->cmdline;
        assert_int_equal(run(f), 0);
        assert_string_equal(f->out, from_uki);

        fx_file(f, other, "other-cmdline", "quiet", 5);
        f->o.uki = uki;
        f->o.sections[TB_UKI_LINUX] = NULL;
        f->o.sections[TB_UKI_CMDLINE] = other;
        assert_int_equal(run(f), 0);
        assert_string_not_equal(f->out, from_uki);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(text_is_systemd_measures_phase_line_and_values),
                cmocka_unit_test(calculate_json_is_byte_identical_short_and_pretty),
                cmocka_unit_test(json_off_means_text_for_calculate_and_no_newline_for_sign),
                cmocka_unit_test_setup_teardown(calculate_reads_the_section_files_and_splits_phases_from_values, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(a_section_the_stub_does_not_measure_is_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(sign_prints_appendix_a3_and_json_off_drops_the_newline, setup, teardown),
                cmocka_unit_test_setup_teardown(bad_inputs_are_refused_before_any_output, setup, teardown),
                cmocka_unit_test_setup_teardown(a_uki_gives_the_values_of_its_sections_and_files_override_them, setup,
                                                teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
