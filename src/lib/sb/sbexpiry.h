/* sbexpiry.h — expiry warnings for the certificates a node's Secure Boot chain is using: the
 * enrolled PK and KEK (efivarfs), and the signer certificates of an image about to be installed.
 * Firmware ignores certificate times; operators must know before the tooling and any CA refuse
 * them (kairos#2218). Each warning is one line with the date (pe/signer.h tb_cert_warn_expiry). */
#pragma once

#include "pe/pe.h"

/* Warns about each X.509 certificate in the enrolled PK and KEK of EFIVAR_DIR (NULL: efivarfs)
 * that expires within the warning period or has expired. Returns how many warned; unreadable
 * variables are skipped silently (status reports them). */
int tb_sb_warn_enrolled_expiry(const char *efivar_dir);

/* The same for every certificate PE's Authenticode signatures carry (signer and chain). */
int tb_sb_warn_image_expiry(const tb_pe *pe);
