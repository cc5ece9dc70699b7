/* options.h — declarative command-line options: one table per command gives both the parsing
 * (getopt_long underneath) and the --help text, in the spirit of git's parse-options. Adding an
 * option is one line in the command's table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What an option does with its argument. */
typedef enum cli_option_kind {
        CLI_END = 0, /* the zeroed entry that ends a table */
        CLI_GROUP,   /* no option: a heading in --help ("Options:") */
        CLI_FLAG,    /* sets the bool *target to true */
        CLI_STRING,  /* stores the argument in the const char **target (the last one given wins) */
        CLI_UINT,    /* parses a whole decimal number within [min, max] into the unsigned *target */
        CLI_APPEND,  /* appends the argument to the cli_list *target (repeatable, at most list->max) */
        CLI_CALL,    /* calls fn(command, argument (NULL without), target) */
} cli_option_kind;

/* Parses ARG of an option; returns 0, or the exit status after printing the one error line. */
typedef int (*cli_option_fn)(const char *command, const char *arg, void *target);

typedef struct cli_option {
        cli_option_kind kind;
        const char *name; /* long name without "--"; NULL: short only */
        int short_name;   /* 0: long only */
        const char *arg;  /* the argument's name in --help; NULL: the option takes no argument */
        void *target;
        cli_option_fn fn;          /* CLI_CALL */
        uint64_t min, max;         /* CLI_UINT */
        const char *help;          /* may contain '\n' for continuation lines */
} cli_option;

/* A repeatable option's values: an array of MAX slots, N of them used. */
typedef struct cli_list {
        const char **v;
        size_t *n;
        size_t max;
} cli_list;

#define CLI_OPT_GROUP(title) { .kind = CLI_GROUP, .help = (title) }
#define CLI_OPT_FLAG(long_, short_, target_, help_) \
        { .kind = CLI_FLAG, .name = (long_), .short_name = (short_), .target = (target_), .help = (help_) }
#define CLI_OPT_STRING(long_, short_, arg_, target_, help_) \
        { .kind = CLI_STRING, .name = (long_), .short_name = (short_), .arg = (arg_), .target = (target_), .help = (help_) }
#define CLI_OPT_UINT(long_, short_, arg_, target_, min_, max_, help_)                                          \
        { .kind = CLI_UINT, .name = (long_), .short_name = (short_), .arg = (arg_), .target = (target_), \
          .min = (min_), .max = (max_), .help = (help_) }
/* VALUES is an array, N a size_t lvalue counting its used slots. */
#define CLI_OPT_APPEND(long_, short_, arg_, values, n_, help_)                                          \
        { .kind = CLI_APPEND, .name = (long_), .short_name = (short_), .arg = (arg_),                    \
          .target = &(cli_list){ (values), &(n_), sizeof(values) / sizeof((values)[0]) }, .help = (help_) }
#define CLI_OPT_CALL(long_, short_, arg_, fn_, target_, help_) \
        { .kind = CLI_CALL, .name = (long_), .short_name = (short_), .arg = (arg_), .fn = (fn_), .target = (target_), .help = (help_) }

/* Options several commands share, declared once. */
#define CLI_OPT_ESP(target) CLI_OPT_STRING("esp", 0, "DIR", target, "the mounted ESP (default /efi)")
#define CLI_OPT_EFIVARS(target) \
        CLI_OPT_STRING("efivars", 0, "DIR", target, "EFI variables directory (default /sys/firmware/efi/efivars)")
#define CLI_OPT_TPM2_DEVICE(target) \
        CLI_OPT_STRING("tpm2-device", 0, "DEVICE", target, "auto (default), a device node, or DRIVER:PARAMS")
#define CLI_OPT_PCR_PUBLIC_KEY(target, help) CLI_OPT_STRING("pcr-public-key", 0, "PEM", target, help)
#define CLI_OPT_JSON(target, help) CLI_OPT_FLAG("json", 0, target, help)
/* The initrd's compression: a tb_initrd_compression, and an int level (-1: the default). */
#define CLI_OPT_COMPRESSION(target) \
        CLI_OPT_CALL("compression", 0, "ALG", cli_parse_compression, target, "zstd (default), xz, gzip or none")
#define CLI_OPT_COMPRESSION_LEVEL(target) \
        CLI_OPT_CALL("compression-level", 0, "N", cli_parse_compression_level, target, "compression level 0..22 (default 6)")
/* --expiry-warn-days N: warn when a certificate in use expires within N days (pe/signer.h). */
#define CLI_OPT_EXPIRY_WARN_DAYS                                                                          \
        CLI_OPT_CALL("expiry-warn-days", 0, "N", cli_parse_expiry_warn_days, NULL,                        \
                     "warn when a certificate in use expires within N days (default 30)")
int cli_parse_expiry_warn_days(const char *command, const char *arg, void *target);
/* What the initrd leaves out (rootfs/exclude.h): VALUES an array of patterns, N its count. */
#define CLI_OPT_EXCLUDE(values, n_)                                                                        \
        { .kind = CLI_CALL, .name = "exclude", .arg = "PATTERN", .fn = cli_parse_exclude,                  \
          .target = &(cli_list){ (values), &(n_), sizeof(values) / sizeof((values)[0]) },                 \
          .help = "leave PATTERN out of the initrd (gitignore-style: 'name', '/anchored',\n"                \
                  "'dir/', '*.a', 'usr/**/x', '!taken-back'; repeatable; nothing excluded is read)" }
#define CLI_OPT_SLIM(target)                                                                          \
        CLI_OPT_FLAG("slim", 0, target, "leave out docs, man/info pages, locales other than the configured\n" \
                                        "ones, static libraries and headers, package-manager caches")
int cli_parse_exclude(const char *command, const char *arg, void *target);
int cli_parse_compression(const char *command, const char *arg, void *target);
int cli_parse_compression_level(const char *command, const char *arg, void *target);

typedef struct cli_command {
        const char *name;           /* names the command in usage errors: "trustboot NAME: ..." */
        const char *synopsis;       /* --help text before the options: usage lines and description */
        const cli_option *options;  /* ends with an all-zero entry; -h/--help is implicit */
        const char *epilog;         /* --help text after the options, or NULL */
        bool in_order;              /* stop at the first operand (the global options before COMMAND) */
} cli_command;

/* cli_parse() returns this when the command goes on with its operands at argv[optind]. */
#define CLI_CONTINUE (-1)

/* Parses ARGV (argv[0] is the command) against C's table with GNU argument permutation. Returns
 * CLI_CONTINUE, or the exit status to return at once: TB_EXIT_OK after printing --help, or the
 * status of a usage error (one line + hint) or of a failing CLI_CALL. */
int cli_parse(const cli_command *c, int argc, char **argv);

/* Writes C's --help text to stdout; returns TB_EXIT_OK. */
int cli_help(const cli_command *c);
void cli_help_print(const cli_command *c, FILE *f);
