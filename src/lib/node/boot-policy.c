/* boot-policy.c — init's decisions, pure (see boot-policy.h). */
#include "node/boot-policy.h"

#include <string.h>

#include "node/cloudconfig.h"

tb_secure_boot tb_boot_secure_boot_state(int r, const uint8_t *data, size_t len) {
        if (r < 0)
                return TB_SECURE_BOOT_UNKNOWN;
        return len >= 1 && data[0] == 1 ? TB_SECURE_BOOT_ON : TB_SECURE_BOOT_OFF;
}

tb_boot_gate tb_boot_secure_boot_gate(tb_secure_boot sb, bool insecure_flag, const char **ret_why) {
        if (sb == TB_SECURE_BOOT_ON)
                return TB_BOOT_GATE_SECURE;
        if (insecure_flag)
                return TB_BOOT_GATE_INSECURE;
        if (ret_why)
                *ret_why = sb == TB_SECURE_BOOT_UNKNOWN ? "Secure Boot state unknown"
                                                        : "Secure Boot is off (trustboot.insecure overrides)";
        return TB_BOOT_GATE_REFUSE;
}

tb_boot_path tb_boot_path_choose(tb_boot_source source, bool install_mode) {
        if (source == TB_BOOT_SOURCE_DISK)
                return TB_BOOT_PATH_DISK;
        /* install-mode on the installed disk's command line means nothing: only a medium installs */
        return install_mode ? TB_BOOT_PATH_INSTALL : TB_BOOT_PATH_LIVE;
}

const char *tb_boot_state_word(tb_boot_source source, bool insecure) {
        if (source != TB_BOOT_SOURCE_DISK)
                return "medium";
        return insecure ? "insecure" : "disk";
}

tb_boot_volume tb_boot_volume_kind(const char *label) {
        if (!label)
                return TB_BOOT_VOLUME_OTHER;
        if (strcmp(label, TB_CLOUDCONFIG_OEM_LABEL) == 0)
                return TB_BOOT_VOLUME_OEM;
        if (strcmp(label, TB_CLOUDCONFIG_PERSISTENT_LABEL) == 0)
                return TB_BOOT_VOLUME_PERSISTENT;
        return TB_BOOT_VOLUME_OTHER;
}

bool tb_boot_role_mounts_persistent(tb_role role) {
        return role == TB_ROLE_ACTIVE || role == TB_ROLE_PASSIVE;
}

const char *tb_boot_unlock_verdict(int r, unsigned failed, bool have_oem) {
        if (r < 0 || failed > 0)
                return "unlocking the encrypted partitions failed";
        if (!have_oem)
                return "no COS_OEM volume on the booted disk";
        return NULL;
}

const char *tb_boot_init_choose(const char *cmdline_init, bool unlocked, bool *ret_ignored) {
        bool given = cmdline_init && *cmdline_init;

        if (ret_ignored)
                *ret_ignored = given && unlocked;
        /* init= is the image's or the user's choice only where nothing was unlocked: with the
         * volumes open, the image's own init runs (a signed command line carries none anyway). */
        return given && !unlocked ? cmdline_init : "/sbin/init";
}
