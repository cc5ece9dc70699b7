/* boot.c — PID 1 of the UKI's initrd: the policy (see boot.h). */
#include "node/boot.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <blkid.h>

#include "medium/isoread.h"
#include "node/boot-policy.h"
#include "node/boot-state.h"
#include "node/bootentries.h"
#include "node/bootsource.h"
#include "node/cloudconfig.h"
#include "node/cmdline.h"
#include "node/disk.h"
#include "node/handover.h"
#include "node/initrd-boot.h"
#include "node/install.h"
#include "node/installer.h"
#include "node/modules.h"
#include "rootfs/initrd.h"
#include "sb/efivar.h"
#include "tpm/luks.h"
#include "tpm/tpm2.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strset.h"

#define MiB (1024.0 * 1024.0)

/* What the boot found and decided, shared by its steps. */
struct boot {
        tb_modules *modules; /* NULL if libkmod could not start: built-in drivers only */
        tb_boot_origin origin;
        bool insecure;       /* Secure Boot off, going on because of trustboot.insecure */
        bool unlocked;       /* a sealed volume was opened */
        bool modules_reported;
        uint64_t start_usec;
        const char *mounts[4];
        size_t n_mounts;
        const char *why;     /* set by a failing step */
};

/* CLOCK_MONOTONIC counts from the kernel's start: "total" is the time until the image's init. */
static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int fail(struct boot *b, const char *why) {
        b->why = why;
        return -1;
}

static void extend(const char *word) {
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        int r;

        if (tb_tpm2_open(NULL, &tpm) < 0) {
                tb_info("PCR 11: no TPM, %s not measured", word);
                return;
        }
        r = tb_tpm2_pcr_extend(tpm, 11, word, strlen(word));
        if (r < 0)
                tb_info("PCR 11: extending %s failed", word);
        else
                tb_info("PCR 11: extended %s (%d banks)", word, r);
}

static void load(struct boot *b, const char *name) {
        if (b->modules)
                (void)tb_modules_load(b->modules, name, false);
}

/* systemd-stub's files for systemd-cryptsetup and friends in the booted system. */
static void copy_extra(void) {
        static const char *const files[] = { "tpm2-pcr-signature.json", "tpm2-pcr-public-key.pem" };
        (void)mkdir("/run/systemd", 0755);
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                _cleanup_(tb_buf_freep) tb_buf buf = TB_BUF_INIT;
                _cleanup_(freep) char *src = tb_path_join("/.extra", files[i]), *dst = tb_path_join("/run/systemd", files[i]);
                if (!src || !dst || tb_read_file(src, 1 << 20, &buf) < 0)
                        continue;
                if (tb_write_file_atomic(dst, buf.data, buf.len, 0644, true) == 0)
                        tb_info("%s: copied to /run/systemd", src);
        }
}

/* Drivers bind asynchronously after their modules load (a SCSI scan, a partition table read):
 * coldplug again until READY says the device we need is there, up to ~10 s. */
static void settle(struct boot *b, bool (*ready)(void *), void *userdata) {
        for (int i = 0; i < 100; i++) {
                if (ready && ready(userdata))
                        return;
                int n = b->modules ? tb_modules_coldplug(b->modules) : 0;
                if (!ready && n <= 0)
                        return; /* a pass that loaded nothing: every device there has its driver */
                if (n <= 0)
                        usleep(100 * 1000);
        }
}

static bool esp_present(void *userdata) {
        const char *partuuid = userdata;
        _cleanup_(freep) char *dev = blkid_evaluate_tag("PARTUUID", partuuid, NULL);
        return dev != NULL;
}

static bool medium_present(void *userdata) {
        _cleanup_(freep) char *disk = NULL;
        (void)userdata;
        return tb_disk_boot_medium(&disk) == 0 && disk;
}

static void load_modules(struct boot *b) {
        if (tb_modules_new(NULL, NULL, &b->modules) < 0)
                b->modules = NULL;
        settle(b, NULL, NULL);
        /* init's own job: EFI variables, the TPM (ACPI devices that coldplug normally covers) */
        load(b, "efivarfs");
        (void)tb_initrd_mount_api(); /* efivarfs, now that its module may be there */
        load(b, "tpm_crb");
        load(b, "tpm_tis");
}

/* dm-crypt and what aes-xts-plain64 (tb_luks_format's cipher) asks the crypto API for: xts over
 * ecb(aes). The kernel would ask /sbin/modprobe for them, which an image may lack. */
static void load_crypt(struct boot *b) {
        static const char *const names[] = { "dm_crypt", "crypto-xts", "crypto-ecb", "crypto-aes" };

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                load(b, names[i]);
}

