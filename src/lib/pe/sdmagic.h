/* sdmagic.h — systemd's ".sdmagic" section, "#### LoaderInfo: PRODUCT VERSION ####": how
 * systemd-boot and systemd-stub name themselves. The one parser of it (inspect shows it, the
 * PCR prediction and the medium take the stub's and the boot loader's major version from it). */
#pragma once

#include <stddef.h>

#include "pe/pe.h"

/* From the section's bytes (not necessarily NUL-terminated): "PRODUCT VERSION" ("systemd-stub
 * 252.39-1~deb12u2"), malloc'ed. -EBADMSG if there is no LoaderInfo, -ENOMEM. */
int tb_sdmagic_info(const void *data, size_t len, char **ret);
/* PRODUCT's ("systemd-stub", "systemd-boot") decimal major version (252); -EBADMSG if the bytes
 * name another product or no version. */
int tb_sdmagic_major(const void *data, size_t len, const char *product);

/* The same, read from PE's .sdmagic section; -EBADMSG if PE has none. */
int tb_pe_sdmagic_info(const tb_pe *pe, char **ret);
int tb_pe_sdmagic_major(const tb_pe *pe, const char *product);
