/* tests/unit/test-pkcs11.c — what is checked before any token is touched: the URI's attribute
 * names and that messages never carry a PIN (the token itself: tests/interop/pe-softhsm2-pkcs11-keys.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pe/pkcs11.h"

static void display_uri_hides_every_pin_value(void **state) {
        char *s;
        (void)state;

        s = tb_pkcs11_display_uri("pkcs11:token=a;object=b?pin-value=1234");
        assert_string_equal(s, "pkcs11:token=a;object=b?pin-value=***");
        free(s);
        s = tb_pkcs11_display_uri("pkcs11:token=a?module-path=/x.so&pin-value=secret&pin-value=again");
        assert_string_equal(s, "pkcs11:token=a?module-path=/x.so&pin-value=***&pin-value=***");
        free(s);
        /* a value shorter than the mask lengthens the string (a heap overflow under ASan before) */
        s = tb_pkcs11_display_uri("pkcs11:token=a?pin-value=1&pin-value=");
        assert_string_equal(s, "pkcs11:token=a?pin-value=***&pin-value=***");
        free(s);
        s = tb_pkcs11_display_uri("pkcs11:token=pin-value=x;object=y?pin-source=/etc/pin");
        assert_string_equal(s, "pkcs11:token=pin-value=x;object=y?pin-source=/etc/pin");
        free(s);
}

static void unknown_attributes_and_types_are_refused_before_any_module_loads(void **state) {
        EVP_PKEY *key = NULL;
        (void)state;

        assert_int_equal(tb_pkcs11_load_key("pkcs11:token=a;objekt=b", &key), -EINVAL);
        assert_int_equal(tb_pkcs11_load_key("pkcs11:token=a;object=b?pin-file=/x", &key), -EINVAL);
        assert_int_equal(tb_pkcs11_load_key("pkcs11:token=a;object=b;type=cert", &key), -EINVAL);
        assert_int_equal(tb_pkcs11_load_key("pkcs11:token=a;object=%zz", &key), -EINVAL);
        assert_null(key);
        assert_true(tb_pkcs11_is_uri("pkcs11:token=a"));
        assert_false(tb_pkcs11_is_uri("keys/db.key"));
        assert_false(tb_pkcs11_is_uri(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(display_uri_hides_every_pin_value),
                cmocka_unit_test(unknown_attributes_and_types_are_refused_before_any_module_loads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
