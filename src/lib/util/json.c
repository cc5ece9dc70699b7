#include "util/json.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int indent(tb_buf *out, enum tb_json_style style, unsigned level) {
        int r;

        if (style != TB_JSON_PRETTY)
                return 0;
        r = tb_buf_append_str(out, "\n");
        for (unsigned i = 0; r >= 0 && i < level; i++)
                r = tb_buf_append_str(out, "\t");
        return r;
}

static bool utf8_valid(const uint8_t *s, size_t n) {
        for (size_t i = 0; i < n;) {
                uint8_t c = s[i];
                size_t len;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        len = 2, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        len = 3, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        len = 4, cp = c & 0x07;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3f);
                }
                /* overlong forms, surrogates, beyond U+10FFFF */
                if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

/* systemd's escaping: the two-character forms for " \ \b \f \n \r \t, \u00xx for other control
 * characters, everything else (DEL, non-ASCII) verbatim. */
static int put_string(tb_buf *out, const char *s, size_t n) {
        int r;

        if (!utf8_valid((const uint8_t *)s, n))
                return -EILSEQ;
        r = tb_buf_append_str(out, "\"");
        for (size_t i = 0; r >= 0 && i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                char esc[8];

                switch (c) {
                case '"':
                        r = tb_buf_append_str(out, "\\\"");
                        break;
                case '\\':
                        r = tb_buf_append_str(out, "\\\\");
                        break;
                case '\b':
                        r = tb_buf_append_str(out, "\\b");
                        break;
                case '\f':
                        r = tb_buf_append_str(out, "\\f");
                        break;
                case '\n':
                        r = tb_buf_append_str(out, "\\n");
                        break;
                case '\r':
                        r = tb_buf_append_str(out, "\\r");
                        break;
                case '\t':
                        r = tb_buf_append_str(out, "\\t");
                        break;
                default:
                        if (c < 0x20) {
                                snprintf(esc, sizeof(esc), "\\u%04x", c);
                                r = tb_buf_append_str(out, esc);
                        } else
                                r = tb_buf_append(out, &s[i], 1);
                }
        }
        return r < 0 ? r : tb_buf_append_str(out, "\"");
}

static int format(struct json_object *o, enum tb_json_style style, unsigned level, tb_buf *out) {
        const char *sep = style == TB_JSON_PRETTY ? " : " : ":";
        char num[32];
        bool first = true;
        int r = 0;

        switch (json_object_get_type(o)) {
        case json_type_null:
                return tb_buf_append_str(out, "null");
        case json_type_boolean:
                return tb_buf_append_str(out, json_object_get_boolean(o) ? "true" : "false");
        case json_type_int:
                snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(o));
                return tb_buf_append_str(out, num);
        case json_type_double:
                return tb_buf_append_str(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        case json_type_string:
                return put_string(out, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        case json_type_array: {
                size_t n = json_object_array_length(o);

                r = tb_buf_append_str(out, "[");
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        if (i > 0)
                                r = tb_buf_append_str(out, ",");
                        if (r >= 0)
                                r = indent(out, style, level + 1);
                        if (r >= 0)
                                r = format(json_object_array_get_idx(o, i), style, level + 1, out);
                }
                if (r >= 0 && n > 0)
                        r = indent(out, style, level);
                return r < 0 ? r : tb_buf_append_str(out, "]");
        }
        case json_type_object:
                r = tb_buf_append_str(out, "{");
                json_object_object_foreach(o, key, val) {
                        if (r >= 0 && !first)
                                r = tb_buf_append_str(out, ",");
                        first = false;
                        if (r >= 0)
                                r = indent(out, style, level + 1);
                        if (r >= 0)
                                r = put_string(out, key, strlen(key));
                        if (r >= 0)
                                r = tb_buf_append_str(out, sep);
                        if (r >= 0)
                                r = format(val, style, level + 1, out);
                }
                if (r >= 0 && !first)
                        r = indent(out, style, level);
                return r < 0 ? r : tb_buf_append_str(out, "}");
        }
        return -EINVAL;
}

int tb_json_format(struct json_object *o, enum tb_json_style style, tb_buf *out) {
        return format(o, style, 0, out);
}
