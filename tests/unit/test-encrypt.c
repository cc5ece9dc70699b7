/* tests/unit/test-encrypt.c — `trustboot encrypt` in the library: what is checked before the TPM
 * and the device are touched (the device exists, the PCR key is one, the PIN, the recovery key
 * file does not exist), in that order, each leaving neither a file nor a changed device; and,
 * against swtpm, the recovery key printed as one line of 71 modhex characters that opens the
 * volume. The recovery key file, the PIN and the unlock by systemd's own plugin are in
 * tests/interop/tpm-sd-tpm2-plugin-unlocks-trustboot-volume.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <libcryptsetup.h>
#include <openssl/crypto.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "swtpm.h"
#include "tmpdir.h"
#include "tpm/encrypt.h"
#include "util/fileio.h"

#define IMAGE_SIZE (32 << 20)
#define RECOVERY_RE "^([cbdefghijklnrtuv]{8}-){7}[cbdefghijklnrtuv]{8}$"

typedef struct fixture {
        char dir[128]; /* first: tb_test_fixture_teardown */
        char image[200], recovery[200], pubkey[200], device[420];
        pid_t swtpm;
        int pins; /* how often get_pin was asked */
        uint8_t head[4096];
} fixture;

static int pin_refused(char **ret, void *userdata) {
        fixture *f = userdata;

        (void)ret;
        f->pins++;
        return -ECANCELED;
}

static int pin_1234(char **ret, void *userdata) {
        fixture *f = userdata;

        f->pins++;
        *ret = strdup("1234");
        return *ret ? 0 : -ENOMEM;
}

/* A sparse image whose first 4 KiB are a pattern (to see that nothing wrote there), a PEM public
 * key that is not one. */
static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        static const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

        assert_non_null(f);
        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "encrypt");
        for (size_t i = 0; i < sizeof(f->head); i++)
                f->head[i] = (uint8_t)(i * 7);
        tb_test_write(f->dir, "img", f->head, sizeof(f->head));
        snprintf(f->image, sizeof(f->image), "%s/img", f->dir);
        assert_int_equal(truncate(f->image, IMAGE_SIZE), 0);
        snprintf(f->recovery, sizeof(f->recovery), "%s/recovery.key", f->dir);
        tb_test_write(f->dir, "junk.pem", junk, strlen(junk));
        snprintf(f->pubkey, sizeof(f->pubkey), "%s/junk.pem", f->dir);
        snprintf(f->device, sizeof(f->device), "swtpm:path=%s/nonexistent", f->dir);
        *state = f;
        return 0;
}

static int setup_swtpm(void **state) {
        fixture *f;

        setup(state);
        f = *state;
        tb_test_swtpm_start(f->dir, &f->swtpm, f->device, sizeof(f->device));
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;

        if (f->swtpm > 0)
                tb_test_swtpm_stop(&f->swtpm);
        return tb_test_fixture_teardown(state);
}

/* Bound to PCR 7's value now, a recovery key to F->recovery, a PIN asked through F. */
static tb_encrypt_options options(fixture *f) {
        return (tb_encrypt_options){
                .device = f->image,
                .label = "data",
                .pcr_mask = UINT32_C(1) << 7,
                .tpm2_device = f->device,
                .recovery_key = f->recovery,
                .get_pin = pin_refused,
                .userdata = f,
        };
}

static void assert_image_untouched(const fixture *f) {
        tb_buf b = TB_BUF_INIT;

        assert_int_equal(tb_read_file(f->image, IMAGE_SIZE, &b), 0);
        assert_int_equal(b.len, IMAGE_SIZE);
        assert_memory_equal(b.data, f->head, sizeof(f->head));
        tb_buf_free(&b);
}

/* The files of the fixture and of swtpm (state, socket, log, lock). */
static bool fixture_file(const char *name) {
        static const char *const names[] = { ".", "..", "img", "junk.pem", "swtpm.log", ".lock" };

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return strncmp(name, "sock", 4) == 0 || strncmp(name, "tpm2-", 5) == 0;
}

/* F's directory holds no recovery key file, not even a temporary one. */
static void assert_no_recovery_file(const fixture *f) {
        DIR *d = opendir(f->dir);
        struct dirent *e;

        assert_non_null(d);
        while ((e = readdir(d)))
                if (!fixture_file(e->d_name))
                        fail_msg("left behind: %s", e->d_name);
        closedir(d);
}

static void a_missing_device_is_refused_first(void **state) {
        fixture *f = *state;
        tb_encrypt_options o = options(f);
        char missing[220];

        snprintf(missing, sizeof(missing), "%s/missing", f->dir);
        o.device = missing;
        o.pcr_public_key = f->pubkey;
        assert_int_equal(tb_encrypt(&o, stdout), -ENOENT);
        assert_int_equal(f->pins, 0);
        assert_no_recovery_file(f);
}

