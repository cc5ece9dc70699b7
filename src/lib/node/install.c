/* install.c — the installer's steps, in Kairos' order (shared/research/kairos.md §4.4). */
#include "node/install.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/bootentries.h"
#include "util/buf.h"
#include "sb/efivar.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strset.h"
#include "util/testhook.h"
#include "tpm/luks.h"
#include "measure/tpm2-policy.h"
#include "tpm/tpm2.h"
#include "node/upgrade-pcrkey.h"
#include "pe/pe.h"
#include "sb/sbdb.h"

#define MIB (UINT64_C(1) << 20)
#define PUBKEY_MAX ((size_t)64 << 10)

/* ---- ESP sizing ---- */

static uint64_t walk_uki_bytes, walk_other_bytes;

static int size_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (type != FTW_F)
                return 0;
        if (strncmp(path + ftw->base, TB_BOOT_NOROLE, strlen(TB_BOOT_NOROLE)) == 0)
                walk_uki_bytes += (uint64_t)st->st_size;
        else
                walk_other_bytes += (uint64_t)st->st_size;
        return 0;
}

static uint64_t esp_mib(uint64_t uki_bytes, uint64_t other_bytes, unsigned growth) {
        uint64_t bytes = ((uint64_t)TB_INSTALL_ESP_GENERATIONS * growth * uki_bytes + 2 * other_bytes) / 10 * 11;
        return (bytes + MIB - 1) / MIB + 16;
}

int tb_install_esp_size_from_medium(const char *source_dir, tb_install_esp_size *ret) {
        walk_uki_bytes = walk_other_bytes = 0;
        if (nftw(source_dir, size_one, 16, FTW_PHYS) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot read the medium's ESP", source_dir);
        if (walk_uki_bytes == 0) {
                tb_err("%s: no %s* entries: not a trustboot medium", source_dir, TB_BOOT_NOROLE);
                return -ENOENT;
        }
        ret->uki_bytes = walk_uki_bytes;
        ret->other_bytes = walk_other_bytes;
        ret->min_mib = esp_mib(walk_uki_bytes, walk_other_bytes, 1);
        ret->default_mib = esp_mib(walk_uki_bytes, walk_other_bytes, TB_INSTALL_ESP_GROWTH);
        if (ret->default_mib < 64)
                ret->default_mib = 64;
        return 0;
}

int tb_install_efi_mib(const char *source_dir, uint64_t config_mib, uint64_t *ret) {
        tb_install_esp_size s;
        int r = tb_install_esp_size_from_medium(source_dir, &s);

        if (r < 0)
                return r;
        if (config_mib == 0) {
                *ret = s.default_mib;
                return 0;
        }
        if (config_mib < s.min_mib) {
                tb_err("install.partitions.efi.size: %llu MiB is too small: the ESP must hold the medium's UKIs "
                       "(%.1f MiB) five times — four boot roles and an upgrade's next one — plus %.1f MiB of other "
                       "files twice and the FAT's overhead: at least %llu MiB (default %llu MiB, room for images "
                       "that double)",
                       (unsigned long long)config_mib, (double)s.uki_bytes / MIB, (double)s.other_bytes / MIB,
                       (unsigned long long)s.min_mib, (unsigned long long)s.default_mib);
                return -ENOSPC;
        }
        if (config_mib < s.default_mib)
                tb_warn("install.partitions.efi.size: %llu MiB leaves less room than the default %llu MiB for "
                        "images that grow", (unsigned long long)config_mib, (unsigned long long)s.default_mib);
        *ret = config_mib;
        return 0;
}

/* ---- checks ---- */

int tb_install_secure_boot(const char *efivarfs) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        int r = tb_efivar_read(efivarfs, "SecureBoot", &TB_GUID_EFI_GLOBAL_VARIABLE, NULL, &b);

        if (r < 0)
                return r;
        return b.len >= 1 && b.data[0] == 1;
}

