/* disk.c — GPT with libfdisk, mkfs through tb_exec, and finding disks in /sys/block. */
#include "node/disk.h"

#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libfdisk.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>

#include "node/bootentries.h"
#include "sb/efivar.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/testhook.h"

#define MIB (UINT64_C(1) << 20)
#define ESP_TYPE "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define LINUX_TYPE "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define REST_MIN_MIB 64

void tb_disk_uuid5(const char *name, char out[TB_DISK_UUID_STRING_SIZE]) {
        /* RFC 4122 NameSpace_URL 6ba7b811-9dad-11d1-80b4-00c04fd430c8 */
        static const uint8_t ns[16] = { 0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                        0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8 };
        uint8_t md[EVP_MAX_MD_SIZE];
        EVP_MD_CTX *c = EVP_MD_CTX_new();

        /* Allocation failure leaves md zero: an obviously wrong, never a random UUID. */
        memset(md, 0, sizeof(md));
        if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1) {
                EVP_DigestUpdate(c, ns, sizeof(ns));
                EVP_DigestUpdate(c, name, strlen(name));
                EVP_DigestFinal_ex(c, md, NULL);
        }
        EVP_MD_CTX_free(c);
        md[6] = (uint8_t)((md[6] & 0x0f) | 0x50);
        md[8] = (uint8_t)((md[8] & 0x3f) | 0x80);
        snprintf(out, TB_DISK_UUID_STRING_SIZE,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2],
                 md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
}

static int push(tb_disk_layout *l, tb_disk_part p) {
        if (l->n >= ARRAY_SIZE(l->parts)) {
                tb_err("install: too many partitions (at most %zu)", ARRAY_SIZE(l->parts));
                return -E2BIG;
        }
        l->parts[l->n++] = p;
        return 0;
}

int tb_disk_layout_from_config(const tb_cloudconfig *c, uint64_t efi_mib, tb_disk_layout *ret) {
        tb_disk_layout l = { .n = 0 };
        const tb_disk_part *rest = NULL;
        tb_disk_part persistent = { "persistent", TB_CLOUDCONFIG_PERSISTENT_LABEL, "ext4", c->persistent_mib, false, 0 };
        int r;

        if ((r = push(&l, (tb_disk_part){ "efi", TB_CLOUDCONFIG_EFI_LABEL, "vfat", efi_mib, true, 0 })) < 0 ||
            (r = push(&l, (tb_disk_part){ "oem", TB_CLOUDCONFIG_OEM_LABEL, "ext4", c->oem_mib, false, 0 })) < 0)
                return r;
        if (c->persistent_mib == 0)
                rest = &persistent;
        else if ((r = push(&l, persistent)) < 0)
                return r;
        tb_disk_part extra_rest;
        for (size_t i = 0; i < c->n_extra; i++) {
                const tb_cloudconfig_partition *e = &c->extra[i];
                tb_disk_part p = { e->name, e->label, e->fs, e->size_mib, false, 0 };
                if (e->size_mib == 0) {
                        if (rest) {
                                tb_err("install: only one partition can take the rest of the disk (size 0)");
                                return -EINVAL;
                        }
                        extra_rest = p;
                        rest = &extra_rest;
                } else if ((r = push(&l, p)) < 0)
                        return r;
        }
        if (rest && (r = push(&l, *rest)) < 0)
                return r;
        for (size_t i = 0; i < l.n; i++)
                l.parts[i].partno = (unsigned)i + 1;
        *ret = l;
        return 0;
}

uint64_t tb_disk_layout_min_bytes(const tb_disk_layout *l) {
        uint64_t mib = 1 + 1; /* first partition at 1 MiB; backup GPT at the end */
        for (size_t i = 0; i < l->n; i++)
                mib += l->parts[i].size_mib ? l->parts[i].size_mib : REST_MIN_MIB;
        return mib * MIB;
}

const tb_disk_part *tb_disk_layout_find(const tb_disk_layout *l, const char *label) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->parts[i].label, label) == 0)
                        return &l->parts[i];
        return NULL;
}

int tb_disk_size(const char *device, uint64_t *ret) {
        _cleanup_(closep) int fd = open(device, O_RDONLY | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISBLK(st.st_mode)) {
                uint64_t size;
                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return negative_errno();
                *ret = size;
        } else if (S_ISREG(st.st_mode))
                *ret = (uint64_t)st.st_size;
        else
                return -ENOTBLK;
        return 0;
}

