/* sdmeasure.c — systemd-measure's calculate and sign: read the sections, predict, print. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "measure/sdmeasure.h"
#include "pe/pe.h"
#include "pe/signer.h"
#include "util/codec.h"
#include "util/json.h"
#include "util/log.h"
#include "util/ossl.h"
#include "util/strset.h"

int tb_sdmeasure_text(const char *phase, unsigned banks, const tb_digests *v, tb_buf *comment, tb_buf *values) {
        char pcr[16];
        int r;

        (void)snprintf(pcr, sizeof(pcr), "%d", TB_PCR_KERNEL_BOOT);
        if ((r = tb_buf_append_str(comment, "# PCR[")) < 0 || (r = tb_buf_append_str(comment, pcr)) < 0 ||
            (r = tb_buf_append_str(comment, "] Phase <")) < 0 || (r = tb_buf_append_str(comment, *phase ? phase : ":")) < 0 ||
            (r = tb_buf_append_str(comment, ">\n")) < 0)
                return r;
        TB_FOREACH_BANK(b, banks) {
                _cleanup_(freep) char *hex = tb_hex_string(v->d[b], tb_bank_size(b));

                if (!hex)
                        return -ENOMEM;
                if ((r = tb_buf_append_str(values, pcr)) < 0 || (r = tb_buf_append_str(values, ":")) < 0 ||
                    (r = tb_buf_append_str(values, tb_bank_name(b))) < 0 || (r = tb_buf_append_str(values, "=")) < 0 ||
                    (r = tb_buf_append_str(values, hex)) < 0 || (r = tb_buf_append_str(values, "\n")) < 0)
                        return r;
        }
        return 0;
}

static int json_add_value(struct json_object *root, enum tb_bank b, const char *phase, const uint8_t *value) {
        struct json_object *arr = NULL, *e;
        _cleanup_(freep) char *hex = tb_hex_string(value, tb_bank_size(b));

        if (!hex)
                return -ENOMEM;
        if (!json_object_object_get_ex(root, tb_bank_name(b), &arr)) {
                arr = json_object_new_array();
                if (!arr || json_object_object_add(root, tb_bank_name(b), arr) != 0)
                        return json_object_put(arr), -ENOMEM;
        }
        e = json_object_new_object();
        if (!e)
                return -ENOMEM;
        if ((*phase && json_object_object_add(e, "phase", json_object_new_string(phase)) != 0) ||
            json_object_object_add(e, "pcr", json_object_new_int(TB_PCR_KERNEL_BOOT)) != 0 ||
            json_object_object_add(e, "hash", json_object_new_string(hex)) != 0 || json_object_array_add(arr, e) != 0)
                return json_object_put(e), -ENOMEM;
        return 0;
}

int tb_sdmeasure_calculate_json(const tb_pcr11 *p, char *const *phases, struct json_object **ret) {
        _cleanup_(json_object_putp) struct json_object *root = json_object_new_object();
        int r;

        if (!root)
                return -ENOMEM;
        for (char *const *ph = phases; *ph; ph++) {
                tb_digests v;

                r = tb_pcr11_value(p, *ph, &v);
                if (r < 0)
                        return r;
                TB_FOREACH_BANK(b, tb_pcr11_banks(p)) {
                        r = json_add_value(root, b, *ph, v.d[b]);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(root);
        return 0;
}

int tb_sdmeasure_json_text(struct json_object *o, enum tb_sdmeasure_verb verb, enum tb_sdmeasure_json mode, bool tty,
                           tb_buf *out) {
        bool newline = true;
        int r;

        if (verb == TB_SDMEASURE_CALCULATE && (mode == TB_SDMEASURE_JSON_DEFAULT || mode == TB_SDMEASURE_JSON_OFF))
                return -EINVAL;
        if (mode == TB_SDMEASURE_JSON_DEFAULT)
                mode = TB_SDMEASURE_JSON_AUTO;
        else if (mode == TB_SDMEASURE_JSON_OFF) { /* sign always prints JSON; 252 prints it so */
                mode = TB_SDMEASURE_JSON_SHORT;
                newline = false;
        }
        r = tb_json_format(o, mode == TB_SDMEASURE_JSON_PRETTY || (mode == TB_SDMEASURE_JSON_AUTO && tty) ? TB_JSON_PRETTY
                                                                                                            : TB_JSON_SHORT,
                           out);
        if (r >= 0 && newline)
                r = tb_buf_append(out, "\n", 1);
        return r;
}

static int flush(FILE *f) {
        if (fflush(f) != 0)
                return tb_log_errno(negative_errno(), "cannot write output");
        return 0;
}

static int write_all(FILE *f, const tb_buf *b) {
        if (b->len > 0 && fwrite(b->data, 1, b->len, f) != b->len)
                return tb_log_errno(negative_errno(), "cannot write output");
        return flush(f);
}

static int print_json(struct json_object *o, const tb_sdmeasure_options *opt, FILE *out) {
        _cleanup_(tb_buf_freep) tb_buf text = TB_BUF_INIT;
        int r;

        r = tb_sdmeasure_json_text(o, opt->verb, opt->json, isatty(fileno(out)) == 1, &text);
        if (r < 0)
                return tb_log_errno(r, "cannot format JSON");
        return write_all(out, &text);
}

/* The stub generation to predict for: the UKI's stub (a forced one only where trustboot cannot tell
 * it: a stub newer than it knows or without a version), else the forced one, else the installed
 * stub's. */
static int stub_gen(const tb_sdmeasure_options *o, const tb_pe *uki) {
        if (uki)
                return tb_stub_gen_resolve(uki, o->stub_gen, "--stub-version"); /* logs */
        return o->stub_gen ? o->stub_gen : tb_stub_gen_installed();
}

