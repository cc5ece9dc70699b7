/* disk.h — the installed disk: GPT layout as Kairos makes it (shared/research/kairos.md §4.2) written
 * with libfdisk to a block device or an image file, partition device names, mkfs, and picking
 * the target disk ("auto": the largest disk that is not the boot medium). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node/cloudconfig.h"
#include "util/macro.h"

#define TB_DISK_GUID "2ceff841-4c1d-5a14-8e46-ed3aeb621093" /* uuid5(URL, "KAIROS_DISK") */
/* The disk GUID while the installer writes the disk: a GPT carrying it is an interrupted install
 * (uuid5(URL, "TRUSTBOOT_INSTALLING")); the last write step sets TB_DISK_GUID. */
#define TB_DISK_GUID_INSTALLING "416c8c5a-0998-5ca1-ba14-329492260e25"
#define TB_DISK_UUID_STRING_SIZE 37

/* uuid5(NamespaceURL, NAME), lower-case: Kairos' partition GUIDs and LUKS UUIDs from labels. */
void tb_disk_uuid5(const char *name, char out[TB_DISK_UUID_STRING_SIZE]);

typedef struct tb_disk_part {
        const char *name;  /* GPT partition name: efi, oem, persistent, extra names */
        const char *label; /* file system (or LUKS) label: COS_GRUB, COS_OEM, … */
        const char *fs;    /* vfat, ext4, ext2…; NULL: not formatted */
        uint64_t size_mib; /* 0: the rest of the disk */
        bool esp;
        unsigned partno;   /* 1-based, in table order */
} tb_disk_part;

/* Install order: efi, oem, persistent, extra partitions; the one size-0 partition goes last.
 * Points into C, which must outlive the layout. */
typedef struct tb_disk_layout {
        tb_disk_part parts[16];
        size_t n;
} tb_disk_layout;

int tb_disk_layout_from_config(const tb_cloudconfig *c, uint64_t efi_mib, tb_disk_layout *ret);
/* Smallest disk that holds the layout (the rest partition gets at least 64 MiB). */
uint64_t tb_disk_layout_min_bytes(const tb_disk_layout *l);
const tb_disk_part *tb_disk_layout_find(const tb_disk_layout *l, const char *label);

/* Size in bytes of a block device or regular file. */
int tb_disk_size(const char *device, uint64_t *ret);

/* Writes a new GPT with the layout to DEVICE (whatever was there is replaced; old signatures at
 * the start of the disk are wiped) and asks the kernel to re-read it. -ENOSPC if too small. */
int tb_disk_partition(const char *device, const tb_disk_layout *l);
/* tb_disk_partition's table carries TB_DISK_GUID_INSTALLING: this sets TB_DISK_GUID once
 * everything is on the disk (and synced), the table unchanged otherwise. */
int tb_disk_mark_installed(const char *device);

/* /dev/vda + 2 → /dev/vda2; /dev/nvme0n1, /dev/loop0, /dev/mmcblk0 + 2 → …p2. Waits up to
 * TIMEOUT_MS for the node to appear when WAIT. */
int tb_disk_part_device(const char *device, unsigned partno, char **ret);
int tb_disk_wait_node(const char *node, unsigned timeout_ms);

/* mkfs.vfat -n LABEL, or mkfs.FS -q -F -L LABEL (ext*), on DEV. */
int tb_disk_mkfs(const char *dev, const char *fs, const char *label);

/* Where disks are looked for. NULL (or a NULL field): the running system's /sys, /dev and
 * efivarfs; tests point them at a tree of their own (image files as nodes). */
typedef struct tb_disk_env {
        const char *sysfs;    /* its block/NAME directories: size, ro, removable */
        const char *dev;      /* the node of block/NAME is DEV/NAME */
        const char *efivarfs;
} tb_disk_env;

/* The disk (whole device, DEV/NAME) that holds the running boot medium, identified from the
 * firmware's variables: the one with the GPT partition systemd-boot reported in
 * LoaderDevicePartUUID; without the variable (an El Torito boot from a CD has no GPT node) the
 * one optical drive (sr*) holding ISO 9660 — never some other disk that happens to carry one.
 * *RET NULL if none; -ENOTUNIQ (logged) if two qualify. */
int tb_disk_boot_medium_env(const tb_disk_env *env, char **ret);
int tb_disk_boot_medium(char **ret);
/* Whether DEVICE (any path, by-id links included: compared by device number) is, or is a
 * partition of, the boot medium disk. True when the medium cannot be told. */
bool tb_disk_is_boot_medium(const tb_disk_env *env, const char *device);

/* The device number of the block device PATH (symlinks followed) and of its whole disk. */
int tb_disk_devnums(const char *path, dev_t *ret_dev, dev_t *ret_whole);
/* 1 with *RET_WHY ("mounted at /x", "used as swap (/dev/x)", "vda2 is held by dm-0") when the
 * disk of DEVICE or a partition of it is in use, 0 when free, < 0 on errors. Compared by device
 * numbers against /proc/self/mountinfo, /proc/swaps and sysfs holders/. */
int tb_disk_busy(const char *device, char **ret_why);

/* install.device "auto": the largest writable disk that is not dm-*, loop, ram, zram, a CD or
 * the medium, not removable or on USB, and blank (no partition table, file system or LUKS
 * signature, probed with libblkid) unless FORCE. Every disk skipped is logged with the reason. */
int tb_disk_pick_auto_env(const tb_disk_env *env, bool force, char **ret);
int tb_disk_pick_auto(bool force, char **ret);