TB_DEFINE_CLEANUP(struct fdisk_context *, fdisk_unref_context)
TB_DEFINE_CLEANUP(struct fdisk_partition *, fdisk_unref_partition)

static int add_part(struct fdisk_context *cxt, const char *device, const tb_disk_part *p, uint64_t start,
                    uint64_t size, bool rest) {
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
        struct fdisk_parttype *t;
        char uuid[TB_DISK_UUID_STRING_SIZE];
        size_t partno;
        int r;

        if (!pa)
                return tb_log_oom();
        t = fdisk_label_get_parttype_from_string(fdisk_get_label(cxt, NULL), p->esp ? ESP_TYPE : LINUX_TYPE);
        if (!t)
                return tb_log_errno(-EINVAL, "%s: no GPT partition type %s", device, p->esp ? ESP_TYPE : LINUX_TYPE);
        tb_disk_uuid5(p->label, uuid);
        if ((r = fdisk_partition_set_start(pa, start)) < 0 || (r = fdisk_partition_set_partno(pa, p->partno - 1)) < 0 ||
            (r = fdisk_partition_set_name(pa, p->name)) < 0 || (r = fdisk_partition_set_type(pa, t)) < 0 ||
            (r = fdisk_partition_set_uuid(pa, uuid)) < 0)
                goto fail;
        if (rest)
                r = fdisk_partition_end_follow_default(pa, 1);
        else
                r = fdisk_partition_set_size(pa, size);
        if (r < 0 || (r = fdisk_add_partition(cxt, pa, &partno)) < 0)
                goto fail;
        fdisk_unref_parttype(t);
        /* Kairos marks the ESP "required" (attribute bit 0) like its sgdisk call did. */
        if (p->esp && (r = fdisk_gpt_set_partition_attrs(cxt, partno, 1)) < 0)
                return tb_log_errno(r, "%s: cannot set the ESP's attributes", device);
        return 0;
fail:
        fdisk_unref_parttype(t);
        return tb_log_errno(r, "%s: cannot add partition %s", device, p->name);
}

/* BLKRRPART can succeed without creating anything (seen on loop devices in containers), so the
 * partitions are handed to the kernel one by one (BLKPG, what partx does), old ones dropped. */
static int tell_kernel(struct fdisk_context *cxt, const char *device, const tb_disk_layout *l) {
        int fd = fdisk_get_devfd(cxt);
        uint64_t ss = fdisk_get_sector_size(cxt);

        (void)fdisk_reread_partition_table(cxt);
        for (int pno = 1; pno <= 128; pno++) {
                struct blkpg_partition bp = { .pno = pno };
                struct blkpg_ioctl_arg a = { .op = BLKPG_DEL_PARTITION, .datalen = sizeof(bp), .data = &bp };
                (void)ioctl(fd, BLKPG, &a);
        }
        for (size_t i = 0; i < l->n; i++) {
                struct fdisk_partition *pa = NULL;
                int r = fdisk_get_partition(cxt, l->parts[i].partno - 1, &pa);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read back partition %u", device, l->parts[i].partno);
                struct blkpg_partition bp = {
                        .start = (long long)(fdisk_partition_get_start(pa) * ss),
                        .length = (long long)(fdisk_partition_get_size(pa) * ss),
                        .pno = (int)l->parts[i].partno,
                };
                struct blkpg_ioctl_arg a = { .op = BLKPG_ADD_PARTITION, .datalen = sizeof(bp), .data = &bp };
                fdisk_unref_partition(pa);
                if (ioctl(fd, BLKPG, &a) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot tell the kernel about partition %u", device,
                                            l->parts[i].partno);
        }
        return 0;
}

