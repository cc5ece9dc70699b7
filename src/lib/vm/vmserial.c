#include "vm/vmserial.h"

#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/log.h"

#define LINE_MAX_LEN 4096

enum esc_state { ST_TEXT, ST_ESC, ST_CSI };

struct tb_vmserial {
        regex_t re;
        bool have_re;
        enum esc_state st;
        char line[LINE_MAX_LEN + 1];
        size_t len;
        char violation[LINE_MAX_LEN + 1]; /* the last "Security Violation" line, for the report */
};

int tb_vmserial_new(const char *expect, tb_vmserial **ret) {
        tb_vmserial *s = calloc(1, sizeof(*s));

        if (!s)
                return tb_log_oom();
        if (expect) {
                if (regcomp(&s->re, expect, REG_EXTENDED | REG_NOSUB) != 0) {
                        free(s);
                        return -EINVAL;
                }
                s->have_re = true;
        }
        *ret = s;
        return 0;
}

void tb_vmserial_free(tb_vmserial *s) {
        if (s->have_re)
                regfree(&s->re);
        free(s);
}

static void copy_out(const char *src, char *line, size_t line_size) {
        if (line && line_size > 0)
                snprintf(line, line_size, "%s", src);
}

static bool matches(tb_vmserial *s) {
        return s->have_re && regexec(&s->re, s->line, 0, NULL, 0) == 0;
}

/* A complete line: the expected text first (a test may well expect the refusal itself). */
static tb_vmserial_event end_line(tb_vmserial *s, char *line, size_t line_size) {
        tb_vmserial_event ev = TB_VMSERIAL_NONE;

        s->line[s->len] = '\0';
        if (s->len == 0)
                return ev;
        if (matches(s)) {
                copy_out(s->line, line, line_size);
                ev = TB_VMSERIAL_MATCHED;
        } else if (strstr(s->line, "Access Denied")) {
                copy_out(s->line, line, line_size);
                ev = TB_VMSERIAL_REFUSED;
        } else if (strstr(s->line, "Security Violation")) {
                memcpy(s->violation, s->line, s->len + 1);
        } else if (strstr(s->line, "No bootable option")) {
                copy_out(s->violation[0] ? s->violation : s->line, line, line_size);
                ev = TB_VMSERIAL_REFUSED;
        }
        s->len = 0;
        return ev;
}

tb_vmserial_event tb_vmserial_feed(tb_vmserial *s, const char *data, size_t len, char *line, size_t line_size) {
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)data[i];
                tb_vmserial_event ev;

                switch (s->st) {
                case ST_ESC:
                        s->st = ch == '[' ? ST_CSI : ST_TEXT;
                        continue;
                case ST_CSI:
                        if (ch >= 0x40 && ch <= 0x7e)
                                s->st = ST_TEXT;
                        continue;
                case ST_TEXT:
                        break;
                }
                if (ch == 0x1b) {
                        s->st = ST_ESC;
                        continue;
                }
                if (ch == '\n' || ch == '\r') {
                        ev = end_line(s, line, line_size);
                        if (ev != TB_VMSERIAL_NONE)
                                return ev;
                        continue;
                }
                if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                        continue;
                if (s->len == LINE_MAX_LEN) {
                        ev = end_line(s, line, line_size);
                        if (ev != TB_VMSERIAL_NONE)
                                return ev;
                }
                s->line[s->len++] = (char)ch;
        }

        return TB_VMSERIAL_NONE;
}

bool tb_vmserial_pending(const tb_vmserial *s) {
        return s->len > 0;
}

tb_vmserial_event tb_vmserial_check_partial(tb_vmserial *s, char *line, size_t line_size) {
        s->line[s->len] = '\0';
        if (s->len > 0 && matches(s)) {
                copy_out(s->line, line, line_size);
                return TB_VMSERIAL_MATCHED;
        }
        return TB_VMSERIAL_NONE;
}

tb_vmserial_event tb_vmserial_flush(tb_vmserial *s, char *line, size_t line_size) {
        return end_line(s, line, line_size);
}
