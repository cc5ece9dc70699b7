/* tests/unit/test-upgrade-pcrkey.c — whether a new UKI keeps the disks unlocking, on UKIs that
 * `trustboot build-uki` makes from a tiny root file system with two key sets that differ in the
 * PCR key only: the UKI's own PCR 11 policy is among its signed ones; a UKI is accepted against
 * its own PCR key (as PEM, and as the installed UKI's .pcrpkey) and refused against the other;
 * an installed UKI without .pcrpkey binds nothing. (A .pcrsig for another PCR 11, malformed
 * .pcrsig members, LUKS2 tokens: interop upgrade-refuses-unbootable-pcr-policy and
 * upgrade-checks-cryptenroll-pcr-key.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "node/upgrade-pcrkey.h"
#include "pe/signer.h"
#include "util/codec.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "upgrade-pcrkey")

/* keys/ and otherpcr/ (keys/ with another PCR key); m1 built with keys/, m2 with otherpcr/. */
static const char build_sh[] =
        "set -e; cd \"$1\"; tb=\"$2\"; mkdir -p root/etc root/boot root/usr/bin\n"
        "printf 'ID=synthetic\\nVERSION_ID=1.0\\n' > root/etc/os-release\n"
        "cp \"$3\" root/boot/vmlinuz\n"
        "export SOURCE_DATE_EPOCH=1700000000\n"
        "\"$tb\" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null\n"
        "\"$tb\" genkey Other -o other --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null\n"
        "cp -r keys otherpcr && cp other/tpm2-pcr-private.pem otherpcr/\n"
        "\"$tb\" -q build-uki dir:root -t uki -d m1 -k keys >/dev/null\n"
        "\"$tb\" -q build-uki dir:root -t uki -d m2 -k otherpcr >/dev/null\n";

static int build_media(void **state) {
        const char *tb = getenv("TRUSTBOOT");
        int r = tb_test_group_setup(state);

        if (r < 0)
                return r;
        if (!tb)
                return 0; /* the tests skip */
        const char *const argv[] = { "sh", "-c", build_sh, "sh", dir, tb, TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub", NULL };
        assert_int_equal(tb_exec_checked(argv, NULL), 0);
        return 0;
}

static tb_pe *open_uki(const char *medium) {
        char p[300];
        tb_pe *pe = NULL;

        if (!getenv("TRUSTBOOT"))
                skip();
        snprintf(p, sizeof(p), "%s/%s/EFI/trustboot/norole.efi", dir, medium);
        assert_int_equal(tb_pe_open(p, &pe), 0);
        return pe;
}

static void pcr_pem(const char *keydir, tb_buf *out) {
        char p[300];
        EVP_PKEY *key = NULL;

        snprintf(p, sizeof(p), "%s/%s/tpm2-pcr-private.pem", dir, keydir);
        assert_int_equal(tb_private_key_load(p, &key), 0);
        assert_int_equal(tb_pubkey_to_pem(key, out), 0);
        EVP_PKEY_free(key);
}

static void its_own_pcr11_policy_is_signed(void **state) {
        _cleanup_(tb_pe_freep) tb_pe *pe = open_uki("m1");
        tb_buf sig = TB_BUF_INIT;
        uint8_t pol[32];
        char hex[65];
        (void)state;

        assert_int_equal(tb_upgrade_pcrkey_expect(pe, pol), 0);
        tb_hex_encode(pol, sizeof(pol), hex);
        assert_int_equal(tb_pe_section_read(pe, tb_pe_find_section(pe, ".pcrsig"), 1 << 20, &sig), 0);
        assert_non_null(memmem(sig.data, sig.len, hex, 64));
        tb_buf_free(&sig);
}

static void accepted_with_its_pcr_key_refused_with_another(void **state) {
        _cleanup_(tb_pe_freep) tb_pe *m1 = open_uki("m1"), *m2 = open_uki("m2");
        tb_buf mine = TB_BUF_INIT, other = TB_BUF_INIT;
        (void)state;

        pcr_pem("keys", &mine);
        pcr_pem("other", &other);
        assert_int_equal(tb_upgrade_pcrkey_check_pem(mine.data, mine.len, "the volumes' key", m1), 0);
        assert_int_equal(tb_upgrade_pcrkey_check_pem(other.data, other.len, "the volumes' key", m1), -EKEYREJECTED);
        assert_int_equal(tb_upgrade_pcrkey_check_pem(other.data, other.len, "the volumes' key", m2), 0);
        assert_int_equal(tb_upgrade_pcrkey_check_pem((const uint8_t *)"junk", 4, "junk", m1), -EBADMSG);
        tb_buf_free(&mine);
        tb_buf_free(&other);
}

static void the_installed_ukis_key_binds(void **state) {
        _cleanup_(tb_pe_freep) tb_pe *m1 = open_uki("m1"), *m2 = open_uki("m2");
        char installed[300];
        uint8_t pol[32];
        (void)state;

        snprintf(installed, sizeof(installed), "%s/m1/EFI/trustboot/norole.efi", dir);
        assert_int_equal(tb_upgrade_pcrkey_check_installed(installed, m1, NULL), 0);
        assert_int_equal(tb_upgrade_pcrkey_expect(m1, pol), 0);
        assert_int_equal(tb_upgrade_pcrkey_check_installed(installed, m1, pol), 0);
        assert_int_equal(tb_upgrade_pcrkey_check_installed(installed, m2, NULL), -EKEYREJECTED);
        /* A plain stub as the installed UKI: no .pcrpkey, nothing bound to keep. */
        assert_int_equal(tb_upgrade_pcrkey_check_installed(TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub", m2, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(its_own_pcr11_policy_is_signed),
                cmocka_unit_test(accepted_with_its_pcr_key_refused_with_another),
                cmocka_unit_test(the_installed_ukis_key_binds),
        };
        return cmocka_run_group_tests(tests, build_media, tb_test_group_teardown);
}