int tb_disk_partition(const char *device, const tb_disk_layout *l) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
        uint64_t size = 0, need = tb_disk_layout_min_bytes(l);
        struct stat st;
        int r;

        if (!cxt)
                return tb_log_oom();
        r = tb_disk_size(device, &size);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot get its size", device);
        if (size < need) {
                tb_err("%s: too small: %llu MiB, the layout needs %llu MiB", device,
                       (unsigned long long)(size / MIB), (unsigned long long)(need / MIB));
                return -ENOSPC;
        }
        /* Exclusively, as sfdisk and systemd-repart do: the kernel refuses while a partition is
         * mounted, swapped on or held by device-mapper/MD, whatever path named the disk. The BSD
         * lock tells udev to leave the disk alone until the new table is complete. */
        bool blk = stat(device, &st) == 0 && S_ISBLK(st.st_mode);
        fd = open(device, O_RDWR | O_CLOEXEC | (blk ? O_EXCL : 0));
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open exclusively for partitioning%s", device,
                                    errno == EBUSY ? " (in use)" : "");
        if (blk && flock(fd, LOCK_EX) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot lock", device);
        r = fdisk_assign_device_by_fd(cxt, fd, device, 0);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot open for partitioning", device);
        fdisk_disable_dialogs(cxt, 1);
        /* Wipe old file system / RAID / LUKS signatures so that blkid sees only the new table. */
        fdisk_enable_wipe(cxt, 1);
        r = fdisk_create_disklabel(cxt, "gpt");
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create a GPT", device);
        /* Marked as an install in progress until tb_disk_mark_installed(): auto mode may install
         * over an interrupted install, never over a complete one. */
        if ((r = fdisk_set_disklabel_id_from_string(cxt, TB_DISK_GUID_INSTALLING)) < 0)
                return tb_log_errno(r, "%s: cannot set the disk GUID", device);

        uint64_t ss = fdisk_get_sector_size(cxt), start = MIB / ss;
        for (size_t i = 0; i < l->n; i++) {
                const tb_disk_part *p = &l->parts[i];
                bool rest = p->size_mib == 0 || i + 1 == l->n;
                uint64_t sectors = p->size_mib * MIB / ss;
                /* As Kairos: the last partition is trimmed to leave room for the backup GPT. */
                if ((r = add_part(cxt, device, p, start, sectors, rest && p->size_mib == 0)) < 0)
                        return r;
                start += sectors;
        }
        tb_testhook_step("write-gpt");
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write the partition table", device);
        /* A power loss here may keep any part of the table (libfdisk syncs in deassign). */
        tb_testhook_step("unsynced");
        if (blk && (r = tell_kernel(cxt, device, l)) < 0)
                return r;
        r = fdisk_deassign_device(cxt, 0);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot sync the partition table", device);
        return 0;
}

/* Only the GPT header's disk GUID changes (libfdisk writes the backup header, then the primary):
 * a power loss during the write leaves a valid header with one GUID or the other, and the same
 * partition entries. */
int tb_disk_mark_installed(const char *device) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
        struct stat st;
        int r;

        if (!cxt)
                return tb_log_oom();
        bool blk = stat(device, &st) == 0 && S_ISBLK(st.st_mode);
        fd = open(device, O_RDWR | O_CLOEXEC | (blk ? O_EXCL : 0));
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open exclusively", device);
        if ((r = fdisk_assign_device_by_fd(cxt, fd, device, 0)) < 0)
                return tb_log_errno(r, "%s: cannot read the partition table", device);
        if (!fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT)) {
                tb_err("%s: no GPT", device);
                return -EINVAL;
        }
        fdisk_disable_dialogs(cxt, 1);
        if ((r = fdisk_set_disklabel_id_from_string(cxt, TB_DISK_GUID)) < 0)
                return tb_log_errno(r, "%s: cannot set the disk GUID", device);
        tb_testhook_step("mark-installed");
        if ((r = fdisk_write_disklabel(cxt)) < 0)
                return tb_log_errno(r, "%s: cannot write the partition table", device);
        if ((r = fdisk_deassign_device(cxt, 0)) < 0)
                return tb_log_errno(r, "%s: cannot sync the partition table", device);
        return 0;
}

int tb_disk_part_device(const char *device, unsigned partno, char **ret) {
        size_t n = strlen(device);
        bool digit = n > 0 && isdigit((unsigned char)device[n - 1]);

        if (asprintf(ret, "%s%s%u", device, digit ? "p" : "", partno) < 0)
                return tb_log_oom();
        return 0;
}