static int secure_boot_gate(struct boot *b) {
        _cleanup_(tb_buf_freep) tb_buf v = TB_BUF_INIT;
        int r = tb_efivar_read(NULL, "SecureBoot", &TB_GUID_EFI_GLOBAL_VARIABLE, NULL, &v);
        tb_secure_boot sb = tb_boot_secure_boot_state(r, v.data, v.len);
        const char *why = NULL;

        switch (tb_boot_secure_boot_gate(sb, tb_cmdline_flag("trustboot.insecure"), &why)) {
        case TB_BOOT_GATE_SECURE:
                tb_info("Secure Boot: on");
                return 0;
        case TB_BOOT_GATE_REFUSE:
                return fail(b, why);
        case TB_BOOT_GATE_INSECURE:
                break;
        }
        /* Without Secure Boot the command line and the UKI itself may be anyone's: measure that
         * before anything could unseal, so that no signed PCR 11 policy matches this boot. */
        tb_info("Secure Boot: %s, going on because of trustboot.insecure; the TPM-sealed volumes stay locked",
                sb == TB_SECURE_BOOT_UNKNOWN ? "unknown" : "off");
        extend(TB_BOOT_WORD_INSECURE);
        b->insecure = true;
        return 0;
}

struct unlock {
        const char *disk;
        unsigned failed, unlocked;
        char *oem, *persistent; /* mapper names of the volumes labelled COS_OEM, COS_PERSISTENT */
};

static int unlock_one(const char *device, const char *name, void *userdata) {
        struct unlock *u = userdata;
        _cleanup_(freep) char *label = NULL;
        tb_luks_unlock_params p = { 0 };

        /* Only the disk the system booted from: a stick must not win the name race with an
         * older copy of a volume (issue 17, Low 5). */
        if (!tb_block_on_disk(device, u->disk)) {
                tb_info("%s: %s: not on the booted disk %s, left locked", device, name, u->disk);
                return 0;
        }
        (void)tb_luks_has_tpm2_token(device, &label);
        tb_boot_volume kind = tb_boot_volume_kind(label);
        if (kind == TB_BOOT_VOLUME_OEM && !u->oem)
                u->oem = strdup(name);
        else if (kind == TB_BOOT_VOLUME_PERSISTENT && !u->persistent)
                u->persistent = strdup(name);
        if (tb_luks_is_active(name))
                return 0;
        if (tb_luks_unlock(device, name, &p) < 0) {
                u->failed++;
                tb_info("%s: %s: NOT unlocked by the TPM", device, name);
        } else {
                u->unlocked++;
                tb_info("%s: unlocked by the TPM as /dev/mapper/%s", device, name);
        }
        return 0;
}

/* Mounts DEVICE at WHERE with the file system libblkid finds on it (its module loaded first). */
static int mount_device(struct boot *b, const char *device, const char *where, unsigned long flags,
                        const char *options) {
        _cleanup_(freep) char *type = blkid_get_tag_value(NULL, "TYPE", device);
        char alias[64];

        if (!type)
                return tb_log_errno(-ENOENT, "%s: no file system found", device);
        snprintf(alias, sizeof(alias), "fs-%s", type);
        load(b, alias);
        (void)mkdir(where, 0755);
        if (mount(device, where, type, flags, options) < 0)
                return tb_log_errno(negative_errno(), "%s (%s): cannot mount at %s", device, type, where);
        tb_info("%s mounted at %s", device, where);
        b->mounts[b->n_mounts++] = where;
        return 0;
}

static int from_disk(struct boot *b) {
        struct unlock u = { .disk = b->origin.disk };
        _cleanup_(freep) char *oem = NULL, *persistent = NULL;
        const char *why;
        int r;

        if (b->insecure) {
                tb_info("not unlocking the sealed volumes: Secure Boot is off, PCR 11 carries %s",
                        TB_BOOT_WORD_INSECURE);
                return 0;
        }
        load_crypt(b);
        uint64_t t0 = now_usec();
        r = tb_luks_foreach_tpm2_volume(unlock_one, &u);
        oem = u.oem, persistent = u.persistent;
        tb_info("unlock: %u volumes in %.0f ms", u.unlocked, (double)(now_usec() - t0) / 1000.0);
        if ((why = tb_boot_unlock_verdict(r, u.failed, oem != NULL)))
                return fail(b, why);
        b->unlocked = u.unlocked > 0;
        _cleanup_(freep) char *oem_dev = tb_path_join("/dev/mapper", oem);
        if (!oem_dev || mount_device(b, oem_dev, "/oem", 0, NULL) < 0)
                return fail(b, "cannot mount COS_OEM");
        if (tb_boot_role_mounts_persistent(b->origin.role)) {
                _cleanup_(freep) char *dev = persistent ? tb_path_join("/dev/mapper", persistent) : NULL;
                if (!dev || mount_device(b, dev, "/usr/local", 0, NULL) < 0)
                        return fail(b, "cannot mount COS_PERSISTENT");
        }
        /* The ESP the loader started from at /efi, where `trustboot upgrade` and `bootentry` look
         * for it. Only root may read it (as systemd mounts it); no access times, so reading an
         * entry writes nothing. The system runs without it: a warning, not a stop. */
        load(b, "nls_cp437");
        load(b, "nls_ascii");
        load(b, "nls_utf8");
        if (mount_device(b, b->origin.esp_device, "/efi", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME,
                         "umask=0077,shortname=mixed") < 0)
                tb_warn("the system runs without /efi");
        return 0;
}

