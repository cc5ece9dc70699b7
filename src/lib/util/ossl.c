#include "util/ossl.h"

#include <openssl/err.h>

#include "util/log.h"

int tb_ossl_firmware_verify_cb(int ok, X509_STORE_CTX *ctx) {
        switch (X509_STORE_CTX_get_error(ctx)) {
        case X509_V_ERR_INVALID_PURPOSE:
        case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
                return 1;
        default:
                return ok;
        }
}

void tb_ossl_drain_errors(const char *context) {
        unsigned long e;
        char buf[256];

        while ((e = ERR_get_error()) != 0) {
                ERR_error_string_n(e, buf, sizeof(buf));
                tb_debug("%s: %s", context, buf);
        }
}
