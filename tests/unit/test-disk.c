/* tests/unit/test-disk.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/cloudconfig.h"
#include "node/disk.h"
#include "sb/efivar.h"
#include "util/fileio.h"

static void uuid5_of_labels_matches_kairos(void **state) {
        char u[TB_DISK_UUID_STRING_SIZE];
        (void)state;

        /* Values from shared/research/kairos.md §4.2 (Python uuid.uuid5(uuid.NAMESPACE_URL, label)). */
        tb_disk_uuid5("KAIROS_DISK", u);
        assert_string_equal(u, TB_DISK_GUID);
        tb_disk_uuid5("COS_GRUB", u);
        assert_string_equal(u, "81444e82-66b3-5ed2-961b-497665f12be2");
        tb_disk_uuid5("COS_OEM", u);
        assert_string_equal(u, "8bfa06f9-ca4f-56dc-90c9-49cf20f4f45e");
        tb_disk_uuid5("COS_PERSISTENT", u);
        assert_string_equal(u, "85c39d0f-4867-5227-8334-f5eec606d9eb");
}

static void default_layout_is_efi_oem_then_persistent_taking_the_rest(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        tb_disk_layout l;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 100, &l), 0);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.parts[0].name, "efi");
        assert_string_equal(l.parts[0].label, "COS_GRUB");
        assert_string_equal(l.parts[0].fs, "vfat");
        assert_true(l.parts[0].esp);
        assert_int_equal(l.parts[0].size_mib, 100);
        assert_string_equal(l.parts[1].label, "COS_OEM");
        assert_int_equal(l.parts[1].size_mib, 64);
        assert_string_equal(l.parts[2].label, "COS_PERSISTENT");
        assert_int_equal(l.parts[2].size_mib, 0);
        assert_int_equal(l.parts[2].partno, 3);
        assert_int_equal(tb_disk_layout_min_bytes(&l), (uint64_t)(2 + 100 + 64 + 64) << 20);
}

static void sized_persistent_keeps_its_place_and_rest_extra_goes_last(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        static const char y[] = "install:\n  partitions: {persistent: {size: 500}}\n  extra-partitions:\n"
                                "    - {name: big, size: 0, label: BIG}\n    - {name: two, size: 100, label: TWO}\n";
        tb_disk_layout l;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_cloudconfig_merge(c, "t", y, strlen(y)), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 100, &l), 0);
        assert_int_equal(l.n, 5);
        assert_string_equal(l.parts[2].label, "COS_PERSISTENT");
        assert_string_equal(l.parts[3].label, "TWO");
        assert_string_equal(l.parts[3].fs, "ext2");
        assert_string_equal(l.parts[4].label, "BIG");
        assert_int_equal(l.parts[4].partno, 5);
        assert_non_null(tb_disk_layout_find(&l, "TWO"));
        assert_null(tb_disk_layout_find(&l, "NOPE"));
}

static void partitioning_a_too_small_image_fails_before_writing(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        char path[] = "/tmp/tb-test-disk.XXXXXX";
        static const uint8_t zero[4096];
        uint8_t back[4096];
        tb_disk_layout l;
        int fd;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 100, &l), 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 200 << 20), 0);
        assert_int_equal(tb_disk_partition(path, &l), -ENOSPC);
        assert_int_equal(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
        assert_memory_equal(back, zero, sizeof(back));
        close(fd);
        unlink(path);
}

static void partition_device_names_follow_the_kernel(void **state) {
        char *s;
        (void)state;

        assert_int_equal(tb_disk_part_device("/dev/vda", 2, &s), 0);
        assert_string_equal(s, "/dev/vda2");
        free(s);
        assert_int_equal(tb_disk_part_device("/dev/nvme0n1", 3, &s), 0);
        assert_string_equal(s, "/dev/nvme0n1p3");
        free(s);
        assert_int_equal(tb_disk_part_device("/dev/loop7", 1, &s), 0);
        assert_string_equal(s, "/dev/loop7p1");
        free(s);
}

/* ---- finding disks in a sysfs/dev tree of our own: image files as disks ---- */