static void report_modules(struct boot *b);

/* The medium's ESP: efiboot.img inside the ISO 9660 file system of the boot medium, its files
 * copied out by the library's reader. */
static int medium_esp(struct boot *b, const char *dst) {
        _cleanup_(freep) char *disk = NULL, *img = NULL;
        const char *iso = TB_INSTALL_RUN_DIR "/iso";

        load(b, "sr_mod");
        load(b, "fs-iso9660");
        settle(b, medium_present, NULL);
        if (tb_disk_boot_medium(&disk) < 0 || !disk)
                return tb_log_errno(-ENOENT, "medium: no ISO 9660 disk found");
        (void)mkdir(TB_INSTALL_RUN_DIR, 0755);
        (void)mkdir(iso, 0755);
        if (mount(disk, iso, "iso9660", MS_RDONLY, NULL) < 0)
                return tb_log_errno(negative_errno(), "medium: %s: cannot mount", disk);
        if (!(img = tb_path_join(iso, "efiboot.img")))
                return tb_log_oom();
        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        if (tb_isoread_fat_extract(img, dst) < 0)
                return -EIO;
        (void)umount(iso);
        tb_info("medium: %s, ESP copied to %s", disk, dst);
        return 0;
}

static int install(struct boot *b) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(tb_strv_freep) char **files = NULL;
        _cleanup_(freep) char *device = NULL;
        size_t n_files = 0;
        tb_disk_layout l;
        int r;

        /* The configuration files in effect, as `trustboot install` finds them, and their merge. */
        if (tb_installer_config(NULL, 0, &files, &n_files, &c) < 0)
                return fail(b, "the install configuration is broken");
        if (!c->auto_install) {
                /* As Kairos: without install.auto the medium boots as a live system, where
                 * `trustboot install` can be run by hand. */
                tb_info("install-mode: install.auto is not set, booting the live system (run 'trustboot install')");
                return 0;
        }
        if (medium_esp(b, TB_INSTALL_RUN_DIR "/medium") < 0)
                return fail(b, "cannot read the medium");
        load_crypt(b);
        tb_info("install-mode: running the installer");
        tb_log_set_prefix("trustboot install");
        if (tb_installer_device(c->device, c->force, &device) < 0)
                goto fail;
        tb_install_params p = {
                .config = c,
                .device = device,
                .source_dir = TB_INSTALL_RUN_DIR "/medium",
                .config_files = (const char *const *)files,
                .n_config_files = n_files,
                .encrypt = true,
                /* The medium's images pass the firmware's db/dbx and carry the PCR key before
                 * anything is written (install(1)); an insecure boot has no db to check against. */
                .check_images = !b->insecure,
        };
        if (tb_install_check(&p, &l) < 0)
                goto fail;
        for (size_t i = 0; i < l.n; i++) /* the installer mounts what it made (OEM's files) */
                if (l.parts[i].fs) {
                        char alias[64];
                        snprintf(alias, sizeof(alias), "fs-%s", l.parts[i].fs);
                        load(b, alias);
                }
        tb_log_set_prefix("trustboot init");
        report_modules(b); /* the installer may end the boot: now is the one time */
        tb_log_set_prefix("trustboot install");
        if (tb_install_run(&p, &l) < 0) {
                tb_err("%s: installation failed; the disk can be installed again from the start", device);
                goto fail;
        }
        tb_info("%s: installed", device);
        if (c->poweroff || c->reboot) {
                sync();
                tb_info("%s", c->poweroff ? "powering off" : "rebooting");
                r = reboot(c->poweroff ? RB_POWER_OFF : RB_AUTOBOOT);
                tb_log_errno(r < 0 ? negative_errno() : -EIO, "cannot %s", c->poweroff ? "power off" : "reboot");
                goto fail;
        }
        tb_log_set_prefix("trustboot init");
        tb_info("installation finished");
        return 0;