static int read_pubkey(const tb_install_params *p, tb_buf *pem) {
        const char *path = p->pcr_public_key ? p->pcr_public_key : TB_INSTALL_PCR_PUBLIC_KEY;
        int r = tb_read_file(path, PUBKEY_MAX, pem);

        if (r < 0)
                return tb_log_errno(r, "%s: cannot read the PCR public key", path);
        return tb_tpm2_pubkey_check(pem->data, pem->len, path);
}

/* The seed promises encrypted OEM and persistent partitions: say so loudly when they will not be. */
static void warn_plain_system_partitions(const tb_install_params *p, const tb_disk_layout *l) {
        for (size_t i = 0; i < l->n; i++) {
                const char *label = l->parts[i].label;
                if (strcmp(label, TB_CLOUDCONFIG_OEM_LABEL) != 0 && strcmp(label, TB_CLOUDCONFIG_PERSISTENT_LABEL) != 0)
                        continue;
                if (!p->encrypt)
                        tb_warn("%s: NOT encrypted (--no-encrypt): its data will be readable by anyone holding the disk",
                                label);
                else if (!tb_cloudconfig_encrypts(p->config, label))
                        tb_warn("%s: NOT encrypted (install.encrypt-system-partitions: false): its data will be readable "
                                "by anyone holding the disk", label);
        }
}

/* ---- the medium's images: the upgrade's checks, before they are installed ---- */

typedef struct image_check {
        const tb_sbdb *db;
        const tb_buf *pem; /* NULL: not encrypting, no PCR key to keep */
        const char *pem_name;
        size_t n_images, n_ukis;
        int r;
} image_check;

static bool is_efi_name(const char *name) {
        size_t n = strlen(name);
        return n > 4 && strcasecmp(name + n - 4, ".efi") == 0;
}

static image_check *walk_check;

static int check_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        image_check *c = walk_check;
        int r;

        (void)st;
        if (type != FTW_F || !is_efi_name(path + ftw->base))
                return 0;
        c->n_images++;
        if (tb_pe_open(path, &pe) < 0) {
                tb_err("%s: not an EFI image the firmware could run", path);
                c->r = -EBADMSG;
                return 1;
        }
        if ((r = tb_sbdb_check(c->db, pe)) < 0) {
                c->r = r;
                return 1;
        }
        if (tb_pe_find_section(pe, ".linux")) {
                c->n_ukis++;
                if (c->pem && (r = tb_upgrade_pcrkey_check_pem(c->pem->data, c->pem->len, c->pem_name, pe)) < 0) {
                        c->r = r;
                        return 1;
                }
        }
        return 0;
}

/* Nothing goes onto the ESP that the firmware would refuse, and no UKI whose PCR policies are
 * signed by another key than the one the volumes are sealed to: a medium (a planted one, or one
 * built with other keys) cannot install UKIs that bypass db/dbx or never unlock the disks. */