static int mkdir_p(const char *path, mode_t mode) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        return mkdir(buf, mode) < 0 && errno != EEXIST ? -errno : 0;
}

typedef struct fake {
        char root[64];
        char sys[128], dev[128], vars[128];
        tb_disk_env env;
} fake;

static void put(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* block/NAME with size (sectors), ro, removable; the node DEV/NAME an image of MIB MiB. With
 * USB, block/NAME is a link into a devices/…/usb1/… directory, as sysfs has it. */
static void add_disk(fake *f, const char *name, unsigned mib, bool removable, bool usb) {
        char dir[512], path[600], n[32];

        if (usb) {
                snprintf(dir, sizeof(dir), "%s/devices/pci0000:00/usb1/1-1/block/%s", f->sys, name);
                assert_int_equal(mkdir_p(dir, 0755), 0);
                snprintf(path, sizeof(path), "%s/block/%s", f->sys, name);
                assert_int_equal(symlink(dir, path), 0);
        } else {
                snprintf(dir, sizeof(dir), "%s/block/%s", f->sys, name);
                assert_int_equal(mkdir_p(dir, 0755), 0);
        }
        snprintf(path, sizeof(path), "%s/size", dir);
        snprintf(n, sizeof(n), "%u\n", mib * 2048);
        put(path, n);
        snprintf(path, sizeof(path), "%s/ro", dir);
        put(path, "0\n");
        snprintf(path, sizeof(path), "%s/removable", dir);
        put(path, removable ? "1\n" : "0\n");
        snprintf(path, sizeof(path), "%s/%s", f->dev, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)mib << 20), 0);
        close(fd);
}

static void node_path(const fake *f, const char *name, char *out, size_t size) {
        snprintf(out, size, "%s/%s", f->dev, name);
}

/* An ISO 9660 primary volume descriptor at 32 KiB, then the set terminator. */
static void write_iso9660(const fake *f, const char *name) {
        uint8_t pvd[2048] = { 1, 'C', 'D', '0', '0', '1', 1 }, term[2048] = { 255, 'C', 'D', '0', '0', '1', 1 };
        char path[300];
        node_path(f, name, path, sizeof(path));
        memset(pvd + 8, ' ', 64);
        memcpy(pvd + 40, "UKI_ISO_INSTALL", 15);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, pvd, sizeof(pvd), 16 * 2048), (ssize_t)sizeof(pvd));
        assert_int_equal(pwrite(fd, term, sizeof(term), 17 * 2048), (ssize_t)sizeof(term));
        close(fd);
}

/* Kairos' GPT (libfdisk, through tb_disk_partition): partition 1 is COS_GRUB, GUID uuid5; an
 * install that finished marks it (tb_disk_mark_installed), an interrupted one did not. */
static void write_gpt_as(const fake *f, const char *name, bool finished) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        tb_disk_layout l;
        char path[300];
        node_path(f, name, path, sizeof(path));
        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 32, &l), 0);
        assert_int_equal(tb_disk_partition(path, &l), 0);
        if (finished)
                assert_int_equal(tb_disk_mark_installed(path), 0);
}

static void write_gpt(const fake *f, const char *name) {
        write_gpt_as(f, name, true);
}

/* The LUKS2 binary header's magic and version: what blkid (and cryptsetup isLuks) look at. */
static void write_luks2_magic(const fake *f, const char *name) {
        static const uint8_t hdr[] = { 'L', 'U', 'K', 'S', 0xba, 0xbe, 0, 2 };
        char path[300];
        node_path(f, name, path, sizeof(path));
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
        close(fd);
}