static void a_public_key_that_is_none_is_refused_before_the_pin(void **state) {
        fixture *f = *state;
        tb_encrypt_options o = options(f);
        char missing[220];

        o.pcr_public_key = f->pubkey;
        assert_int_equal(tb_encrypt(&o, stdout), -EBADMSG);
        snprintf(missing, sizeof(missing), "%s/missing.pem", f->dir);
        o.pcr_public_key = missing;
        assert_int_equal(tb_encrypt(&o, stdout), -ENOENT);
        assert_int_equal(f->pins, 0);
        assert_no_recovery_file(f);
        assert_image_untouched(f);
}

static void a_refused_pin_stops_before_the_recovery_file(void **state) {
        fixture *f = *state;
        tb_encrypt_options o = options(f);

        assert_int_equal(tb_encrypt(&o, stdout), -ECANCELED);
        assert_int_equal(f->pins, 1);
        assert_no_recovery_file(f);
        assert_image_untouched(f);
}

/* Its key would exist once and be lost: never overwritten, and checked before the TPM is used. */
static void an_existing_recovery_file_is_never_overwritten(void **state) {
        fixture *f = *state;
        tb_encrypt_options o = options(f);
        tb_buf b = TB_BUF_INIT;

        tb_test_write(f->dir, "recovery.key", "keep", 4);
        o.get_pin = pin_1234;
        assert_int_equal(tb_encrypt(&o, stdout), -EEXIST);
        assert_int_equal(f->pins, 1);
        assert_int_equal(tb_read_file(f->recovery, 100, &b), 0);
        assert_int_equal(b.len, 4);
        assert_memory_equal(b.data, "keep", 4);
        tb_buf_free(&b);
        assert_image_untouched(f);
}

/* The recovery file was created before the TPM is opened: a TPM that is not there removes it. */
static void no_tpm_leaves_no_recovery_file(void **state) {
        fixture *f = *state;
        tb_encrypt_options o = options(f);

        o.get_pin = NULL;
        assert_true(tb_encrypt(&o, stdout) < 0);
        assert_no_recovery_file(f);
        assert_image_untouched(f);
}

static void assert_recovery_key(const char *key, size_t len) {
        regex_t re;
        char s[TB_LUKS_RECOVERY_KEY_SIZE];

        assert_int_equal(len, TB_LUKS_RECOVERY_KEY_SIZE - 1);
        memcpy(s, key, len);
        s[len] = 0;
        assert_int_equal(regcomp(&re, RECOVERY_RE, REG_EXTENDED | REG_NOSUB), 0);
        if (regexec(&re, s, 0, NULL, 0) != 0)
                fail_msg("not a recovery key: \"%s\"", s);
        regfree(&re);
}

/* KEY opens IMAGE's recovery keyslot (checked only, not activated). */
static void assert_opens(const char *image, const char *label, const char *key, size_t len) {
        struct crypt_device *cd = NULL;

        assert_int_equal(crypt_init(&cd, image), 0);
        assert_int_equal(crypt_load(cd, CRYPT_LUKS2, NULL), 0);
        assert_string_equal(crypt_get_label(cd), label);
        assert_int_equal(crypt_activate_by_passphrase(cd, NULL, 1, key, len, 0), 1);
        crypt_free(cd);
}

/* With "-" the recovery key is printed once, one line, and opens its keyslot; no file is made.
 * (The file — 0600, no newline, opening keyslot 1 — is checked by cryptsetup in
 * tests/interop/tpm-sd-tpm2-plugin-unlocks-trustboot-volume.sh: one argon2id keyslot, benchmarked
 * by libcryptsetup to seconds, is what this test can afford.) */
static void a_recovery_key_to_the_output_is_one_line_that_opens_the_volume(void **state) {
        fixture *f = *state;
        tb_encrypt_options o = options(f);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);

        assert_non_null(out);
        o.get_pin = NULL;
        o.recovery_key = "-";
        assert_int_equal(tb_encrypt(&o, out), 0);
        assert_int_equal(fclose(out), 0);
        assert_int_equal(len, TB_LUKS_RECOVERY_KEY_SIZE);
        assert_int_equal(text[len - 1], '\n');
        assert_recovery_key(text, len - 1);
        assert_opens(f->image, "data", text, len - 1);
        assert_no_recovery_file(f);
        OPENSSL_cleanse(text, len);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(a_missing_device_is_refused_first, setup, teardown),
                cmocka_unit_test_setup_teardown(a_public_key_that_is_none_is_refused_before_the_pin, setup, teardown),
                cmocka_unit_test_setup_teardown(a_refused_pin_stops_before_the_recovery_file, setup, teardown),
                cmocka_unit_test_setup_teardown(an_existing_recovery_file_is_never_overwritten, setup, teardown),
                cmocka_unit_test_setup_teardown(no_tpm_leaves_no_recovery_file, setup, teardown),
                cmocka_unit_test_setup_teardown(a_recovery_key_to_the_output_is_one_line_that_opens_the_volume,
                                                setup_swtpm, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
