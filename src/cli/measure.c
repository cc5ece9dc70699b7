/* src/cli/measure.c — trustboot measure: predict PCR 11 and sign PCR policies, the way
 * systemd-measure 252 prints them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/fileio.h"
#include "util/json.h"
#include "util/log.h"
#include "util/ossl.h"
#include "measure/pcr.h"
#include "pe/pe.h"
#include "pe/signer.h"

#include "util/codec.h"

static const char synopsis[] =
        "Usage: trustboot measure calculate|sign [OPTIONS]\n"
        "\n"
        "Predict the PCR 11 values systemd-stub and systemd-pcrphase produce for a unified kernel\n"
        "image (calculate), or sign the TPM2 PCR policies for them (sign), computed in software.\n"
        "Output is the same as systemd-measure's.\n"
        "\n";

/* JSON_DEFAULT: text for calculate, auto for sign. */
enum json_mode { JSON_OFF, JSON_AUTO, JSON_SHORT, JSON_PRETTY, JSON_DEFAULT };

struct options {
        const char *verb;
        const char *sections[_TB_UKI_SECTION_MAX];
        const char *uki;
        const char *profile; /* with --uki: digits select a profile; else the .profile section file */
        int uki_profile;     /* -1: the default boot (profile 0) */
        unsigned banks;
        char **phases;
        size_t n_phases;
        const char *private_key;
        const char *public_key;
        int stub_gen; /* 0: auto */
        enum json_mode json;
};

static int parse_json_mode(const char *s, enum json_mode *ret) {
        static const char *const names[] = {
                [JSON_OFF] = "off", [JSON_AUTO] = "auto", [JSON_SHORT] = "short", [JSON_PRETTY] = "pretty"
        };

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (enum json_mode)i;
                        return 0;
                }
        return -EINVAL;
}

/* Value errors are one line on stderr (no usage hint), exit 2, as systemd-measure's. */
static int parse_bank(const char *cmd, const char *arg, void *target) {
        int r = tb_bank_from_string(arg);

        (void)cmd;
        if (r < 0) {
                tb_err("unknown PCR bank '%s' (known: sha1, sha256, sha384, sha512)", arg);
                return TB_EXIT_USAGE;
        }
        *(unsigned *)target |= TB_BANK_BIT(r);
        return 0;
}

static int parse_phase(const char *cmd, const char *arg, void *target) {
        struct options *o = target;
        _cleanup_(freep) char *norm = NULL;
        const char *bad = NULL;
        char **l;
        int r;

        (void)cmd;
        r = tb_pcr_phase_normalize(arg, &norm, &bad);
        if (r == -EINVAL) {
                tb_err("--phase=%s: unknown boot phase word '%.*s'", arg, (int)strcspn(bad, ":"), bad);
                return TB_EXIT_USAGE;
        }
        if (r < 0)
                return tb_log_errno(r, "--phase"), TB_EXIT_FAILURE;
        l = realloc(o->phases, (o->n_phases + 1) * sizeof(char *));
        if (!l)
                return tb_log_oom(), TB_EXIT_FAILURE;
        o->phases = l;
        o->phases[o->n_phases++] = (char *)arg;
        return 0;
}

static int parse_stub_version(const char *cmd, const char *arg, void *target) {
        uint64_t v;

        (void)cmd;
        if (strcmp(arg, "auto") == 0) {
                *(int *)target = 0;
                return 0;
        }
        if (cli_parse_u64(arg, 252, 9999, &v) < 0) {
                tb_err("--stub-version=%s: expected a systemd version 252 … %d, or auto", arg, TB_STUB_NEWEST);
                return TB_EXIT_USAGE;
        }
        if (tb_stub_gen_from_version(v) < 0) {
                tb_err("--stub-version=%s: newer than the newest stub generation trustboot can predict (%d)", arg,
                       TB_STUB_NEWEST);
                return TB_EXIT_USAGE;
        }
        *(int *)target = tb_stub_gen_from_version(v);
        return 0;
}

static int parse_json(const char *cmd, const char *arg, void *target) {
        (void)cmd;
        if (!arg) { /* -j */
                *(enum json_mode *)target = JSON_AUTO;
                return 0;
        }
        if (parse_json_mode(arg, target) < 0) {
                tb_err("--json=%s: expected off, short, pretty or auto", arg);
                return TB_EXIT_USAGE;
        }
        return 0;
}

