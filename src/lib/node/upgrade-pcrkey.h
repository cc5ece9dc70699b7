/* upgrade-pcrkey.h — whether a new UKI keeps unlocking the disks: its .pcrpkey is the PCR
 * public key the disks are bound to (the installed UKI's, or a LUKS2 volume's systemd-tpm2
 * token's); every signature of its .pcrsig names that key and verifies with it, as
 * systemd-cryptsetup checks at unlock before it asks the TPM; and one of the signed sha256
 * policies for PCR 11 is the UKI's own: its PCR 11 predicted from its sections (as its stub
 * finds and measures them, measure/pcr.h) after the phase trustboot init unlocks in. A UKI
 * whose policies are all for other values would boot, and then no volume would unseal. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pe/pe.h"

/* The phase path in which the node unlocks its disks (trustboot init, from disk). */
#define TB_UPGRADE_PCR_PHASE "enter-initrd"

/* The sha256 PolicyPCR digest of PE's own PCR 11 after TB_UPGRADE_PCR_PHASE. Logs failures;
 * -EKEYREJECTED if no stub version tells how its sections are measured. */
int tb_upgrade_pcrkey_expect(const tb_pe *pe, uint8_t ret_pol[32]);
/* The same for PROFILE of a multi-profile UKI (systemd 257+): the checks below verify every
 * profile's .pcrsig (the one the stub uses when an entry boots "@N") against that profile's own
 * PCR 11, WANT_POL being profile 0's. */
int tb_upgrade_pcrkey_expect_profile(const tb_pe *pe, unsigned profile, uint8_t ret_pol[32]);
/* Against the installed UKI INSTALLED_PATH's .pcrpkey; one without .pcrpkey binds nothing.
 * WANT_POL: tb_upgrade_pcrkey_expect() of NEW_PE, or NULL to compute it here (hashing the
 * UKI's sections once more). -EKEYREJECTED (logged) if the disks would not unlock, -EBADMSG
 * (logged) if .pcrsig is malformed. */
int tb_upgrade_pcrkey_check_installed(const char *installed_path, const tb_pe *new_pe, const uint8_t *want_pol);
/* Against the PEM public key PEM, named WHAT in messages (the installer's: the key it is about to
 * seal the volumes to). */
int tb_upgrade_pcrkey_check_pem(const uint8_t *pem, size_t len, const char *what, const tb_pe *new_pe);
/* Against DEVICE's systemd-tpm2 tokens: NEW_PE's .pcrpkey must be one of the keys they are bound
 * to (two during a PCR key rotation, `encrypt --add-pcr-key`). Returns 1 when checked against a
 * bound key, 0 when no token has a signed policy (binds nothing). */
int tb_upgrade_pcrkey_check_luks(const char *device, const tb_pe *new_pe, const uint8_t *want_pol);