static int add_section_file(tb_pcr11 *p, enum tb_uki_section s, const char *path) {
        _cleanup_(closep) int fd = -1;
        int r;

        if (!tb_stub_measures(tb_pcr11_gen(p), s)) {
                tb_warn("%s: a systemd %d stub does not measure %s; ignored", path, (int)tb_pcr11_gen(p),
                        tb_uki_section_name(s));
                return 0;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", path);
        r = tb_pcr11_set_section_fd(p, s, fd);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        return 0;
}

static int load_inputs(const tb_sdmeasure_options *o, tb_pcr11 **ret) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
        _cleanup_(tb_pe_freep) tb_pe *uki = NULL;
        int gen, r;

        if (o->uki) {
                r = tb_pe_open(o->uki, &uki); /* logs what is wrong */
                if (r < 0)
                        return r;
        }
        gen = stub_gen(o, uki);
        if (gen < 0)
                return gen;
        r = tb_pcr11_new(o->banks ? o->banks : TB_BANKS_ALL, (enum tb_stub_gen)gen, &p);
        if (r < 0)
                return tb_log_errno(r, "cannot set up PCR 11 prediction");
        if (uki) {
                r = tb_pcr11_set_from_pe_profile(p, uki, o->uki_profile);
                if (r == -ENOENT)
                        return tb_fail(r, "%s: --profile=%u: the UKI has %u profiles (0 … %u)", o->uki, o->uki_profile,
                                       MAX(tb_uki_n_profiles(uki), 1u), MAX(tb_uki_n_profiles(uki), 1u) - 1);
                if (r == -EOPNOTSUPP)
                        return tb_fail(r, "%s: --profile=%u: a systemd-stub %d has no profiles (they need 257 or later)",
                                       o->uki, o->uki_profile, (int)tb_pcr11_gen(p));
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read the UKI sections", o->uki);
                if (!tb_pcr11_has_section(p, TB_UKI_LINUX) && !o->sections[TB_UKI_LINUX])
                        return tb_fail(-EBADMSG, "%s: no .linux section; not a UKI", o->uki);
        }
        for (enum tb_uki_section s = 0; s < _TB_UKI_SECTION_MAX; s++) {
                if (!o->sections[s])
                        continue;
                r = add_section_file(p, s, o->sections[s]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

static int calculate(const tb_sdmeasure_options *o, const tb_pcr11 *p, char *const *phases, FILE *out, FILE *comments) {
        int r;

        if (o->json != TB_SDMEASURE_JSON_OFF && o->json != TB_SDMEASURE_JSON_DEFAULT) {
                _cleanup_(json_object_putp) struct json_object *root = NULL;

                r = tb_sdmeasure_calculate_json(p, phases, &root);
                if (r < 0)
                        return tb_log_errno(r, "cannot compute PCR 11");
                return print_json(root, o, out);
        }
        for (char *const *ph = phases; *ph; ph++) {
                _cleanup_(tb_buf_freep) tb_buf comment = TB_BUF_INIT, values = TB_BUF_INIT;
                tb_digests v;

                r = tb_pcr11_value(p, *ph, &v);
                if (r < 0)
                        return tb_log_errno(r, "cannot compute PCR 11");
                r = tb_sdmeasure_text(*ph, tb_pcr11_banks(p), &v, &comment, &values);
                if (r < 0)
                        return tb_log_oom();
                /* The phase goes to COMMENTS and the values to OUT, each flushed before the other
                 * is written, so that a terminal shows them interleaved and OUT stays parseable.
                 * The phase lines are for the reader, OUT carries the data: failing to write them
                 * fails nothing. */
                r = flush(out);
                if (r < 0)
                        return r;
                (void)fwrite(comment.data, 1, comment.len, comments);
                (void)fflush(comments);
                r = write_all(out, &values);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_public_key(const char *path, EVP_PKEY **ret) {
        int r = tb_pubkey_load(path, ret);

        if (r == -EBADMSG)
                return tb_fail(r, "%s: not a PEM public key", path);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read public key", path);
        return 0;
}

static int sign(const tb_sdmeasure_options *o, const tb_pcr11 *p, char *const *phases, size_t n_phases, FILE *out) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *pub = NULL;
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        _cleanup_(freep) char *shown = tb_key_display_name(o->private_key);
        int r;

        if (!shown)
                return tb_log_oom();
        r = tb_private_key_load(o->private_key, &key); /* a PEM file or a pkcs11: URI; logs */
        if (r < 0)
                return r;
        if (tb_pcr_check_key(key) < 0)
                return tb_fail(-EKEYREJECTED, "%s: not an RSA key; systemd verifies PCR policy signatures with RSA only",
                               shown);
        if (o->public_key) {
                r = load_public_key(o->public_key, &pub);
                if (r < 0)
                        return r;
                if (EVP_PKEY_eq(pub, key) != 1)
                        return tb_fail(-EINVAL, "%s: not the public key of %s", o->public_key, shown);
        }
        r = tb_pcr11_sign(p, phases, n_phases, key, pub, &root);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot sign the PCR policies", shown);
        return print_json(root, o, out);
}

int tb_sdmeasure_run(const tb_sdmeasure_options *o, FILE *out, FILE *comments) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
        _cleanup_(tb_strv_freep) char **phases = NULL;
        size_t n_phases;
        int r;

        r = tb_pcr_phase_list(o->phases, o->n_phases, &phases, &n_phases);
        if (r < 0)
                return tb_log_errno(r, "cannot prepare the phase list");
        r = load_inputs(o, &p);
        if (r < 0)
                return r;
        if (o->verb == TB_SDMEASURE_SIGN)
                return sign(o, p, phases, n_phases, out);
        return calculate(o, p, phases, out, comments);
}
