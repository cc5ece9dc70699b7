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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/bootentries.h"
#include "sb/efivar.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "util/log.h"

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
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
        uint64_t size = 0, need = tb_disk_layout_min_bytes(l);
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
        r = fdisk_assign_device(cxt, device, 0);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot open for partitioning", device);
        fdisk_disable_dialogs(cxt, 1);
        /* Wipe old file system / RAID / LUKS signatures so that blkid sees only the new table. */
        fdisk_enable_wipe(cxt, 1);
        r = fdisk_create_disklabel(cxt, "gpt");
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create a GPT", device);
        if ((r = fdisk_set_disklabel_id_from_string(cxt, TB_DISK_GUID)) < 0)
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
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write the partition table", device);
        struct stat st;
        if (stat(device, &st) == 0 && S_ISBLK(st.st_mode) && (r = tell_kernel(cxt, device, l)) < 0)
                return r;
        r = fdisk_deassign_device(cxt, 0);
        if (r < 0)
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
        char prog[32];

        if (strcmp(fs, "vfat") == 0 || strcmp(fs, "fat") == 0) {
                const char *argv[] = { "mkfs.vfat", "-n", label, dev, NULL };
                return tb_exec_checked(argv, NULL);
        }
        if (strchr(fs, '/') || strlen(fs) > 16)
                return tb_log_errno(-EINVAL, "%s: bad file system type", fs);
        snprintf(prog, sizeof(prog), "mkfs.%s", fs);
        if (strncmp(fs, "ext", 3) == 0) {
                const char *argv[] = { prog, "-q", "-F", "-L", label, dev, NULL };
                return tb_exec_checked(argv, NULL);
        }
        const char *argv[] = { prog, "-L", label, dev, NULL };
        return tb_exec_checked(argv, NULL);
}

/* ---- finding disks ---- */

static bool skip_disk(const char *name) {
        static const char *const prefixes[] = { "dm-", "loop", "ram", "zram", "sr", "fd", "md" };
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
                if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

static uint64_t sys_u64(const char *disk, const char *attr) {
        char path[256], buf[32] = "";
        FILE *f;

        snprintf(path, sizeof(path), "/sys/block/%s/%s", disk, attr);
        if (!(f = fopen(path, "re")))
                return 0;
        if (!fgets(buf, sizeof(buf), f))
                buf[0] = 0;
        fclose(f);
        return strtoull(buf, NULL, 10);
}

static bool probe_value(const char *dev, const char *tag, const char *want, bool partitions) {
        blkid_probe pr = blkid_new_probe_from_filename(dev);
        const char *v;
        bool found = false;

        if (!pr)
                return false;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_enable_partitions(pr, partitions);
        if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, tag, &v, NULL) == 0)
                found = strcasecmp(v, want) == 0;
        blkid_free_probe(pr);
        return found;
}

static bool disk_has_partuuid(const char *disk, const char *partuuid) {
        char path[300];
        struct dirent *de;
        DIR *d;
        bool found = false;

        snprintf(path, sizeof(path), "/sys/block/%s", disk);
        if (!(d = opendir(path)))
                return false;
        while (!found && (de = readdir(d))) {
                char dev[300];
                if (strncmp(de->d_name, disk, strlen(disk)) != 0)
                        continue;
                snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
                blkid_probe pr = blkid_new_probe_from_filename(dev);
                if (!pr)
                        continue;
                blkid_probe_enable_partitions(pr, 1);
                blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
                const char *v;
                if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "PART_ENTRY_UUID", &v, NULL) == 0)
                        found = strcasecmp(v, partuuid) == 0;
                blkid_free_probe(pr);
        }
        closedir(d);
        return found;
}

/* DISK (a /sys/block name) holds the medium: a partition is the ESP systemd-boot started from,
 * or the whole disk is an ISO 9660 image (CD-ROM or an ISO written to a USB stick). */
static bool disk_is_medium(const char *disk, const char *partuuid) {
        char dev[300];

        snprintf(dev, sizeof(dev), "/dev/%s", disk);
        return (partuuid && *partuuid && disk_has_partuuid(disk, partuuid)) || probe_value(dev, "TYPE", "iso9660", false);
}

int tb_disk_boot_medium(char **ret) {
        _cleanup_(freep) char *partuuid = NULL;
        struct dirent *de;
        DIR *d;

        *ret = NULL;
        (void)tb_efivar_read_string(NULL, TB_LOADER_DEVICE_PART_UUID, &TB_GUID_LOADER, &partuuid);
        if (!(d = opendir("/sys/block")))
                return 0;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && strncmp(de->d_name, "dm-", 3) != 0 && strncmp(de->d_name, "ram", 3) != 0 &&
                    disk_is_medium(de->d_name, partuuid)) {
                        if (asprintf(ret, "/dev/%s", de->d_name) < 0) {
                                closedir(d);
                                return tb_log_oom();
                        }
                        break;
                }
        closedir(d);
        return 0;
}

/* "/dev/vda2" → "vda"; "/dev/vda" → "vda" (via /sys/class/block/NAME/partition). */
static char *whole_disk_name(const char *device) {
        const char *base = strrchr(device, '/');
        char path[300], link[512];

        base = base ? base + 1 : device;
        snprintf(path, sizeof(path), "/sys/class/block/%s/partition", base);
        if (access(path, F_OK) != 0)
                return strdup(base);
        snprintf(path, sizeof(path), "/sys/class/block/%s/..", base);
        if (!realpath(path, link))
                return strdup(base);
        const char *p = strrchr(link, '/');
        return strdup(p ? p + 1 : link);
}

bool tb_disk_is_boot_medium(const char *device) {
        _cleanup_(freep) char *partuuid = NULL, *disk = whole_disk_name(device);

        (void)tb_efivar_read_string(NULL, TB_LOADER_DEVICE_PART_UUID, &TB_GUID_LOADER, &partuuid);
        return disk && disk_is_medium(disk, partuuid);
}

int tb_disk_pick_auto(char **ret) {
        _cleanup_(freep) char *medium = NULL, *best = NULL;
        uint64_t best_size = 0;
        struct dirent *de;
        DIR *d;

        (void)tb_disk_boot_medium(&medium);
        if (!(d = opendir("/sys/block")))
                return tb_log_errno(negative_errno(), "/sys/block: cannot list disks");
        while ((de = readdir(d))) {
                char dev[300];
                if (de->d_name[0] == '.' || skip_disk(de->d_name) || sys_u64(de->d_name, "ro"))
                        continue;
                snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
                if (medium && strcmp(dev, medium) == 0)
                        continue;
                uint64_t size = sys_u64(de->d_name, "size") * 512;
                if (size > best_size) {
                        free(best);
                        if (!(best = strdup(dev))) {
                                closedir(d);
                                return tb_log_oom();
                        }
                        best_size = size;
                }
        }
        closedir(d);
        if (!best) {
                tb_err("install.device auto: no disk found besides the boot medium");
                return -ENODEV;
        }
        *ret = TAKE_PTR(best);
        return 0;
}
