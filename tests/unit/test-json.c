/* tests/unit/test-json.c — the layout systemd's JSON writer uses, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/json.h"

static struct json_object *sample(const char *phase) {
        struct json_object *root = json_object_new_object(), *arr = json_object_new_array(),
                           *e = json_object_new_object(), *pcrs = json_object_new_array();

        json_object_object_add(e, "phase", json_object_new_string(phase));
        json_object_array_add(pcrs, json_object_new_int(11));
        json_object_object_add(e, "pcrs", pcrs);
        json_object_array_add(arr, e);
        json_object_object_add(root, "sha256", arr);
        return root;
}

static void short_has_no_whitespace_and_systemd_escapes(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = sample("a\"/\\\x01\x7f\t\xc3\xa9");
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        static const char want[] = "{\"sha256\":[{\"phase\":\"a\\\"/\\\\\\u0001\x7f\\t\xc3\xa9\",\"pcrs\":[11]}]}";
        (void)state;

        assert_int_equal(tb_json_format(o, TB_JSON_SHORT, &out), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
}

static void pretty_uses_tabs_and_spaced_colons(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = sample("ready");
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        static const char want[] = "{\n\t\"sha256\" : [\n\t\t{\n\t\t\t\"phase\" : \"ready\",\n\t\t\t\"pcrs\" : [\n"
                                   "\t\t\t\t11\n\t\t\t]\n\t\t}\n\t]\n}";
        (void)state;

        assert_int_equal(tb_json_format(o, TB_JSON_PRETTY, &out), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
}

static void invalid_utf8_is_refused(void **state) {
        _cleanup_(json_object_putp) struct json_object *o = sample("a\xff");
        _cleanup_(json_object_putp) struct json_object *s = json_object_new_string("\xed\xa0\x80"); /* surrogate */
        _cleanup_(tb_buf_freep) tb_buf out = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_json_format(o, TB_JSON_SHORT, &out), -EILSEQ);
        assert_int_equal(tb_json_format(s, TB_JSON_SHORT, &out), -EILSEQ);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(short_has_no_whitespace_and_systemd_escapes),
                cmocka_unit_test(pretty_uses_tabs_and_spaced_colons),
                cmocka_unit_test(invalid_utf8_is_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