fail:
        tb_log_set_prefix("trustboot init");
        return fail(b, "installation failed");
}

static void report_modules(struct boot *b) {
        tb_modules_stats st = { 0 };

        if (b->modules_reported)
                return;
        b->modules_reported = true;
        if (b->modules)
                tb_modules_get_stats(b->modules, &st);
        tb_info("kernel modules: %u loaded, %u failed, in %.0f ms (%u coldplug passes, %.0f ms of them reading sysfs)",
                st.loaded, st.failed, (double)st.usec / 1000.0, st.passes, (double)st.walk_usec / 1000.0);
}

static int boot(struct boot *b) {
        _cleanup_(freep) char *init = NULL, *cmdline_init = NULL;

        if (tb_initrd_mount_api() < 0)
                return fail(b, "cannot mount the API file systems");
        int fd = open("/dev/console", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
                dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
                if (fd > 2)
                        close(fd);
        }
        tb_info("API file systems mounted");
        load_modules(b);
        if (secure_boot_gate(b) < 0)
                return -1;
        extend("enter-initrd");
        copy_extra();

        /* Wait for the ESP the loader names (the from-disk path needs its disk), then decide. */
        _cleanup_(freep) char *partuuid = NULL;
        if (tb_efivar_read_string(NULL, TB_LOADER_DEVICE_PART_UUID, &TB_GUID_LOADER, &partuuid) == 0 && *partuuid) {
                /* systemd-boot writes it upper case, libblkid's PARTUUID is lower case */
                for (char *p = partuuid; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                settle(b, esp_present, partuuid);
        }
        (void)tb_boot_origin_probe(NULL, &b->origin);
        if (b->origin.source == TB_BOOT_SOURCE_DISK) {
                tb_info("booted from disk: %s", b->origin.why);
        } else {
                /* Before anything interactive can run: nothing on this boot may unseal. */
                tb_info("booted from the medium (%s)", b->origin.why ? b->origin.why : "?");
                extend(TB_BOOT_WORD_MEDIUM);
        }
        tb_boot_state_write(tb_boot_state_word(b->origin.source, b->insecure), b->origin.why);
        switch (tb_boot_path_choose(b->origin.source, tb_cmdline_flag("install-mode"))) {
        case TB_BOOT_PATH_DISK:
                if (from_disk(b) < 0)
                        return -1;
                break;
        case TB_BOOT_PATH_INSTALL:
                if (install(b) < 0)
                        return -1;
                break;
        case TB_BOOT_PATH_LIVE:
                break;
        }
        report_modules(b);

        bool ignored;
        (void)tb_cmdline_get("init", &cmdline_init);
        const char *chosen = tb_boot_init_choose(cmdline_init, b->unlocked, &ignored);
        if (ignored)
                tb_warn("init=%s ignored: the sealed volumes are open, starting the image's /sbin/init", cmdline_init);
        if (!(init = strdup(chosen)))
                return fail(b, "out of memory");
        if (tb_handover_check_init(init) < 0)
                return fail(b, "the image has no init");
        int n = tb_handover_apply_xattrs(TB_INITRD_XATTR_MANIFEST);
        if (n > 0)
                tb_info("%d extended attributes (file capabilities) restored", n);
        uint64_t image = tb_handover_root_bytes(), before = tb_handover_mem_used(), t0 = now_usec();
        if (tb_handover_switch_root(b->mounts) < 0)
                return fail(b, "cannot switch root");
        tb_info("hand-over in place in %.0f ms: image %.1f MiB, memory in use %.1f MiB before, %.1f MiB after",
                (double)(now_usec() - t0) / 1000.0, (double)image / MiB, (double)before / MiB,
                (double)tb_handover_mem_used() / MiB);
        extend("leave-initrd");
        tb_modules_free(b->modules);
        b->modules = NULL;
        tb_info("total in %.0f ms since the kernel started, %.0f ms of them in init; exec %s",
                (double)now_usec() / 1000.0, (double)(now_usec() - b->start_usec) / 1000.0, init);
        char *argv[] = { init, NULL };
        execv(init, argv);
        tb_log_errno(negative_errno(), "%s: cannot execute", init);
        return fail(b, "cannot exec the init");
}

int tb_boot_run(const char **ret_why) {
        struct boot b = { .origin.role = TB_ROLE_NONE, .start_usec = now_usec() };

        setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
        tb_log_set_prefix("trustboot init");
        (void)boot(&b);
        *ret_why = b.why ? b.why : "the boot stopped";
        return -1;
}
