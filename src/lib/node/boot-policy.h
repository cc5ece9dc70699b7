/* boot-policy.h — the decisions of init's boot (boot.h) as pure functions of what it found:
 * Secure Boot or not, which path the boot takes, which volumes a role mounts, which init runs.
 * No I/O and no logging here, so that the unit tests hold every decision outside PID 1;
 * node/boot.c does the probing, mounting and measuring around them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/bootentries.h"
#include "node/bootsource.h"

/* PCR 11 words beside systemd's phases. */
#define TB_BOOT_WORD_INSECURE "trustboot-insecure"
#define TB_BOOT_WORD_MEDIUM "trustboot-medium"

typedef enum tb_secure_boot {
        TB_SECURE_BOOT_ON,
        TB_SECURE_BOOT_OFF,
        TB_SECURE_BOOT_UNKNOWN, /* the variable could not be read */
} tb_secure_boot;

/* The SecureBoot variable as tb_efivar_read() returned it: R < 0 (unreadable) is unknown; on is
 * a first byte of 1, anything else (0, empty) is off. */
tb_secure_boot tb_boot_secure_boot_state(int r, const uint8_t *data, size_t len);

typedef enum tb_boot_gate {
        TB_BOOT_GATE_SECURE,   /* Secure Boot on: go on */
        TB_BOOT_GATE_INSECURE, /* off or unknown, trustboot.insecure given: go on, PCR 11 gets
                                * TB_BOOT_WORD_INSECURE first and nothing sealed is unlocked */
        TB_BOOT_GATE_REFUSE,   /* off or unknown without the flag: the boot stops */
} tb_boot_gate;

/* The Secure Boot gate. On TB_BOOT_GATE_REFUSE, *RET_WHY (if not NULL) says why in a few words. */
tb_boot_gate tb_boot_secure_boot_gate(tb_secure_boot sb, bool insecure_flag, const char **ret_why);

typedef enum tb_boot_path {
        TB_BOOT_PATH_DISK,    /* the installed disk: unlock, mount, hand over */
        TB_BOOT_PATH_INSTALL, /* the medium with install-mode: the installer (install.auto) */
        TB_BOOT_PATH_LIVE,    /* the medium without it: straight to the image's init */
} tb_boot_path;

tb_boot_path tb_boot_path_choose(tb_boot_source source, bool install_mode);

/* What init records in TB_BOOT_STATE_FILE (boot-state.h): "disk", "insecure" (the disk, Secure
 * Boot off) or "medium". */
const char *tb_boot_state_word(tb_boot_source source, bool insecure);

typedef enum tb_boot_volume {
        TB_BOOT_VOLUME_OTHER,
        TB_BOOT_VOLUME_OEM,        /* COS_OEM: mounted at /oem on every disk boot */
        TB_BOOT_VOLUME_PERSISTENT, /* COS_PERSISTENT: at /usr/local where the role asks for it */
} tb_boot_volume;

/* A sealed volume by its label (NULL: none). */
tb_boot_volume tb_boot_volume_kind(const char *label);

/* Whether a boot of ROLE mounts COS_PERSISTENT: active and passive; recovery and state reset run
 * without the persistent data (as Kairos), and so does an entry of no role. */
bool tb_boot_role_mounts_persistent(tb_role role);

/* The verdict on the unlock pass over the booted disk's sealed volumes: NULL if the boot goes on,
 * else why it stops. R is the pass's own result, FAILED how many volumes stayed locked, HAVE_OEM
 * whether a COS_OEM volume was among them. */
const char *tb_boot_unlock_verdict(int r, unsigned failed, bool have_oem);

/* The init to execute: the command line's init= (CMDLINE_INIT, NULL or "" if none) only when
 * nothing sealed was unlocked; with the volumes open the image's own /sbin/init runs, and
 * *RET_IGNORED (if not NULL) says an init= was passed over. */
const char *tb_boot_init_choose(const char *cmdline_init, bool unlocked, bool *ret_ignored);