int tb_disk_wait_node(const char *node, unsigned timeout_ms) {
        for (unsigned waited = 0;; waited += 50) {
                if (access(node, F_OK) == 0)
                        return 0;
                if (waited >= timeout_ms)
                        return tb_log_errno(-ENOENT, "%s: did not appear", node);
                nanosleep(&(struct timespec){ 0, 50L * 1000 * 1000 }, NULL);
        }
}

int tb_disk_mkfs(const char *dev, const char *fs, const char *label) {
        char prog[32], step[64];

        snprintf(step, sizeof(step), "mkfs %s", label);
        tb_testhook_step(step);

        if (strcmp(fs, "vfat") == 0 || strcmp(fs, "fat") == 0) {
                const char *argv[] = { "mkfs.vfat", "-n", label, dev, NULL };
                return tb_exec_checked(argv, NULL);
        }
        if (!tb_cloudconfig_fs_name_ok(fs)) {
                tb_err("%s: '%s' is not a file system type (lower-case letters and digits, as in mkfs.ext4)", dev, fs);
                return -EINVAL;
        }
        snprintf(prog, sizeof(prog), "mkfs.%s", fs);
        if (strncmp(fs, "ext", 3) == 0) {
                const char *argv[] = { prog, "-q", "-F", "-L", label, dev, NULL };
                return tb_exec_checked(argv, NULL);
        }
        const char *argv[] = { prog, "-L", label, dev, NULL };
        return tb_exec_checked(argv, NULL);
}

/* ---- finding disks ---- */

static const char *env_sysfs(const tb_disk_env *env) {
        return env && env->sysfs ? env->sysfs : "/sys";
}

static const char *env_dev(const tb_disk_env *env) {
        return env && env->dev ? env->dev : "/dev";
}

static bool skip_disk(const char *name) {
        static const char *const prefixes[] = { "dm-", "loop", "ram", "zram", "sr", "fd", "md", "nbd" };
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
                if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

static uint64_t sys_u64(const tb_disk_env *env, const char *disk, const char *attr) {
        char path[PATH_MAX], buf[32] = "";
        FILE *f;

        snprintf(path, sizeof(path), "%s/block/%s/%s", env_sysfs(env), disk, attr);
        if (!(f = fopen(path, "re")))
                return 0;
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = 0;
        fclose(f);
        return strtoull(buf, NULL, 10);
}

/* Removable media (the RMB bit) and anything on USB: sticks and card readers that happen to be
 * plugged in are never "the biggest disk" to wipe. */
static const char *removable_why(const tb_disk_env *env, const char *disk) {
        char path[PATH_MAX], real[PATH_MAX];

        if (sys_u64(env, disk, "removable"))
                return "removable";
        snprintf(path, sizeof(path), "%s/block/%s", env_sysfs(env), disk);
        if (realpath(path, real) && strstr(real, "/usb"))
                return "on USB";
        return NULL;
}

/* The first signature on NODE, as "a gpt partition table", "a crypto_LUKS volume", …, or NULL
 * for a blank disk. Probed with libblkid: partition tables and superblocks, the whole device.
 * *RET_INTERRUPTED: the signature is the GPT of an install that did not finish. */
static int signature(const char *node, char *what, size_t size, bool *ret_interrupted) {
        blkid_probe pr = blkid_new_probe_from_filename(node);
        const char *v = NULL;
        int r;

        if (!pr)
                return tb_log_errno(errno ? negative_errno() : -EIO, "%s: cannot probe", node);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        blkid_probe_enable_partitions(pr, 1);
        r = blkid_do_safeprobe(pr);
        if (r == 1)
                what[0] = 0;
        else if (r == -2)
                snprintf(what, size, "several signatures");
        else if (r == 0 && blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0) {
                snprintf(what, size, "a %s partition table", v);
                *ret_interrupted = strcmp(v, "gpt") == 0 && blkid_probe_lookup_value(pr, "PTUUID", &v, NULL) == 0 &&
                                   strcasecmp(v, TB_DISK_GUID_INSTALLING) == 0;
        }
        else if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
                snprintf(what, size, "a %s signature", v);
        else if (r == 0)
                snprintf(what, size, "a signature");
        blkid_free_probe(pr);
        /* -1, or a value libblkid does not document: *WHAT was not written, the disk is not blank */
        if (r != 0 && r != 1 && r != -2)
                return tb_log_errno(-EIO, "%s: cannot probe", node);
        return 0;
}

/* Whether the disk NODE has a GPT partition whose unique GUID is PARTUUID (libblkid's partition
 * list: works on an image file as on a disk, no partition nodes needed). */
static bool has_partuuid(const char *node, const char *partuuid) {
        blkid_probe pr = blkid_new_probe_from_filename(node);
        blkid_partlist pl;
        bool found = false;

        if (!pr)
                return false;
        blkid_probe_enable_superblocks(pr, 0);
        blkid_probe_enable_partitions(pr, 1);
        if (blkid_do_fullprobe(pr) >= 0 && (pl = blkid_probe_get_partitions(pr)))
                for (int i = 0; !found && i < blkid_partlist_numof_partitions(pl); i++) {
                        const char *u = blkid_partition_get_uuid(blkid_partlist_get_partition(pl, i));
                        found = u && strcasecmp(u, partuuid) == 0;
                }
        blkid_free_probe(pr);
        return found;
}

static bool is_iso9660(const char *node) {
        blkid_probe pr = blkid_new_probe_from_filename(node);
        const char *v;
        bool found = false;

        if (!pr)
                return false;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_enable_partitions(pr, 0);
        if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0)
                found = strcmp(v, "iso9660") == 0;
        blkid_free_probe(pr);
        return found;
}

