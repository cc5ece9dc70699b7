/* cli.h — what every subcommand shares: exit codes, usage errors, option parsing helpers. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

enum {
        TB_EXIT_OK = 0,
        TB_EXIT_FAILURE = 1, /* the command ran and failed */
        TB_EXIT_USAGE = 2,   /* the command line was wrong */
};

/* One line "trustboot CMD: MESSAGE" plus "Try 'trustboot CMD --help'." on stderr; returns 2. */
__attribute__((format(printf, 2, 3))) int cli_usage_error(const char *cmd, const char *fmt, ...);

/* Reports the option getopt_long() rejected (optopt / argv[optind-1]) as a usage error. */
int cli_bad_option(const char *cmd, char **argv);

/* Prints USAGE to stdout and returns 0: the answer to --help. */
int cli_print_help(const char *usage);

/* Strict number parsing: the whole string, no sign surprises, within [MIN, MAX]. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* The one reader of SOURCE_DATE_EPOCH (reproducible builds' "now"): sets *RET if it is set, leaves
 * it alone if not; returns 0, or TB_EXIT_FAILURE after logging a value that is not a number of
 * seconds from 0 to MAX. */
#define CLI_EPOCH_MAX UINT64_C(253402300799) /* 9999-12-31T23:59:59Z, what X.509 can carry */
int cli_source_date_epoch(uint64_t max, int64_t *ret);
/* Checks an --exclude PATTERN (rootfs/exclude.h): 0 if well-formed, else the usage error (2). */
int cli_check_exclude(const char *cmd, const char *pattern);

/* Reads a secret (PIN) from the terminal with echo off after PROMPT, or one line from stdin if
 * that is not a terminal. -ENODATA if empty. Free with cli_secret_freep (wipes). */
int cli_read_secret(const char *prompt, char **ret);
void cli_secret_freep(char **p);

/* The PKCS#11 PIN prompt (pe/pkcs11.h): asks on the terminal, -ENOKEY when stdin is none. */
int cli_pkcs11_pin_prompt(const char *token_label, char *buf, size_t size);


/* Set by main from -v/-q, for commands that decide how much to print themselves. */
extern int cli_verbosity;

/* Every subcommand has this signature; argv[0] is the subcommand name. */
typedef int (*cli_command_fn)(int argc, char **argv);

int cmd_bootentry(int argc, char **argv);
int cmd_build_uki(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_genkey(int argc, char **argv);
int cmd_dbx(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_initrd(int argc, char **argv);
int cmd_install(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_unlock(int argc, char **argv);
int cmd_unlock_all(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_vm(int argc, char **argv);