static void fake_init(fake *f) {
        memset(f, 0, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/tmp/tb-test-disks.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        snprintf(f->sys, sizeof(f->sys), "%s/sys", f->root);
        snprintf(f->dev, sizeof(f->dev), "%s/dev", f->root);
        snprintf(f->vars, sizeof(f->vars), "%s/vars", f->root);
        assert_int_equal(mkdir_p(f->sys, 0755), 0);
        assert_int_equal(mkdir_p(f->dev, 0755), 0);
        assert_int_equal(mkdir_p(f->vars, 0755), 0);
        f->env = (tb_disk_env){ .sysfs = f->sys, .dev = f->dev, .efivarfs = f->vars };
}

static void fake_done(fake *f) {
        tb_rm_rf(f->root);
}

static char logbuf[8192];

/* Runs tb_disk_pick_auto_env with stderr captured into logbuf. */
static int pick(const fake *f, bool force, char **ret) {
        FILE *cap = tmpfile();
        int saved = dup(2), r;
        size_t n;

        assert_non_null(cap);
        fflush(stderr);
        dup2(fileno(cap), 2);
        r = tb_disk_pick_auto_env(&f->env, force, ret);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        rewind(cap);
        n = fread(logbuf, 1, sizeof(logbuf) - 1, cap);
        logbuf[n] = 0;
        fclose(cap);
        return r;
}

/* The attack: an installed node (GPT, LUKS) whose firmware boots the stick again — auto must not
 * reinstall over it; a USB disk and a removable one are never taken; the blank disk is. */
static void auto_skips_removable_usb_and_disks_that_carry_data(void **state) {
        _cleanup_(freep) char *got = NULL;
        char want[300], vdb[300], vdc[300];
        fake f;
        (void)state;

        fake_init(&f);
        add_disk(&f, "vda", 40, false, false);  /* blank: the only right answer */
        add_disk(&f, "vdb", 300, false, false); /* the biggest, an installed node's disk */
        add_disk(&f, "vdc", 200, false, false); /* a LUKS volume on the whole disk */
        add_disk(&f, "sdd", 400, false, true);  /* a USB disk */
        add_disk(&f, "sde", 500, true, false);  /* removable media */
        write_gpt(&f, "vdb");
        write_luks2_magic(&f, "vdc");
        node_path(&f, "vda", want, sizeof(want));
        node_path(&f, "vdb", vdb, sizeof(vdb));
        node_path(&f, "vdc", vdc, sizeof(vdc));

        assert_int_equal(pick(&f, false, &got), 0);
        assert_string_equal(got, want);
        assert_non_null(strstr(logbuf, "vdb skipped: carries a gpt partition table"));
        assert_non_null(strstr(logbuf, "vdc skipped: carries a crypto_LUKS signature"));
        assert_non_null(strstr(logbuf, "sdd skipped: on USB"));
        assert_non_null(strstr(logbuf, "sde skipped: removable"));

        /* install.force: the data disks count again, the removable ones still do not */
        free(got);
        got = NULL;
        assert_int_equal(pick(&f, true, &got), 0);
        assert_string_equal(got, vdb);

        /* nothing blank left: refused, every skipped disk named */
        unlink(want);
        char sys[300];
        snprintf(sys, sizeof(sys), "%s/block/vda", f.sys);
        tb_rm_rf(sys);
        free(got);
        got = NULL;
        assert_int_equal(pick(&f, false, &got), -ENODEV);
        assert_null(got);
        assert_non_null(strstr(logbuf, "no disk to install to"));
        assert_non_null(strstr(logbuf, vdb));
        assert_non_null(strstr(logbuf, vdc));
        fake_done(&f);
}

/* A power loss during an install leaves the GPT marked as an install in progress: auto takes
 * that disk again (the install can run again unattended), and refuses it once it is marked. */
static void auto_takes_an_interrupted_install_not_a_finished_one(void **state) {
        _cleanup_(freep) char *got = NULL;
        char vda[300], vdb[300];
        fake f;
        (void)state;

        fake_init(&f);
        add_disk(&f, "vda", 40, false, false);
        add_disk(&f, "vdb", 300, false, false);
        write_gpt_as(&f, "vdb", false);
        node_path(&f, "vda", vda, sizeof(vda));
        node_path(&f, "vdb", vdb, sizeof(vdb));

        assert_int_equal(pick(&f, false, &got), 0);
        assert_string_equal(got, vdb);
        assert_non_null(strstr(logbuf, "vdb holds an install that did not finish"));

        assert_int_equal(tb_disk_mark_installed(vdb), 0);
        free(got);
        got = NULL;
        assert_int_equal(pick(&f, false, &got), 0);
        assert_string_equal(got, vda);
        assert_non_null(strstr(logbuf, "vdb skipped: carries a gpt partition table"));
        /* a disk without a GPT is nothing to mark */
        assert_int_equal(tb_disk_mark_installed(vda), -EINVAL);
        fake_done(&f);
}

/* The medium is what the firmware booted: with no LoaderDevicePartUUID (El Torito from a CD),
 * the optical drive holding ISO 9660 — not a hard disk that also carries one (a planted
 * "medium"); with the variable, the disk holding that GPT partition; two candidates: refused. */
static void boot_medium_comes_from_the_firmware_variables(void **state) {
        _cleanup_(freep) char *m = NULL;
        char sr0[300], vdb[300];
        fake f;
        (void)state;

        fake_init(&f);
        add_disk(&f, "sda", 40, false, false);
        add_disk(&f, "sr0", 40, true, false);
        add_disk(&f, "vdb", 200, false, false);
        write_iso9660(&f, "sda"); /* sorts before sr0: the old "first ISO 9660 disk" */
        write_iso9660(&f, "sr0");
        write_gpt(&f, "vdb");
        node_path(&f, "sr0", sr0, sizeof(sr0));
        node_path(&f, "vdb", vdb, sizeof(vdb));

        assert_int_equal(tb_disk_boot_medium_env(&f.env, &m), 0);
        assert_string_equal(m, sr0);
        /* the drive empty: no medium at all, the hard disk with its ISO 9660 is never one */
        add_disk(&f, "sr0", 40, true, false);
        free(m);
        m = NULL;
        assert_int_equal(tb_disk_boot_medium_env(&f.env, &m), 0);
        assert_null(m);
        write_iso9660(&f, "sr0");

        /* booted from a GPT partition: systemd-boot's LoaderDevicePartUUID names it */
        assert_int_equal(tb_efivar_write_string(f.vars, "LoaderDevicePartUUID", &TB_GUID_LOADER,
                                                "81444E82-66B3-5ED2-961B-497665F12BE2"), 0);
        free(m);
        m = NULL;
        assert_int_equal(tb_disk_boot_medium_env(&f.env, &m), 0);
        assert_string_equal(m, vdb);
        /* …and auto never picks it, forced or not */
        free(m);
        m = NULL;
        assert_int_equal(pick(&f, true, &m), 0);
        assert_string_not_equal(m, vdb);

        /* a UUID no disk has: no medium */
        assert_int_equal(tb_efivar_write_string(f.vars, "LoaderDevicePartUUID", &TB_GUID_LOADER,
                                                "00000000-0000-0000-0000-000000000001"), 0);
        free(m);
        m = NULL;
        assert_int_equal(tb_disk_boot_medium_env(&f.env, &m), 0);
        assert_null(m);

        /* no variable and two optical drives with ISO 9660: cannot tell, refused */
        char var[400];
        snprintf(var, sizeof(var), "%s/LoaderDevicePartUUID-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f", f.vars);
        assert_int_equal(unlink(var), 0);
        add_disk(&f, "sr1", 40, true, false);
        write_iso9660(&f, "sr1");
        assert_int_equal(tb_disk_boot_medium_env(&f.env, &m), -ENOTUNIQ);
        assert_null(m);
        fake_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(uuid5_of_labels_matches_kairos),
                cmocka_unit_test(default_layout_is_efi_oem_then_persistent_taking_the_rest),
                cmocka_unit_test(sized_persistent_keeps_its_place_and_rest_extra_goes_last),
                cmocka_unit_test(partitioning_a_too_small_image_fails_before_writing),
                cmocka_unit_test(partition_device_names_follow_the_kernel),
                cmocka_unit_test(auto_skips_removable_usb_and_disks_that_carry_data),
                cmocka_unit_test(auto_takes_an_interrupted_install_not_a_finished_one),
                cmocka_unit_test(boot_medium_comes_from_the_firmware_variables),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
