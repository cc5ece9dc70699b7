/* upgrade-pcrkey.h — whether a new UKI keeps unlocking the disks: its .pcrpkey is the PCR
 * public key the disks are bound to (the installed UKI's, or a LUKS2 volume's systemd-tpm2
 * token's) and every signature of its .pcrsig names that key and verifies with it, as
 * systemd-cryptsetup checks at unlock before it asks the TPM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pe/pe.h"

/* Against the installed UKI INSTALLED_PATH's .pcrpkey; one without .pcrpkey binds nothing.
 * -EKEYREJECTED (logged) if the disks would not unlock. */
int tb_upgrade_pcrkey_check_installed(const char *installed_path, const tb_pe *new_pe);
/* Against the PEM public key PEM, named WHAT in messages (the installer's: the key it is about to
 * seal the volumes to). */
int tb_upgrade_pcrkey_check_pem(const uint8_t *pem, size_t len, const char *what, const tb_pe *new_pe);
/* Against DEVICE's systemd-tpm2 token; a token without a signed policy binds nothing. */
int tb_upgrade_pcrkey_check_luks(const char *device, const tb_pe *new_pe);