static int add_name(char ***v, size_t *n, const char *name) {
        char **a = reallocarray(*v, *n + 2, sizeof(char *));
        if (!a)
                return -ENOMEM;
        *v = a;
        if (!(a[*n] = strdup(name)))
                return -ENOMEM;
        a[++*n] = NULL;
        return 0;
}

static void names_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

int tb_disk_boot_medium_env(const tb_disk_env *env, char **ret) {
        _cleanup_(freep) char *partuuid = NULL, *dir = NULL;
        char **cands = NULL;
        size_t n = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        *ret = NULL;
        (void)tb_efivar_read_string(env ? env->efivarfs : NULL, TB_LOADER_DEVICE_PART_UUID, &TB_GUID_LOADER, &partuuid);
        if (asprintf(&dir, "%s/block", env_sysfs(env)) < 0)
                return tb_log_oom();
        if (!(d = opendir(dir)))
                return 0;
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_(freep) char *node = NULL;
                if (de->d_name[0] == '.' || strncmp(de->d_name, "dm-", 3) == 0 || strncmp(de->d_name, "ram", 3) == 0 ||
                    strncmp(de->d_name, "zram", 4) == 0)
                        continue;
                if (asprintf(&node, "%s/%s", env_dev(env), de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                /* systemd-boot names the partition it was loaded from in LoaderDevicePartUUID (a
                 * GPT disk, or an ISO written to a stick: its hybrid GPT). Booted from a CD by El
                 * Torito there is no GPT node in the device path and no variable: the medium is
                 * then the optical drive holding an ISO 9660 — never any other disk that does. */
                if (partuuid && *partuuid ? has_partuuid(node, partuuid)
                                          : strncmp(de->d_name, "sr", 2) == 0 && is_iso9660(node))
                        r = add_name(&cands, &n, node);
        }
        closedir(d);
        if (r >= 0 && n > 1) {
                tb_err("boot medium: %s and %s both qualify (%s); cannot tell which one the firmware booted", cands[0],
                       cands[1], partuuid && *partuuid ? "the same LoaderDevicePartUUID" : "optical drives with ISO 9660");
                r = -ENOTUNIQ;
        } else if (r >= 0 && n == 1)
                *ret = TAKE_PTR(cands[0]);
        names_free(cands, n);
        return r;
}

int tb_disk_boot_medium(char **ret) {
        return tb_disk_boot_medium_env(NULL, ret);
}

int tb_disk_devnums(const char *path, dev_t *ret_dev, dev_t *ret_whole) {
        char sys[64], buf[32];
        struct stat st;
        FILE *f;
        unsigned ma, mi;

        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        *ret_dev = *ret_whole = st.st_rdev;
        /* A partition's sysfs directory has a "partition" file; its parent is the whole disk. */
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/partition", major(st.st_rdev), minor(st.st_rdev));
        if (access(sys, F_OK) != 0)
                return 0;
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/../dev", major(st.st_rdev), minor(st.st_rdev));
        if (!(f = fopen(sys, "re")))
                return negative_errno();
        bool ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%u:%u", &ma, &mi) == 2;
        fclose(f);
        if (!ok)
                return -EIO;
        *ret_whole = makedev(ma, mi);
        return 0;
}

/* The whole disk's device number of the block device PATH, or 0. */
static dev_t whole_of_path(const char *path) {
        dev_t dev, whole;
        return tb_disk_devnums(path, &dev, &whole) == 0 ? whole : 0;
}

static dev_t whole_of_devno(dev_t d) {
        char node[64];
        /* /dev/block/MAJ:MIN links exist with udev only; sysfs always knows. */
        snprintf(node, sizeof(node), "/sys/dev/block/%u:%u/partition", major(d), minor(d));
        if (access(node, F_OK) != 0)
                return d;
        char sys[64], buf[32];
        unsigned ma, mi;
        FILE *f;
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/../dev", major(d), minor(d));
        if (!(f = fopen(sys, "re")))
                return d;
        bool ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%u:%u", &ma, &mi) == 2;
        fclose(f);
        return ok ? makedev(ma, mi) : d;
}

bool tb_disk_is_boot_medium(const tb_disk_env *env, const char *device) {
        _cleanup_(freep) char *medium = NULL;
        dev_t target = whole_of_path(device);

        if (tb_disk_boot_medium_env(env, &medium) < 0)
                return true; /* cannot tell: do not risk it */
        return medium && target && whole_of_path(medium) == target;
}

/* Mounted: mountinfo's MAJ:MIN (field 3) and the mount source, when it names a block device. */
static int busy_mounted(dev_t whole, char **why) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char *line = NULL;
        size_t cap = 0;
        int r = 0;

        if (!f)
                return tb_log_errno(negative_errno(), "/proc/self/mountinfo: cannot read");
        while (r == 0 && getline(&line, &cap, f) > 0) {
                unsigned ma, mi;
                char mnt[PATH_MAX], src[PATH_MAX];
                const char *dash = strstr(line, " - ");
                if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) != 3)
                        continue;
                bool hit = ma != 0 && whole_of_devno(makedev(ma, mi)) == whole;
                if (!hit && dash && sscanf(dash + 3, "%*s %4095s", src) == 1 && src[0] == '/')
                        hit = whole_of_path(src) == whole;
                if (hit)
                        r = asprintf(why, "mounted at %s", mnt) < 0 ? -ENOMEM : 1;
        }
        free(line);
        fclose(f);
        return r;
}

