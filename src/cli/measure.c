/* src/cli/measure.c — trustboot measure: predict PCR 11 and sign PCR policies, the way
 * systemd-measure 252 prints them (measure/sdmeasure does the work). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "measure/pcr.h"
#include "measure/sdmeasure.h"
#include "util/log.h"

static const char synopsis[] =
        "Usage: trustboot measure calculate|sign [OPTIONS]\n"
        "\n"
        "Predict the PCR 11 values systemd-stub and systemd-pcrphase produce for a unified kernel\n"
        "image (calculate), or sign the TPM2 PCR policies for them (sign), computed in software.\n"
        "Output is the same as systemd-measure's.\n"
        "\n";

/* What the command line fills in: the library's options, and what only parsing needs. */
struct options {
        tb_sdmeasure_options m;
        char **phases;       /* the --phase arguments, for m.phases */
        const char *profile; /* with --uki: digits select a profile; else the .profile section file */
};

static int parse_json_mode(const char *s, enum tb_sdmeasure_json *ret) {
        static const char *const names[] = {
                [TB_SDMEASURE_JSON_OFF] = "off",
                [TB_SDMEASURE_JSON_AUTO] = "auto",
                [TB_SDMEASURE_JSON_SHORT] = "short",
                [TB_SDMEASURE_JSON_PRETTY] = "pretty",
        };

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (names[i] && strcmp(s, names[i]) == 0) {
                        *ret = (enum tb_sdmeasure_json)i;
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
        l = realloc(o->phases, (o->m.n_phases + 1) * sizeof(char *));
        if (!l)
                return tb_log_oom(), TB_EXIT_FAILURE;
        o->phases = l;
        o->phases[o->m.n_phases++] = (char *)arg;
        o->m.phases = o->phases;
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
                *(enum tb_sdmeasure_json *)target = TB_SDMEASURE_JSON_AUTO;
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
                CLI_OPT_STRING("linux", 0, "FILE", &o->m.sections[TB_UKI_LINUX], ".linux (required unless --uki is given)"),
                CLI_OPT_STRING("osrel", 0, "FILE", &o->m.sections[TB_UKI_OSREL], ".osrel"),
                CLI_OPT_STRING("cmdline", 0, "FILE", &o->m.sections[TB_UKI_CMDLINE], ".cmdline"),
                CLI_OPT_STRING("initrd", 0, "FILE", &o->m.sections[TB_UKI_INITRD], ".initrd"),
                CLI_OPT_STRING("ucode", 0, "FILE", &o->m.sections[TB_UKI_UCODE], ".ucode   (measured by stub 256+)"),
                CLI_OPT_STRING("splash", 0, "FILE", &o->m.sections[TB_UKI_SPLASH], ".splash"),
                CLI_OPT_STRING("dtb", 0, "FILE", &o->m.sections[TB_UKI_DTB], ".dtb"),
                CLI_OPT_STRING("uname", 0, "FILE", &o->m.sections[TB_UKI_UNAME], ".uname   (measured by stub 254+)"),
                CLI_OPT_STRING("sbat", 0, "FILE", &o->m.sections[TB_UKI_SBAT], ".sbat    (measured by stub 254+)"),
                CLI_OPT_STRING("pcrpkey", 0, "FILE", &o->m.sections[TB_UKI_PCRPKEY], ".pcrpkey"),
                CLI_OPT_STRING("profile", 0, "FILE|N", &o->profile,
                               ".profile (measured by stub 257+); with --uki, a number N\n"
                               "predicts profile N of a multi-profile UKI (booted with \"@N\")"),
                CLI_OPT_STRING("dtbauto", 0, "FILE", &o->m.sections[TB_UKI_DTBAUTO], ".dtbauto (measured by stub 257+)"),
                CLI_OPT_STRING("hwids", 0, "FILE", &o->m.sections[TB_UKI_HWIDS], ".hwids   (measured by stub 257+)"),
                CLI_OPT_STRING("uki", 0, "FILE.efi", &o->m.uki, "take the sections from a built UKI (the options above override)"),
                CLI_OPT_GROUP("Options:"),
                CLI_OPT_CALL("bank", 0, "DIGEST", parse_bank, &o->m.banks,
                             "sha1, sha256, sha384, sha512 (repeatable; default: all four)"),
                CLI_OPT_CALL("phase", 0, "PHASE", parse_phase, o,
                             "colon-separated boot phase words (repeatable; '' = sections only;\n"
                             "default: enter-initrd … enter-initrd:leave-initrd:sysinit:ready)"),
                CLI_OPT_CALL("stub-version", 0, "V", parse_stub_version, &o->m.stub_gen,
                             "predict for a stub of this systemd version (252 … 258) or auto\n"
                             "(default: read from the UKI's stub, else the installed stub,\n"
                             "else 252); needed for a UKI whose stub is newer than 258"),
                CLI_OPT_CALL("stub-generation", 0, "V", parse_stub_version, &o->m.stub_gen, "same as --stub-version"),
                CLI_OPT_STRING("private-key", 0, "FILE", &o->m.private_key, "PEM RSA private key to sign with (sign)"),
                CLI_OPT_STRING("public-key", 0, "FILE", &o->m.public_key,
                               "PEM public key for the fingerprint (default: from the private key)"),
                CLI_OPT_CALL("json", 0, "MODE", parse_json, &o->m.json, "off, short, pretty, auto (auto: pretty on a terminal)"),
                CLI_OPT_CALL(NULL, 'j', NULL, parse_json, &o->m.json, "same as --json=auto"),
                {},
        };
        const cli_command cmd = { "measure", synopsis, options, NULL };
        const char *verb;
        int r;

        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind >= argc)
                return cli_usage_error(cmd.name, "expected a verb: calculate or sign");
        verb = argv[optind];
        if (strcmp(verb, "calculate") == 0)
                o->m.verb = TB_SDMEASURE_CALCULATE;
        else if (strcmp(verb, "sign") == 0)
                o->m.verb = TB_SDMEASURE_SIGN;
        else
                return cli_usage_error(cmd.name, "unknown verb '%s' (calculate or sign)", verb);
        if (optind + 1 < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind + 1]);
        if (o->profile && o->m.uki && *o->profile && strspn(o->profile, "0123456789") == strlen(o->profile)) {
                uint64_t v;

                if (cli_parse_u64(o->profile, 0, 4096, &v) < 0) {
                        tb_err("--profile=%s: not a profile number 0 … 4096", o->profile);
                        return TB_EXIT_USAGE;
                }
                o->m.uki_profile = (unsigned)v;
        } else if (o->profile)
                o->m.sections[TB_UKI_PROFILE] = o->profile;
        if (!o->m.sections[TB_UKI_LINUX] && !o->m.uki) {
                tb_err("--linux= or --uki= is required");
                return TB_EXIT_USAGE;
        }
        if (o->m.verb == TB_SDMEASURE_SIGN && !o->m.private_key) {
                tb_err("sign needs --private-key=");
                return TB_EXIT_USAGE;
        }
        return CLI_CONTINUE;
}

int cmd_measure(int argc, char **argv) {
        struct options o = { .m.json = TB_SDMEASURE_JSON_DEFAULT };
        int r;

        r = parse_args(argc, argv, &o);
        if (r == CLI_CONTINUE)
                r = tb_sdmeasure_run(&o.m, stdout, stderr) < 0 ? TB_EXIT_FAILURE : TB_EXIT_OK;
        free(o.phases);
        return r;
}
