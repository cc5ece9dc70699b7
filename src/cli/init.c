/* init.c — trustboot init: PID 1 of the UKI's initrd (shared/research/kairos.md §3). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blkid.h>

#include "node/bootentries.h"
#include "cli.h"
#include "node/cmdline.h"
#include "node/disk.h"
#include "sb/efivar.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "node/initrd-boot.h"
#include "node/install.h"
#include "util/log.h"
#include "tpm/luks.h"
#include "tpm/tpm2.h"

static const char usage[] =
        "Usage: trustboot init\n"
        "\n"
        "PID 1 of the UKI's initrd (/init links to trustboot): mounts the API file systems, refuses\n"
        "to go on without Secure Boot (unless trustboot.insecure), extends PCR 11 with enter-initrd,\n"
        "copies /.extra/tpm2-pcr-* to /run/systemd/; booted from disk it unlocks the TPM-sealed\n"
        "partitions and mounts COS_OEM at /oem, COS_PERSISTENT at /usr/local and the ESP at /efi;\n"
        "booted from the medium with install-mode it installs; then it moves the root into a tmpfs,\n"
        "extends leave-initrd and execs /sbin/init (or init=).\n";

#define MODULES_LIST "/usr/lib/modules/load.order"

static void step(const char *fmt, ...) _printf_(1, 2);
static void step(const char *fmt, ...) {
        va_list ap;

        fputs("trustboot init: ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
}

/* PID 1 must not exit: say why and power off (the console line is what a user or a test sees). */
static _Noreturn void stop(const char *why) {
        step("FAILED: %s; powering off", why);
        sync();
        sleep(2);
        reboot(RB_POWER_OFF);
        for (;;)
                pause();
}

static void extend(const char *word) {
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        int r;

        if (tb_tpm2_open(NULL, &tpm) < 0) {
                step("PCR 11: no TPM, %s not measured", word);
                return;
        }
        r = tb_tpm2_pcr_extend(tpm, 11, word, strlen(word));
        if (r < 0)
                step("PCR 11: extending %s failed", word);
        else
                step("PCR 11: extended %s (%d banks)", word, r);
}

static void copy_extra(void) {
        static const char *const files[] = { "tpm2-pcr-signature.json", "tpm2-pcr-public-key.pem" };
        (void)mkdir("/run/systemd", 0755);
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
                _cleanup_(freep) char *src = tb_path_join("/.extra", files[i]), *dst = tb_path_join("/run/systemd", files[i]);
                if (!src || !dst || tb_read_file(src, 1 << 20, &b) < 0)
                        continue;
                if (tb_write_file_atomic(dst, b.data, b.len, 0644, true) == 0)
                        step("%s: copied to /run/systemd", src);
        }
}

static int unlock_one(const char *device, const char *name, void *userdata) {
        tb_luks_unlock_params p = { 0 };
        int *failed = userdata, r;

        if (tb_luks_is_active(name))
                return 0;
        r = tb_luks_unlock(device, name, &p);
        if (r < 0) {
                (*failed)++;
                step("%s: %s: NOT unlocked by the TPM", device, name);
        } else
                step("%s: unlocked by the TPM as /dev/mapper/%s", device, name);
        return 0;
}

static int mount_label(const char *label, const char *where, const char *fstype, unsigned long flags,
                       const char *options) {
        _cleanup_(freep) char *dev = blkid_evaluate_tag("LABEL", label, NULL);

        if (!dev) {
                step("%s: no file system with this label", label);
                return -ENOENT;
        }
        (void)mkdir(where, 0755);
        if (mount(dev, where, fstype, flags, options) < 0) {
                step("%s (%s): cannot mount at %s: %s", label, dev, where, strerror(errno));
                return -errno;
        }
        step("%s (%s) mounted at %s", label, dev, where);
        return 0;
}

/* Disk drivers bind asynchronously after their modules load. */
static void wait_for_disks(void) {
        for (int i = 0; i < 50; i++) {
                if (access("/sys/block/vda", F_OK) == 0 || access("/sys/block/sda", F_OK) == 0 ||
                    access("/sys/block/nvme0n1", F_OK) == 0)
                        return;
                usleep(100 * 1000);
        }
}

/* The medium's ESP: efiboot.img inside the ISO 9660 file system of the boot disk, read with
 * mtools (no loop or vfat driver needed). */
static int medium_esp(const char *dst) {
        _cleanup_(freep) char *disk = NULL;
        const char *iso = TB_INSTALL_RUN_DIR "/iso";

        if (tb_disk_boot_medium(&disk) < 0 || !disk) {
                step("medium: no ISO 9660 disk found");
                return -ENOENT;
        }
        (void)mkdir(TB_INSTALL_RUN_DIR, 0755);
        (void)mkdir(iso, 0755);
        (void)mkdir(dst, 0755);
        if (mount(disk, iso, "iso9660", MS_RDONLY, NULL) < 0) {
                step("medium: %s: cannot mount: %s", disk, strerror(errno));
                return -errno;
        }
        const char *esp_image = TB_INSTALL_RUN_DIR "/iso/efiboot.img";
        const char *argv[] = { "mcopy", "-s", "-n", "-Q", "-i", esp_image, "::/EFI", "::/loader", dst, NULL };
        setenv("MTOOLS_SKIP_CHECK", "1", 1);
        int r = tb_exec_checked(argv, NULL);
        if (r < 0)
                return r;
        step("medium: %s, ESP copied to %s", disk, dst);
        return 0;
}