static int check_images(const tb_install_params *p, const tb_buf *pem) {
        _cleanup_(tb_sbdb_freep) tb_sbdb *db = NULL;
        _cleanup_(freep) char *efi = tb_path_join(p->source_dir, "EFI");
        image_check c = {
                .pem = pem,
                .pem_name = p->pcr_public_key ? p->pcr_public_key : TB_INSTALL_PCR_PUBLIC_KEY,
        };
        int r;

        if (!efi)
                return tb_log_oom();
        r = tb_sbdb_load(p->efivarfs && *p->efivarfs ? p->efivarfs : NULL, &db);
        if (r < 0)
                return tb_log_errno(r, "the firmware's db cannot be read: the medium's images cannot be checked");
        c.db = db;
        walk_check = &c;
        if (nftw(efi, check_one, 16, FTW_PHYS) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot read", efi);
        if (c.r < 0)
                return c.r;
        if (c.n_ukis == 0) {
                tb_err("%s: no UKI among the medium's EFI images", efi);
                return -ENOENT;
        }
        tb_info("medium: %zu EFI images allowed by the firmware's db, %zu UKIs%s", c.n_images, c.n_ukis,
                pem ? " bound to the PCR key the volumes are sealed to" : "");
        return 0;
}

int tb_install_check(const tb_install_params *p, tb_disk_layout *l) {
        _cleanup_(freep) char *busy = NULL, *boot_entries = NULL;
        tb_disk_env env = { .efivarfs = p->efivarfs && *p->efivarfs ? p->efivarfs : NULL };
        uint64_t efi_mib = 0, size = 0;
        struct stat st;
        int r;

        if (stat(p->device, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot use as install target", p->device);
        if (!S_ISBLK(st.st_mode)) {
                tb_err("%s: not a block device", p->device);
                return -ENOTBLK;
        }
        if (tb_disk_is_boot_medium(&env, p->device)) {
                tb_err("%s: is the boot medium; refusing to install over it", p->device);
                return -EBUSY;
        }
        if ((r = tb_disk_busy(p->device, &busy)) != 0) {
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot tell whether it is in use", p->device);
                tb_err("%s: in use (%s); refusing to install over it", p->device, busy);
                return -EBUSY;
        }
        /* What the kernel knows beyond the above (another program's exclusive open, a holder
         * sysfs does not show): the exclusive open sfdisk and systemd-repart make too. */
        _cleanup_(closep) int excl = open(p->device, O_RDONLY | O_EXCL | O_CLOEXEC);
        if (excl < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open exclusively%s", p->device,
                                    errno == EBUSY ? " (in use by the kernel or another program)" : "");
        if ((r = tb_cloudconfig_validate(p->config)) < 0)
                return r;
        if (!(boot_entries = tb_path_join(p->source_dir, "EFI/BOOT/BOOTX64.EFI")))
                return tb_log_oom();
        if (!tb_path_exists(boot_entries)) {
                tb_err("%s: no EFI/BOOT/BOOTX64.EFI: not the ESP of a medium", p->source_dir);
                return -ENOENT;
        }
        if ((r = tb_install_efi_mib(p->source_dir, p->config->efi_mib, &efi_mib)) < 0)
                return r;
        if ((r = tb_disk_layout_from_config(p->config, efi_mib, l)) < 0)
                return r;
        if ((r = tb_disk_size(p->device, &size)) < 0)
                return tb_log_errno(r, "%s: cannot get its size", p->device);
        if (size < tb_disk_layout_min_bytes(l)) {
                tb_err("%s: too small: %llu MiB, the layout needs %llu MiB (ESP %llu MiB)", p->device,
                       (unsigned long long)(size / MIB), (unsigned long long)(tb_disk_layout_min_bytes(l) / MIB),
                       (unsigned long long)efi_mib);
                return -ENOSPC;
        }
        warn_plain_system_partitions(p, l);
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        if (p->encrypt && (r = read_pubkey(p, &pem)) < 0)
                return r;
        if (p->check_images && (r = check_images(p, p->encrypt ? &pem : NULL)) < 0)
                return r;
        if (p->encrypt) {
                _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
                if ((r = tb_tpm2_open(p->tpm2_device, &tpm)) < 0)
                        return r;
        }
        return 0;
}

/* ---- copying ---- */

static int copy_tree(const char *src, const char *dst) {
        _cleanup_(freep) struct dirent **list = NULL;
        int n, r = 0;

        if (mkdir(dst, 0755) < 0 && errno != EEXIST)
                return tb_log_errno(negative_errno(), "%s: cannot create", dst);
        n = scandir(src, &list, NULL, alphasort);
        if (n < 0)
                return tb_log_errno(negative_errno(), "%s: cannot list", src);
        for (int i = 0; i < n; i++) {
                struct dirent *de = list[i];
                if (r >= 0 && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        _cleanup_(freep) char *s = tb_path_join(src, de->d_name), *d = tb_path_join(dst, de->d_name);
                        struct stat st;
                        if (!s || !d)
                                r = tb_log_oom();
                        else if (lstat(s, &st) < 0)
                                r = tb_log_errno(negative_errno(), "%s: cannot stat", s);
                        else if (S_ISDIR(st.st_mode))
                                r = copy_tree(s, d);
                        else if (S_ISREG(st.st_mode))
                                r = tb_copy_file(s, d, 0644, true);
                }
                free(de);
        }
        return r;
}

/* loader.conf: a "default" pointing at the active entry defeats boot assessment (mono#3831). */
static int strip_default_active(const char *esp) {
        _cleanup_(freep) char *path = tb_path_join(esp, "loader/loader.conf");
        _cleanup_(tb_buf_freep) tb_buf in = TB_BUF_INIT, out = TB_BUF_INIT;
        int r;

        if (!path)
                return tb_log_oom();
        r = tb_read_file(path, (size_t)64 << 10, &in);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        size_t i = 0;
        bool changed = false;
        while (i < in.len) {
                const uint8_t *nl = memchr(in.data + i, '\n', in.len - i);
                size_t len = nl ? (size_t)(nl - in.data) - i + 1 : in.len - i;
                if (len > 8 && memcmp(in.data + i, "default", 7) == 0 && (in.data[i + 7] == ' ' || in.data[i + 7] == '\t') &&
                    memmem(in.data + i, len, "active", 6))
                        changed = true;
                else if ((r = tb_buf_append(&out, in.data + i, len)) < 0)
                        return r;
                i += len;
        }
        if (!changed)
                return 0;
        r = tb_write_file_atomic(path, out.data, out.len, 0644, true);
        return r < 0 ? tb_log_errno(r, "%s: cannot write", path) : 0;
}

static int mount_at(const char *node, const char *dir, const char *fs) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return tb_log_errno(negative_errno(), "%s: cannot create", dir);
        if (mount(node, dir, fs, 0, NULL) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot mount %s (%s)", dir, node, fs);
        return 0;
}

static int unmount(const char *dir) {
        sync();
        if (umount(dir) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot unmount", dir);
        (void)rmdir(dir);
        return 0;
}

static bool is_loader_dir(const char *name) {
        return strcasecmp(name, "BOOT") == 0 || strcasecmp(name, "systemd") == 0;
}

/* mcopy -s SRCS... DST into the FAT on NODE, one write step. */
static int mcopy(const char *node, const char *what, const char *const *srcs, size_t n, const char *dst) {
        const char *argv[16] = { "mcopy", "-s", "-Q", "-i", node };
        size_t a = 5;

        if (n == 0)
                return 0;
        if (n > ARRAY_SIZE(argv) - a - 2)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                argv[a++] = srcs[i];
        argv[a++] = dst;
        tb_testhook_step(what);
        return tb_exec_checked(argv, NULL);
}

/* The staged ESP onto the FAT in the order that makes a disk bootable last: the UKIs, then the
 * entries and loader.conf that name them, then systemd-boot and the fallback loader. A power loss
 * before the end leaves a disk the firmware finds nothing to boot on (the medium boots again and
 * the install can run again), never a loader without its entries or entries without their UKIs.
 * The loaders wait outside the staged EFI/ meanwhile (mcopy alone: no mmd on small images). */
static int copy_to_fat(const char *stage, const char *node) {
        _cleanup_(freep) char *efi = tb_path_join(stage, "EFI"), *loader = tb_path_join(stage, "loader"),
                              *held = tb_path_join(stage, "loaders-last");
        _cleanup_(freep) struct dirent **list = NULL;
        _cleanup_(tb_strv_freep) char **loaders = NULL;
        size_t n_loaders = 0;
        int n, r = 0;

        if (!efi || !loader || !held)
                return tb_log_oom();
        /* mtools refuses file systems whose geometry does not match a floppy's otherwise */
        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        if (mkdir(held, 0755) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", held);
        n = scandir(efi, &list, NULL, alphasort);
        if (n < 0)
                return tb_log_errno(negative_errno(), "%s: cannot list", efi);
        for (int i = 0; i < n; i++) {
                const char *name = list[i]->d_name;
                if (r >= 0 && is_loader_dir(name)) {
                        _cleanup_(freep) char *from = tb_path_join(efi, name), *to = tb_path_join(held, name);
                        if (!from || !to)
                                r = tb_log_oom();
                        else if (rename(from, to) < 0)
                                r = tb_log_errno(negative_errno(), "%s: cannot move aside", from);
                        else
                                r = tb_strv_push(&loaders, &n_loaders, to);
                }
                free(list[i]);
        }
        if (r < 0 ||
            (r = mcopy(node, "esp-copy EFI", (const char *const *)&efi, 1, "::/")) < 0 ||
            (r = mcopy(node, "esp-copy loader", (const char *const *)&loader, 1, "::/")) < 0 ||
            (r = mcopy(node, "esp-copy boot-loader", (const char *const *)loaders, n_loaders, "::/EFI/")) < 0)
                return r;
        return 0;
}

/* The ESP is laid out in a staging directory and copied in with mtools: installing needs no vfat
 * driver (build hosts and containers often lack one) and the entries are complete before the
 * FAT is written. */
static int fill_esp(const tb_install_params *p, const char *node) {
        _cleanup_(freep) char *stage = tb_path_join(p->work_dir ? p->work_dir : TB_INSTALL_RUN_DIR "/install", "esp");
        int r;

        if (!stage)
                return tb_log_oom();
        tb_rm_rf(stage);
        r = copy_tree(p->source_dir, stage);
        if (r >= 0)
                r = tb_bootentries_fan_out(stage);
        if (r >= 0)
                r = tb_bootentries_remove(stage, TB_BOOT_NOROLE);
        if (r >= 0)
                r = tb_bootentries_finish_entries(stage);
        if (r >= 0)
                r = strip_default_active(stage);
        if (r >= 0)
                r = copy_to_fat(stage, node);
        if (r >= 0 && !(p->efivarfs && !*p->efivarfs)) {
                /* Without efivarfs (a test host) there is nothing to select: the entries sort right anyway. */
                const char *vars = p->efivarfs ? p->efivarfs : TB_EFIVAR_DIR_DEFAULT;
                if (access(vars, W_OK) == 0) {
                        tb_testhook_step("set-oneshot");
                        r = tb_bootentries_select_oneshot(stage, vars, TB_ROLE_ACTIVE);
                } else
                        tb_warn("%s: not writable, LoaderEntryOneShot not set", vars);
        }
        tb_rm_rf(stage);
        return r;
}

static int copy_configs(const char *node, void *userdata) {
        const tb_install_params *p = userdata;
        _cleanup_(freep) char *dir = tb_path_join(p->work_dir ? p->work_dir : TB_INSTALL_RUN_DIR "/install", "oem");
        int r = 0, k;

        if (!dir)
                return tb_log_oom();
        if (p->n_config_files == 0)
                return 0;
        if ((r = mount_at(node, dir, "ext4")) < 0)
                return r;
        tb_testhook_step("copy-configs");
        for (size_t i = 0; r >= 0 && i < p->n_config_files; i++) {
                char name[32];
                snprintf(name, sizeof(name), "%zu_custom.yaml", 90 + i);
                _cleanup_(freep) char *dst = tb_path_join(dir, name);
                r = dst ? tb_copy_file(p->config_files[i], dst, 0600, true) : tb_log_oom();
        }
        k = unmount(dir);
        return r < 0 ? r : k;
}

static int encrypt_part(const tb_install_params *p, tb_tpm2 *tpm, const tb_buf *pem, const tb_disk_part *part,
                        const char *node) {
        char uuid[TB_DISK_UUID_STRING_SIZE];
        bool oem = strcmp(part->label, TB_CLOUDCONFIG_OEM_LABEL) == 0;
        tb_tpm2_seal_params sp = {
                .pcr_mask = p->config->bind_pcrs,
                .pubkey_pcr_mask = p->config->bind_public_pcrs,
                .pubkey_pem = pem->data,
                .pubkey_pem_len = pem->len,
        };
        tb_luks_enroll e = {
                .label = part->label,
                .uuid = uuid,
                .mkfs = part->fs,
                .populate = oem ? copy_configs : NULL,
                .userdata = (void *)p,
        };

        tb_disk_uuid5(part->label, uuid);
        return tb_luks_format_sealed(tpm, &sp, node, &e);
}

/* One partition of the layout: its file system or LUKS2 volume, and what goes into it. */
static int install_part(const tb_install_params *p, tb_tpm2 *tpm, const tb_buf *pem, const tb_disk_part *part) {
        _cleanup_(freep) char *node = NULL;
        int r;

        if ((r = tb_disk_part_device(p->device, part->partno, &node)) < 0)
                return r;
        if ((r = tb_disk_wait_node(node, 10000)) < 0)
                return r;
        bool oem = strcmp(part->label, TB_CLOUDCONFIG_OEM_LABEL) == 0;
        if (part->esp) {
                tb_info("%s: ESP (%s), %llu MiB: systemd-boot and the boot entries", node, part->label,
                        (unsigned long long)part->size_mib);
                if ((r = tb_disk_mkfs(node, "vfat", part->label)) < 0 || (r = fill_esp(p, node)) < 0)
                        return r;
        } else if (p->encrypt && tb_cloudconfig_encrypts(p->config, part->label)) {
                tb_info("%s: %s: LUKS2 sealed to the TPM, %s inside", node, part->label, part->fs ? part->fs : "nothing");
                if ((r = encrypt_part(p, tpm, pem, part, node)) < 0)
                        return r;
        } else if (part->fs) {
                tb_info("%s: %s: %s", node, part->label, part->fs);
                if ((r = tb_disk_mkfs(node, part->fs, part->label)) < 0)
                        return r;
                if (oem && (r = copy_configs(node, (void *)p)) < 0)
                        return r;
        }
        return 0;
}

int tb_install_run(const tb_install_params *p, const tb_disk_layout *l) {
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        const char *work = p->work_dir ? p->work_dir : TB_INSTALL_RUN_DIR "/install";
        int r;

        if (p->encrypt && ((r = read_pubkey(p, &pem)) < 0 || (r = tb_tpm2_open(p->tpm2_device, &tpm)) < 0))
                return r;
        if (mkdir(TB_INSTALL_RUN_DIR, 0755) < 0 && errno != EEXIST && !p->work_dir)
                return tb_log_errno(negative_errno(), "%s: cannot create", TB_INSTALL_RUN_DIR);
        if (mkdir(work, 0700) < 0 && errno != EEXIST)
                return tb_log_errno(negative_errno(), "%s: cannot create", work);

        tb_info("%s: writing the partition table", p->device);
        if ((r = tb_disk_partition(p->device, l)) < 0)
                return r;
        /* The ESP last, after everything else is on the disk: until its loader is written the
         * firmware finds nothing to boot there, so a power loss leaves a disk that boots the
         * medium again (the install can be run again from the start), never a node whose UKIs
         * look for volumes that are not formatted yet. */
        for (size_t i = 0; i < l->n; i++)
                if (!l->parts[i].esp && (r = install_part(p, tpm, &pem, &l->parts[i])) < 0)
                        return r;
        sync();
        for (size_t i = 0; i < l->n; i++)
                if (l->parts[i].esp && (r = install_part(p, tpm, &pem, &l->parts[i])) < 0)
                        return r;
        /* mtools does not sync: a power loss here may keep any part of the ESP's files. */
        tb_testhook_step("unsynced");
        sync();
        /* Everything is on the disk: only now does it stop being an interrupted install that
         * install.device auto may write over. */
        if ((r = tb_disk_mark_installed(p->device)) < 0)
                return r;
        sync();
        return 0;
}