/* Returns CLI_CONTINUE, or the exit status to return at once. */
static int parse_args(int argc, char **argv, struct options *o) {
        const cli_option options[] = {
                CLI_OPT_GROUP("Section contents (each FILE holds the exact bytes of the section):"),
                CLI_OPT_STRING("linux", 0, "FILE", &o->sections[TB_UKI_LINUX], ".linux (required unless --uki is given)"),
                CLI_OPT_STRING("osrel", 0, "FILE", &o->sections[TB_UKI_OSREL], ".osrel"),
                CLI_OPT_STRING("cmdline", 0, "FILE", &o->sections[TB_UKI_CMDLINE], ".cmdline"),
                CLI_OPT_STRING("initrd", 0, "FILE", &o->sections[TB_UKI_INITRD], ".initrd"),
                CLI_OPT_STRING("ucode", 0, "FILE", &o->sections[TB_UKI_UCODE], ".ucode   (measured by stub 256+)"),
                CLI_OPT_STRING("splash", 0, "FILE", &o->sections[TB_UKI_SPLASH], ".splash"),
                CLI_OPT_STRING("dtb", 0, "FILE", &o->sections[TB_UKI_DTB], ".dtb"),
                CLI_OPT_STRING("uname", 0, "FILE", &o->sections[TB_UKI_UNAME], ".uname   (measured by stub 254+)"),
                CLI_OPT_STRING("sbat", 0, "FILE", &o->sections[TB_UKI_SBAT], ".sbat    (measured by stub 254+)"),
                CLI_OPT_STRING("pcrpkey", 0, "FILE", &o->sections[TB_UKI_PCRPKEY], ".pcrpkey"),
                CLI_OPT_STRING("profile", 0, "FILE|N", &o->profile,
                               ".profile (measured by stub 257+); with --uki, a number N\n"
                               "predicts profile N of a multi-profile UKI (booted with \"@N\")"),
                CLI_OPT_STRING("dtbauto", 0, "FILE", &o->sections[TB_UKI_DTBAUTO], ".dtbauto (measured by stub 257+)"),
                CLI_OPT_STRING("hwids", 0, "FILE", &o->sections[TB_UKI_HWIDS], ".hwids   (measured by stub 257+)"),
                CLI_OPT_STRING("uki", 0, "FILE.efi", &o->uki, "take the sections from a built UKI (the options above override)"),
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_CALL("bank", 0, "DIGEST", parse_bank, &o->banks,
                             "sha1, sha256, sha384, sha512 (repeatable; default: all four)"),
                CLI_OPT_CALL("phase", 0, "PHASE", parse_phase, o,
                             "colon-separated boot phase words (repeatable; '' = sections only;\n"
                             "default: enter-initrd … enter-initrd:leave-initrd:sysinit:ready)"),
                CLI_OPT_CALL("stub-version", 0, "V", parse_stub_version, &o->stub_gen,
                             "predict for a stub of this systemd version (252 … 258) or auto\n"
                             "(default: read from the UKI's stub, else the installed stub,\n"
                             "else 252); needed for a UKI whose stub is newer than 258"),
                CLI_OPT_CALL("stub-generation", 0, "V", parse_stub_version, &o->stub_gen, "same as --stub-version"),
                CLI_OPT_STRING("private-key", 0, "FILE", &o->private_key, "PEM RSA private key to sign with (sign)"),
                CLI_OPT_STRING("public-key", 0, "FILE", &o->public_key,
                               "PEM public key for the fingerprint (default: from the private key)"),
                CLI_OPT_CALL("json", 0, "MODE", parse_json, &o->json, "off, short, pretty, auto (auto: pretty on a terminal)"),
                CLI_OPT_CALL(NULL, 'j', NULL, parse_json, &o->json, "same as --json=auto"),
                {},
        };
        const cli_command cmd = { "measure", synopsis, options, NULL };
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind >= argc)
                return cli_usage_error(cmd.name, "expected a verb: calculate or sign");
        o->verb = argv[optind];
        if (strcmp(o->verb, "calculate") != 0 && strcmp(o->verb, "sign") != 0)
                return cli_usage_error(cmd.name, "unknown verb '%s' (calculate or sign)", o->verb);
        if (optind + 1 < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind + 1]);
        o->uki_profile = -1;
        if (o->profile && o->uki && *o->profile && strspn(o->profile, "0123456789") == strlen(o->profile)) {
                uint64_t v;

                if (cli_parse_u64(o->profile, 0, 4096, &v) < 0) {
                        tb_err("--profile=%s: not a profile number 0 … 4096", o->profile);
                        return TB_EXIT_USAGE;
                }
                o->uki_profile = (int)v;
        } else if (o->profile)
                o->sections[TB_UKI_PROFILE] = o->profile;
        if (!o->sections[TB_UKI_LINUX] && !o->uki) {
                tb_err("--linux= or --uki= is required");
                return TB_EXIT_USAGE;
        }
        if (strcmp(o->verb, "sign") == 0 && !o->private_key) {
                tb_err("sign needs --private-key=");
                return TB_EXIT_USAGE;
        }
        if (o->banks == 0)
                o->banks = TB_BANKS_ALL;
        return CLI_CONTINUE;
}