int cmd_init(int argc, char **argv) {
        _cleanup_(freep) char *partuuid = NULL, *entry = NULL, *init = NULL;
        bool pid1 = getpid() == 1;
        int r;

        if (!pid1 && argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
                return cli_print_help(usage);
        if (!pid1)
                return cli_usage_error(argv[0], "only runs as PID 1 (the initrd's /init)");
        /* The kernel hands PID 1 the command line words it does not know: they are not options. */
        setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
        tb_log_set_prefix("trustboot init");

        if (tb_initrd_mount_api() < 0)
                stop("cannot mount the API file systems");
        int fd = open("/dev/console", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
                dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
                if (fd > 2)
                        close(fd);
        }
        step("API file systems mounted");
        r = tb_initrd_load_modules(MODULES_LIST);
        step("%d kernel modules loaded", r < 0 ? 0 : r);

        r = tb_install_secure_boot(NULL);
        if (r == 1)
                step("Secure Boot: on");
        else if (tb_cmdline_has("trustboot.insecure"))
                step("Secure Boot: %s, going on because of trustboot.insecure", r == 0 ? "off" : "unknown");
        else
                stop(r == 0 ? "Secure Boot is off (trustboot.insecure overrides)" : "Secure Boot state unknown");

        extend("enter-initrd");
        copy_extra();

        bool from_disk = tb_efivar_read_string(NULL, "LoaderDevicePartUUID", &TB_GUID_LOADER, &partuuid) == 0 &&
                         *partuuid;
        (void)tb_efivar_read_string(NULL, "LoaderEntrySelected", &TB_GUID_LOADER, &entry);
        tb_role role = entry ? tb_role_from_entry(entry) : TB_ROLE_NONE;
        step("booted from %s, entry %s (role %s)", from_disk ? "disk" : "the medium", entry ? entry : "?",
             from_disk ? (tb_role_to_string(role) ?: "none") : "livecd");
        wait_for_disks();

        const char *extra_mounts[4] = { NULL, NULL, NULL, NULL };
        if (from_disk) {
                int failed = 0;
                r = tb_luks_foreach_tpm2_volume(unlock_one, &failed);
                if (r < 0 || failed)
                        stop("unlocking the encrypted partitions failed");
                size_t n = 0;
                if (mount_label(TB_CLOUDCONFIG_OEM_LABEL, "/oem", "ext4", 0, NULL) < 0)
                        stop("cannot mount COS_OEM");
                extra_mounts[n++] = "/oem";
                /* recovery and state reset boots run without the persistent data, as Kairos */
                if (role == TB_ROLE_ACTIVE || role == TB_ROLE_PASSIVE || role == TB_ROLE_NONE) {
                        if (mount_label(TB_CLOUDCONFIG_PERSISTENT_LABEL, "/usr/local", "ext4", 0, NULL) < 0)
                                stop("cannot mount COS_PERSISTENT");
                        extra_mounts[n++] = "/usr/local";
                }
                /* The ESP at /efi, where `trustboot upgrade` and `bootentry` look for it. Only
                 * root may read it (as systemd mounts it); no access times, so reading an entry
                 * writes nothing. The system runs without it: a warning, not a stop. */
                if (mount_label(TB_CLOUDCONFIG_EFI_LABEL, "/efi", "vfat", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME,
                                "umask=0077,shortname=mixed") == 0)
                        extra_mounts[n++] = "/efi";
        } else if (tb_cmdline_has("install-mode") && (r = cli_install_is_automatic()) != 1) {
                /* As Kairos: without install.auto the medium boots as a live system, where
                 * `trustboot install` can be run by hand. */
                if (r < 0)
                        stop("the install configuration is broken");
                step("install-mode: install.auto is not set, booting the live system (run 'trustboot install')");
        } else if (tb_cmdline_has("install-mode")) {
                if (medium_esp(TB_INSTALL_RUN_DIR "/medium") < 0)
                        stop("cannot read the medium");
                step("install-mode: running the installer");
                char *install_argv[] = { (char *)"install", NULL };
                optind = 0;
                tb_log_set_prefix("trustboot install");
                r = cmd_install(1, install_argv);
                tb_log_set_prefix("trustboot init");
                if (r != 0)
                        stop("installation failed");
                step("installation finished");
        }

        step("moving the root into a tmpfs");
        if (tb_initrd_switch_root("/sysroot", extra_mounts) < 0)
                stop("cannot switch root");
        extend("leave-initrd");
        if (tb_cmdline_get("init", &init) <= 0 || !*init) {
                free(init);
                init = strdup("/sbin/init");
        }
        step("exec %s", init);
        char *init_argv[] = { init, NULL };
        execv(init, init_argv);
        stop("cannot exec the init");
}
