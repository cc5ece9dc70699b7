/* options.c — parsing and --help from one option table (see options.h). */
#include "options.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Long options get values above every short option character. */
#define LONG_BASE 0x100
#define MAX_OPTIONS 64
#define HELP_COLUMN_MAX 32 /* help texts start after the widest option up to this; wider ones wrap */

static const cli_option help_option = CLI_OPT_FLAG("help", 'h', NULL, "show this help");

static size_t count(const cli_option *opts) {
        size_t n = 0;

        while (opts && opts[n].kind != CLI_END)
                n++;
        return n;
}

/* "  -o, --output DIR" without padding. */
static int format_names(const cli_option *o, char *buf, size_t size) {
        int n = snprintf(buf, size, "  %c%c%s%s%s%s%s", o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
                         o->short_name && o->name ? ", " : "  ", o->name ? "--" : "", o->name ? o->name : "",
                         o->arg ? " " : "", o->arg ? o->arg : "");
        return n < 0 ? 0 : n;
}

static void print_option(FILE *f, const cli_option *o, int column) {
        char names[128];
        int n = format_names(o, names, sizeof(names));

        fputs(names, f);
        if (n + 2 > column)
                fprintf(f, "\n%*s", column, "");
        else
                fprintf(f, "%*s", column - n, "");
        for (const char *p = o->help; *p; p++) {
                fputc(*p, f);
                if (*p == '\n')
                        fprintf(f, "%*s", column, "");
        }
        fputc('\n', f);
}

void cli_help_print(const cli_command *c, FILE *f) {
        size_t n = count(c->options);
        char names[128];
        int column = format_names(&help_option, names, sizeof(names)) + 2;

        for (size_t i = 0; i < n; i++) {
                int w = c->options[i].kind == CLI_GROUP ? 0 : format_names(&c->options[i], names, sizeof(names)) + 2;

                if (w > column && w <= HELP_COLUMN_MAX)
                        column = w;
        }
        fputs(c->synopsis, f);
        for (size_t i = 0; i < n; i++) {
                const cli_option *o = &c->options[i];

                if (o->kind == CLI_GROUP)
                        fprintf(f, "%s%s\n", i == 0 ? "" : "\n", o->help);
                else
                        print_option(f, o, column);
        }
        print_option(f, &help_option, column);
        if (c->epilog)
                fprintf(f, "\n%s", c->epilog);
}

int cli_help(const cli_command *c) {
        cli_help_print(c, stdout);
        return TB_EXIT_OK;
}

static const cli_option *find_short(const cli_option *opts, size_t n, int ch) {
        for (size_t i = 0; i < n; i++)
                if (opts[i].kind != CLI_GROUP && opts[i].short_name == ch)
                        return &opts[i];
        return NULL;
}

static int apply(const cli_command *c, const cli_option *o, const char *arg) {
        uint64_t v;

        switch (o->kind) {
        case CLI_FLAG:
                *(bool *)o->target = true;
                return 0;
        case CLI_STRING:
                *(const char **)o->target = arg;
                return 0;
        case CLI_UINT:
                if (cli_parse_u64(arg, o->min, o->max, &v) < 0)
                        return cli_usage_error(c->name, "--%s: '%s' is not a number from %" PRIu64 " to %" PRIu64,
                                               o->name, arg, o->min, o->max);
                *(unsigned *)o->target = (unsigned)v;
                return 0;
        case CLI_APPEND: {
                cli_list *l = o->target;

                if (*l->n >= l->max)
                        return cli_usage_error(c->name, "at most %zu --%s", l->max, o->name);
                l->v[(*l->n)++] = arg;
                return 0;
        }
        case CLI_CALL:
                return o->fn(c->name, arg, o->target);
        default:
                return 0;
        }
}

int cli_parse(const cli_command *c, int argc, char **argv) {
        struct option longopts[MAX_OPTIONS + 2] = {};
        char shortopts[2 * MAX_OPTIONS + 4] = "+h";
        size_t n = count(c->options), nl = 0, ns = 2;
        int opt, r;

        if (n > MAX_OPTIONS)
                return cli_usage_error(c->name, "internal error: too many options");
        longopts[nl++] = (struct option){ "help", no_argument, NULL, 'h' };
        for (size_t i = 0; i < n; i++) {
                const cli_option *o = &c->options[i];

                if (o->kind == CLI_GROUP)
                        continue;
                if (o->name)
                        longopts[nl++] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL,
                                                          LONG_BASE + (int)i };
                if (o->short_name) {
                        shortopts[ns++] = (char)o->short_name;
                        if (o->arg)
                                shortopts[ns++] = ':';
                }
        }

        opterr = 0;
        optind = 0; /* a fresh scan, including getopt's GNU extensions */
        while ((opt = getopt_long(argc, argv, c->in_order ? shortopts : shortopts + 1, longopts, NULL)) >= 0) {
                const cli_option *o;

                if (opt == 'h')
                        return cli_help(c);
                o = opt >= LONG_BASE ? &c->options[opt - LONG_BASE] : find_short(c->options, n, opt);
                if (!o)
                        return cli_bad_option(c->name, argv);
                r = apply(c, o, o->arg ? optarg : NULL);
                if (r != 0)
                        return r;
        }
        return CLI_CONTINUE;
}