static int busy_swap(dev_t whole, char **why) {
        FILE *f = fopen("/proc/swaps", "re");
        char path[PATH_MAX];
        int r = 0;

        if (!f)
                return 0; /* no swap support */
        /* The header line; glibc's warn_unused_result (Debian builds with _FORTIFY_SOURCE) wants
         * the result looked at, and a (void) cast does not count for GCC. */
        if (fscanf(f, "%*[^\n]\n") == EOF) {
                fclose(f);
                return 0;
        }
        while (r == 0 && fscanf(f, "%4095s %*[^\n]\n", path) == 1)
                if (whole_of_path(path) == whole)
                        r = asprintf(why, "used as swap (%s)", path) < 0 ? -ENOMEM : 1;
        fclose(f);
        return r;
}

/* device-mapper (LUKS, LVM), MD RAID and the like appear under holders/ of what they hold. */
static int first_holder(const char *sysdir, char *out, size_t size) {
        char path[PATH_MAX];
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "%s/holders", sysdir);
        if (!(d = opendir(path)))
                return 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        snprintf(out, size, "%s", de->d_name);
                        closedir(d);
                        return 1;
                }
        closedir(d);
        return 0;
}

static int busy_held(dev_t whole, char **why) {
        char sys[64], real[PATH_MAX], holder[256];
        struct dirent *de;
        DIR *d;
        int r = 0;

        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(whole), minor(whole));
        if (!realpath(sys, real))
                return 0;
        if (first_holder(real, holder, sizeof(holder)))
                return asprintf(why, "held by %s", holder) < 0 ? -ENOMEM : 1;
        if (!(d = opendir(real)))
                return 0;
        while (r == 0 && (de = readdir(d))) {
                char part[PATH_MAX + 300], pfile[PATH_MAX + 320];
                if (de->d_name[0] == '.')
                        continue;
                snprintf(part, sizeof(part), "%s/%s", real, de->d_name);
                snprintf(pfile, sizeof(pfile), "%s/partition", part);
                if (access(pfile, F_OK) == 0 && first_holder(part, holder, sizeof(holder)))
                        r = asprintf(why, "%s is held by %s", de->d_name, holder) < 0 ? -ENOMEM : 1;
        }
        closedir(d);
        return r;
}

