/* boot.h — the PID-1 policy of the UKI's initrd (docs/notes/boot.md; shared/ARCHITECTURE.md, "How a
 * node boots"):
 *
 *   API file systems → modules the machine and the job need (modules.h) → Secure Boot gate:
 *   off only with trustboot.insecure, and then PCR 11 gets "trustboot-insecure" first →
 *   "enter-initrd" → where from (bootsource.h): anything but the installed disk gets
 *   "trustboot-medium" in PCR 11 before anything interactive can run → from disk: unlock the
 *   booted disk's sealed volumes, mount COS_OEM at /oem, COS_PERSISTENT at /usr/local (active,
 *   passive) and the ESP at /efi; from the medium with install-mode: install (install.auto) or
 *   the live system → hand-over in place (handover.h) → "leave-initrd" → the image's init.
 *
 * Either PCR 11 word makes every signed policy fail, so the TPM unseals nothing on such a boot:
 * sealing at install time needs no current PCR value (PolicyAuthorize), so installing works.
 * The decisions are boot-policy.h (pure, unit-tested); the record for later commands boot-state.h. */
#pragma once

/* Runs the boot as PID 1. Returns only when the boot cannot go on, with *RET_WHY saying why in
 * a few words (the caller powers off: tb_initrd_fail()). */
int tb_boot_run(const char **ret_why);
