/* efivar.h — EFI variables through efivarfs: "NAME-GUID" files holding a 4-byte attribute word
 * followed by the data. The directory is a parameter (NULL: /sys/firmware/efi/efivars) so that
 * tests work on a plain directory of such files. Variables of systemd-boot's Boot Loader
 * Interface and the Secure Boot signature databases. */
#pragma once

#include <stdint.h>

#include "util/buf.h"
#include "sb/efisig.h"

#define TB_EFIVAR_DIR_DEFAULT "/sys/firmware/efi/efivars"

extern const tb_guid TB_GUID_LOADER; /* 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f */

/* The Boot Loader Interface variables we read and write (systemd's BOOT_LOADER_INTERFACE). */
#define TB_LOADER_ENTRY_SELECTED "LoaderEntrySelected"      /* the entry this boot started */
#define TB_LOADER_ENTRY_ONESHOT "LoaderEntryOneShot"        /* the entry to start next, once */
#define TB_LOADER_BOOT_COUNT_PATH "LoaderBootCountPath"     /* the counted entry's path */
#define TB_LOADER_DEVICE_PART_UUID "LoaderDevicePartUUID"   /* the ESP systemd-boot came from */
#define TB_LOADER_ENTRIES "LoaderEntries"                   /* the ids of every entry it found */
#define TB_LOADER_INFO "LoaderInfo"                         /* "systemd-boot 257.13-1~deb13u1" */

/* What systemd writes for the Boot Loader Interface variables. */
#define TB_EFIVAR_ATTRS_NV_BS_RT 0x07u

/* Reads NAME-VENDOR from DIR: RET_ATTRS (may be NULL) and the data appended to OUT.
 * -ENOENT if it is not set, -EBADMSG if the file is shorter than the attribute word. */
int tb_efivar_read(const char *dir, const char *name, const tb_guid *vendor, uint32_t *ret_attrs, tb_buf *out);

/* Writes NAME-VENDOR with ATTRS and DATA in one write(), as efivarfs requires; LEN 0 deletes it.
 * The immutable flag efivarfs sets on variables it does not know to be harmless is cleared first
 * and set again afterwards, as systemd does. Logs what fails. */
int tb_efivar_write(const char *dir, const char *name, const tb_guid *vendor, uint32_t attrs, const void *data,
                    size_t len);

/* A Boot Loader Interface string: UTF-16LE with a terminating NUL. Only ASCII is accepted
 * (entry ids are file names): -EBADMSG otherwise. *RET is malloc'ed. */
int tb_efivar_read_string(const char *dir, const char *name, const tb_guid *vendor, char **ret);
int tb_efivar_write_string(const char *dir, const char *name, const tb_guid *vendor, const char *value);

/* A Boot Loader Interface list (LoaderEntries): UTF-16LE strings, each with its NUL, back to
 * back. Items that are not printable ASCII are left out (they cannot be ids trustboot wrote);
 * an empty variable is an empty list. *RET is a NULL-terminated array (tb_strv_free). -EBADMSG
 * for an odd length or an unterminated last item. */
int tb_efivar_read_string_list(const char *dir, const char *name, const tb_guid *vendor, char ***ret);
