/* tests/unit/test-boot-policy.c — init's decisions (node/boot-policy.c), outside PID 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "node/boot-policy.h"

static void secure_boot_is_on_only_for_a_first_byte_of_one(void **state) {
        const uint8_t one = 1, zero = 0, two = 2;
        (void)state;

        assert_int_equal(tb_boot_secure_boot_state(0, &one, 1), TB_SECURE_BOOT_ON);
        assert_int_equal(tb_boot_secure_boot_state(0, &zero, 1), TB_SECURE_BOOT_OFF);
        assert_int_equal(tb_boot_secure_boot_state(0, &two, 1), TB_SECURE_BOOT_OFF);
        assert_int_equal(tb_boot_secure_boot_state(0, NULL, 0), TB_SECURE_BOOT_OFF);
        /* unreadable, whatever the buffer holds */
        assert_int_equal(tb_boot_secure_boot_state(-ENOENT, &one, 1), TB_SECURE_BOOT_UNKNOWN);
}

/* Secure Boot off or unknown stops the boot unless trustboot.insecure is given, and then the boot
 * goes on insecure (PCR 11 poisoned, nothing unlocked), never as a secure one. */
static void gate_refuses_without_secure_boot_unless_insecure(void **state) {
        const char *why = NULL;
        (void)state;

        assert_int_equal(tb_boot_secure_boot_gate(TB_SECURE_BOOT_ON, false, &why), TB_BOOT_GATE_SECURE);
        assert_null(why);
        assert_int_equal(tb_boot_secure_boot_gate(TB_SECURE_BOOT_ON, true, &why), TB_BOOT_GATE_SECURE);
        assert_int_equal(tb_boot_secure_boot_gate(TB_SECURE_BOOT_OFF, false, &why), TB_BOOT_GATE_REFUSE);
        assert_string_equal(why, "Secure Boot is off (trustboot.insecure overrides)");
        why = NULL;
        assert_int_equal(tb_boot_secure_boot_gate(TB_SECURE_BOOT_UNKNOWN, false, &why), TB_BOOT_GATE_REFUSE);
        assert_string_equal(why, "Secure Boot state unknown");
        assert_int_equal(tb_boot_secure_boot_gate(TB_SECURE_BOOT_OFF, true, NULL), TB_BOOT_GATE_INSECURE);
        assert_int_equal(tb_boot_secure_boot_gate(TB_SECURE_BOOT_UNKNOWN, true, NULL), TB_BOOT_GATE_INSECURE);
}

/* Only the installed disk takes the disk path; install-mode on the medium installs, and on the
 * disk means nothing. */
static void path_follows_the_source_then_install_mode(void **state) {
        (void)state;

        assert_int_equal(tb_boot_path_choose(TB_BOOT_SOURCE_DISK, false), TB_BOOT_PATH_DISK);
        assert_int_equal(tb_boot_path_choose(TB_BOOT_SOURCE_DISK, true), TB_BOOT_PATH_DISK);
        assert_int_equal(tb_boot_path_choose(TB_BOOT_SOURCE_MEDIUM, true), TB_BOOT_PATH_INSTALL);
        assert_int_equal(tb_boot_path_choose(TB_BOOT_SOURCE_MEDIUM, false), TB_BOOT_PATH_LIVE);
}

static void state_word_says_medium_insecure_or_disk(void **state) {
        (void)state;

        assert_string_equal(tb_boot_state_word(TB_BOOT_SOURCE_DISK, false), "disk");
        assert_string_equal(tb_boot_state_word(TB_BOOT_SOURCE_DISK, true), "insecure");
        assert_string_equal(tb_boot_state_word(TB_BOOT_SOURCE_MEDIUM, false), "medium");
        assert_string_equal(tb_boot_state_word(TB_BOOT_SOURCE_MEDIUM, true), "medium");
}

static void volumes_are_told_apart_by_their_label(void **state) {
        (void)state;

        assert_int_equal(tb_boot_volume_kind("COS_OEM"), TB_BOOT_VOLUME_OEM);
        assert_int_equal(tb_boot_volume_kind("COS_PERSISTENT"), TB_BOOT_VOLUME_PERSISTENT);
        assert_int_equal(tb_boot_volume_kind("COS_OEM2"), TB_BOOT_VOLUME_OTHER);
        assert_int_equal(tb_boot_volume_kind("cos_oem"), TB_BOOT_VOLUME_OTHER);
        assert_int_equal(tb_boot_volume_kind(""), TB_BOOT_VOLUME_OTHER);
        assert_int_equal(tb_boot_volume_kind(NULL), TB_BOOT_VOLUME_OTHER);
}

/* Recovery and state reset run without the persistent data, as Kairos. */
static void only_active_and_passive_mount_persistent(void **state) {
        (void)state;

        assert_true(tb_boot_role_mounts_persistent(TB_ROLE_ACTIVE));
        assert_true(tb_boot_role_mounts_persistent(TB_ROLE_PASSIVE));
        assert_false(tb_boot_role_mounts_persistent(TB_ROLE_RECOVERY));
        assert_false(tb_boot_role_mounts_persistent(TB_ROLE_STATERESET));
        assert_false(tb_boot_role_mounts_persistent(TB_ROLE_NONE));
}

/* One volume left locked, a failed pass, or no COS_OEM stops the boot. */
static void unlock_verdict_stops_on_any_failure_or_no_oem(void **state) {
        (void)state;

        assert_null(tb_boot_unlock_verdict(0, 0, true));
        assert_string_equal(tb_boot_unlock_verdict(0, 1, true), "unlocking the encrypted partitions failed");
        assert_string_equal(tb_boot_unlock_verdict(-EIO, 0, true), "unlocking the encrypted partitions failed");
        assert_string_equal(tb_boot_unlock_verdict(0, 0, false), "no COS_OEM volume on the booted disk");
        assert_string_equal(tb_boot_unlock_verdict(-EIO, 2, false), "unlocking the encrypted partitions failed");
}

/* init= is honoured only where nothing sealed is open. */
static void init_from_the_command_line_only_while_locked(void **state) {
        bool ignored = true;
        (void)state;

        assert_string_equal(tb_boot_init_choose("/bin/sh", false, &ignored), "/bin/sh");
        assert_false(ignored);
        assert_string_equal(tb_boot_init_choose("/bin/sh", true, &ignored), "/sbin/init");
        assert_true(ignored);
        assert_string_equal(tb_boot_init_choose(NULL, true, &ignored), "/sbin/init");
        assert_false(ignored);
        assert_string_equal(tb_boot_init_choose("", false, &ignored), "/sbin/init");
        assert_false(ignored);
        assert_string_equal(tb_boot_init_choose(NULL, false, NULL), "/sbin/init");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(secure_boot_is_on_only_for_a_first_byte_of_one),
                cmocka_unit_test(gate_refuses_without_secure_boot_unless_insecure),
                cmocka_unit_test(path_follows_the_source_then_install_mode),
                cmocka_unit_test(state_word_says_medium_insecure_or_disk),
                cmocka_unit_test(volumes_are_told_apart_by_their_label),
                cmocka_unit_test(only_active_and_passive_mount_persistent),
                cmocka_unit_test(unlock_verdict_stops_on_any_failure_or_no_oem),
                cmocka_unit_test(init_from_the_command_line_only_while_locked),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