/* The stub generation to predict for: the UKI's stub (a forced one only where trustboot cannot tell
 * it: a stub newer than it knows or without a version), else the forced one, else the installed
 * stub's. */
static int stub_gen(const struct options *o, const tb_pe *uki) {
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

static int load_inputs(const struct options *o, tb_pcr11 **ret) {
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
        r = tb_pcr11_new(o->banks, (enum tb_stub_gen)gen, &p);
        if (r < 0)
                return tb_log_errno(r, "cannot set up PCR 11 prediction");
        if (uki) {
                unsigned profile = o->uki_profile < 0 ? 0 : (unsigned)o->uki_profile;

                r = tb_pcr11_set_from_pe_profile(p, uki, profile);
                if (r == -ENOENT)
                        return tb_fail(r, "%s: --profile=%u: the UKI has %u profiles (0 … %u)", o->uki, profile,
                                       MAX(tb_uki_n_profiles(uki), 1u), MAX(tb_uki_n_profiles(uki), 1u) - 1);
                if (r == -EOPNOTSUPP)
                        return tb_fail(r, "%s: --profile=%u: a systemd-stub %d has no profiles (they need 257 or later)",
                                       o->uki, profile, (int)tb_pcr11_gen(p));
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read the UKI sections", o->uki);
                if (!tb_pcr11_has_section(p, TB_UKI_LINUX) && !o->sections[TB_UKI_LINUX]) {
                        tb_err("%s: no .linux section; not a UKI", o->uki);
                        return -EBADMSG;
                }
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

static bool json_pretty(enum json_mode m) {
        return m == JSON_PRETTY || (m == JSON_AUTO && isatty(STDOUT_FILENO));
}

static int print_json(struct json_object *o, enum json_mode mode, bool newline) {
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        int r;

        r = tb_json_format(o, json_pretty(mode) ? TB_JSON_PRETTY : TB_JSON_SHORT, &out);
        if (r >= 0 && newline)
                r = tb_buf_append(&out, "\n", 1);
        if (r < 0)
                return tb_log_errno(r, "cannot format JSON");
        if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)
                return tb_log_errno(negative_errno(), "cannot write output");
        return 0;
}

static int json_add_calc(struct json_object *root, enum tb_bank b, const char *phase, const uint8_t *value) {
        struct json_object *arr = NULL, *e;
        _cleanup_(freep) char *hex = tb_hex_string(value, tb_bank_size(b));

        if (!hex)
                return tb_log_oom();
        if (!json_object_object_get_ex(root, tb_bank_name(b), &arr)) {
                arr = json_object_new_array();
                if (!arr || json_object_object_add(root, tb_bank_name(b), arr) != 0)
                        return json_object_put(arr), tb_log_oom();
        }
        e = json_object_new_object();
        if (!e)
                return tb_log_oom();
        if ((*phase && json_object_object_add(e, "phase", json_object_new_string(phase)) != 0) ||
            json_object_object_add(e, "pcr", json_object_new_int(TB_PCR_KERNEL_BOOT)) != 0 ||
            json_object_object_add(e, "hash", json_object_new_string(hex)) != 0 ||
            json_object_array_add(arr, e) != 0)
                return json_object_put(e), tb_log_oom();
        return 0;
}

static int calculate(const struct options *o, const tb_pcr11 *p, char *const *phases) {
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        int r;

        if (o->json != JSON_OFF && o->json != JSON_DEFAULT) {
                root = json_object_new_object();
                if (!root)
                        return tb_log_oom();
        }
        for (char *const *ph = phases; *ph; ph++) {
                tb_digests v;

                r = tb_pcr11_value(p, *ph, &v);
                if (r < 0)
                        return tb_log_errno(r, "cannot compute PCR 11");
                if (root) {
                        TB_FOREACH_BANK(b, o->banks) {
                                r = json_add_calc(root, b, *ph, v.d[b]);
                                if (r < 0)
                                        return tb_log_errno(r, "cannot build JSON");
                        }
                        continue;
                }
                /* The phase goes to stderr and the values to stdout, so that stdout stays parseable. */
                fflush(stdout);
                fprintf(stderr, "# PCR[%d] Phase <%s>\n", TB_PCR_KERNEL_BOOT, **ph ? *ph : ":");
                fflush(stderr);
                TB_FOREACH_BANK(b, o->banks) {
                        _cleanup_(freep) char *hex = tb_hex_string(v.d[b], tb_bank_size(b));

                        if (!hex)
                                return tb_log_oom();
                        printf("%d:%s=%s\n", TB_PCR_KERNEL_BOOT, tb_bank_name(b), hex);
                }
        }
        if (root)
                return print_json(root, o->json, true);
        if (fflush(stdout) != 0)
                return tb_log_errno(negative_errno(), "cannot write output");
        return 0;
}

static int load_key(const char *path, bool private, EVP_PKEY **ret) {
        int r;

        if (private)
                return tb_private_key_load(path, ret); /* a PEM file or a pkcs11: URI; logs */
        r = tb_pubkey_load(path, ret);

        if (r == -EBADMSG)
                tb_err("%s: not a PEM %s key", path, private ? "private" : "public");
        else if (r < 0)
                tb_log_errno(r, "%s: cannot read %s key", path, private ? "private" : "public");
        return r;
}

static int sign(const struct options *o, const tb_pcr11 *p, char *const *phases, size_t n_phases) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL, *pub = NULL;
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        int r;

        _cleanup_(freep) char *shown = tb_key_display_name(o->private_key);

        if (!shown)
                return tb_log_oom();
        r = load_key(o->private_key, true, &key);
        if (r < 0)
                return r;
        if (tb_pcr_check_key(key) < 0) {
                tb_err("%s: not an RSA key; systemd verifies PCR policy signatures with RSA only", shown);
                return -EKEYREJECTED;
        }
        if (o->public_key) {
                r = load_key(o->public_key, false, &pub);
                if (r < 0)
                        return r;
                if (EVP_PKEY_eq(pub, key) != 1) {
                        tb_err("%s: not the public key of %s", o->public_key, shown);
                        return -EINVAL;
                }
        }
        r = tb_pcr11_sign(p, phases, n_phases, key, pub, &root);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot sign the PCR policies", shown);
        /* sign always prints JSON; given --json=off, systemd-measure 252 prints it short, without newline. */
        if (o->json == JSON_OFF)
                return print_json(root, JSON_SHORT, false);
        return print_json(root, o->json == JSON_DEFAULT ? JSON_AUTO : o->json, true);
}

int cmd_measure(int argc, char **argv) {
        _cleanup_(tb_pcr11_freep) tb_pcr11 *p = NULL;
        _cleanup_(tb_strv_freep) char **phases = NULL;
        struct options o = { .json = JSON_DEFAULT };
        size_t n_phases;
        int r;

        r = parse_args(argc, argv, &o);
        if (r != CLI_CONTINUE) {
                free(o.phases);
                return r;
        }
        r = tb_pcr_phase_list(o.phases, o.n_phases, &phases, &n_phases);
        free(o.phases);
        if (r < 0)
                return tb_log_errno(r, "cannot prepare the phase list"), TB_EXIT_FAILURE;
        r = load_inputs(&o, &p);
        if (r < 0)
                return TB_EXIT_FAILURE;
        if (strcmp(o.verb, "sign") == 0)
                r = sign(&o, p, phases, n_phases);
        else
                r = calculate(&o, p, phases);
        return r < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
}