int tb_disk_busy(const char *device, char **ret_why) {
        dev_t dev, whole;
        int r;

        *ret_why = NULL;
        if ((r = tb_disk_devnums(device, &dev, &whole)) < 0)
                return r;
        if ((r = busy_mounted(whole, ret_why)) != 0 || (r = busy_swap(whole, ret_why)) != 0)
                return r;
        return busy_held(whole, ret_why);
}

int tb_disk_pick_auto_env(const tb_disk_env *env, bool force, char **ret) {
        _cleanup_(freep) char *medium = NULL, *best = NULL, *dir = NULL;
        _cleanup_(tb_buf_freep) tb_buf skipped = TB_BUF_INIT;
        uint64_t best_size = 0;
        struct dirent *de;
        DIR *d;
        int r;

        if ((r = tb_disk_boot_medium_env(env, &medium)) < 0)
                return r;
        if (asprintf(&dir, "%s/block", env_sysfs(env)) < 0)
                return tb_log_oom();
        if (!(d = opendir(dir)))
                return tb_log_errno(negative_errno(), "%s: cannot list disks", dir);
        while ((de = readdir(d))) {
                _cleanup_(freep) char *node = NULL, *why = NULL;
                const char *rm;
                char sig[128];
                bool interrupted = false;
                if (de->d_name[0] == '.' || skip_disk(de->d_name) || sys_u64(env, de->d_name, "ro"))
                        continue;
                if (asprintf(&node, "%s/%s", env_dev(env), de->d_name) < 0) {
                        closedir(d);
                        return tb_log_oom();
                }
                if (medium && strcmp(node, medium) == 0)
                        continue;
                if ((rm = removable_why(env, de->d_name)))
                        r = asprintf(&why, "%s", rm);
                else if ((r = signature(node, sig, sizeof(sig), &interrupted)) >= 0 && interrupted)
                        /* Nothing of a node's on it yet: the ESP, the last thing written, came before the mark. */
                        tb_warn("install.device auto: %s holds an install that did not finish (its GPT's disk "
                                "GUID is still %s): it counts as blank", node, TB_DISK_GUID_INSTALLING);
                else if (r >= 0 && sig[0] && !force)
                        r = asprintf(&why, "carries %s (name it in install.device, or set install.force: true, to "
                                           "install over it)", sig);
                if (r < 0) {
                        closedir(d);
                        return r == -1 ? -ENOMEM : r;
                }
                if (why) {
                        tb_warn("install.device auto: %s skipped: %s", node, why);
                        if ((skipped.len && tb_buf_append(&skipped, "; ", 2) < 0) ||
                            tb_buf_append(&skipped, node, strlen(node)) < 0 || tb_buf_append(&skipped, " ", 1) < 0 ||
                            tb_buf_append(&skipped, why, strlen(why)) < 0) {
                                closedir(d);
                                return tb_log_oom();
                        }
                        continue;
                }
                uint64_t size = sys_u64(env, de->d_name, "size") * 512;
                if (size > best_size) {
                        free(best);
                        best = TAKE_PTR(node);
                        best_size = size;
                }
        }
        closedir(d);
        if (!best) {
                tb_err("install.device auto: no disk to install to besides the boot medium%s%.*s%s",
                       skipped.len ? " (" : "", (int)skipped.len, skipped.len ? (const char *)skipped.data : "",
                       skipped.len ? ")" : "");
                return -ENODEV;
        }
        *ret = TAKE_PTR(best);
        return 0;
}

int tb_disk_pick_auto(bool force, char **ret) {
        return tb_disk_pick_auto_env(NULL, force, ret);
}
