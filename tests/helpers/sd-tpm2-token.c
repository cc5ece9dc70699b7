/* sd-tpm2-token — unlock a LUKS2 image with systemd's own TPM2 token plugin
 * (libcryptsetup-token-systemd-tpm2.so, loaded by libcryptsetup), verify-only (no dm).
 *
 * The 252 plugin ignores SYSTEMD_TPM2_DEVICE on this path and only finds /dev/tpmrm0, so the
 * TCTI is passed the way systemd-cryptsetup does: in the plugin's parameter struct.
 *
 * Usage: sd-tpm2-token IMAGE TCTI [SIGNATURE-ABSOLUTE-PATH|-] [PIN]
 * Exit 0 and prints the keyslot if the token unlocked it; 1 otherwise. */
#include <libcryptsetup.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* systemd 252 src/cryptsetup/cryptsetup-tokens/cryptsetup-token-systemd-tpm2.c */
struct systemd_tpm2_plugin_params {
        uint32_t search_pcr_mask;
        const char *device;
        const char *signature_path;
};

static void log_cb(int level, const char *msg, void *userdata) {
        (void)userdata;
        if (level == CRYPT_LOG_ERROR || level == CRYPT_LOG_DEBUG_JSON)
                fprintf(stderr, "libcryptsetup: %s", msg);
}

int main(int argc, char **argv) {
        struct systemd_tpm2_plugin_params p = { .search_pcr_mask = UINT32_MAX };
        struct crypt_device *cd = NULL;
        const char *pin = argc > 4 ? argv[4] : NULL;
        int r;

        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: %s IMAGE TCTI [SIGNATURE|-] [PIN]\n", argv[0]);
                return 2;
        }
        p.device = argv[2];
        p.signature_path = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
        crypt_set_log_callback(NULL, log_cb, NULL);
        if (getenv("SD_TPM2_TOKEN_DEBUG"))
                crypt_set_debug_level(CRYPT_DEBUG_ALL);
        r = crypt_init(&cd, argv[1]);
        if (r >= 0)
                r = crypt_load(cd, CRYPT_LUKS2, NULL);
        if (r < 0) {
                fprintf(stderr, "%s: cannot load LUKS2 header: %s\n", argv[1], strerror(-r));
                crypt_free(cd);
                return 1;
        }
        r = crypt_activate_by_token_pin(cd, NULL, "systemd-tpm2", CRYPT_ANY_TOKEN, pin, pin ? strlen(pin) : 0, &p, 0);
        crypt_free(cd);
        if (r < 0) {
                fprintf(stderr, "%s: systemd-tpm2 token plugin refused: %s\n", argv[1], strerror(-r));
                return 1;
        }
        printf("%d\n", r);
        return 0;
}
