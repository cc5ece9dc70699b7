#include "util/ossl.h"

#include <openssl/err.h>

#include "util/log.h"

void tb_ossl_drain_errors(const char *context) {
        unsigned long e;
        char buf[256];

        while ((e = ERR_get_error()) != 0) {
                ERR_error_string_n(e, buf, sizeof(buf));
                tb_debug("%s: %s", context, buf);
        }
}
