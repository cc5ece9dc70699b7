/* tests/unit/test-initrd.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "rootfs/initrd.h"
#include "rootfs/rootfs.h"
#include "util/safefs.h"

static char root[64];

static void put(const char *path, const char *text, mode_t mode) {
        char p[256];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", root, path);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static void dir(const char *path) {
        char p[256];

        snprintf(p, sizeof(p), "%s/%s", root, path);
        assert_int_equal(mkdir(p, 0755), 0);
}

static void link_(const char *from, const char *to) {
        char a[256], b[256];

        snprintf(a, sizeof(a), "%s/%s", root, from);
        snprintf(b, sizeof(b), "%s/%s", root, to);
        assert_int_equal(link(a, b), 0);
}

static int setup(void **state) {
        (void)state;
        snprintf(root, sizeof(root), "/tmp/test-initrd.XXXXXX");
        if (!mkdtemp(root))
                return -1;
        dir("bin");
        put("bin/sh", "#!shell\n", 04755);
        link_("bin/sh", "bin/sh-again");
        dir("boot");
        put("boot/vmlinuz", "kernel", 0644);
        dir("home");
        dir("proc");
        dir("tmp");
        put("tmp/junk", "junk", 0600);
        put("zz-last", "", 0600);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        return tb_rm_rf_at(AT_FDCWD, root);
}

struct digest {
        EVP_MD_CTX *ctx;
        size_t bytes;
};

static int sink(const void *data, size_t len, void *userdata) {
        struct digest *d = userdata;

        d->bytes += len;
        return EVP_DigestUpdate(d->ctx, data, len) == 1 ? 0 : -EIO;
}

/* Writes the initrd of ROOT into a memfd and returns it (rewound). */
static int write_initrd(tb_initrd_options *o, tb_initrd_stats *st) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        char src[80];
        int fd = memfd_create("initrd", MFD_CLOEXEC);

        assert_true(fd >= 0);
        snprintf(src, sizeof(src), "dir:%s", root);
        assert_int_equal(tb_rootfs_open(src, NULL, &fs), 0);
        assert_int_equal(tb_initrd_write(fs, fd, o, st), 0);
        lseek(fd, 0, SEEK_SET);
        return fd;
}

static void sink_sees_exactly_the_bytes_of_the_file(void **state) {
        struct digest d = { .ctx = EVP_MD_CTX_new() };
        uint8_t a[32], b[32], buf[4096];
        tb_initrd_options o;
        tb_initrd_stats st;
        ssize_t n;
        int fd;
        (void)state;

        assert_int_equal(tb_initrd_options_init(&o), 0);
        o.sink = sink;
        o.sink_userdata = &d;
        EVP_DigestInit_ex(d.ctx, EVP_sha256(), NULL);
        fd = write_initrd(&o, &st);
        EVP_DigestFinal_ex(d.ctx, a, NULL);

        EVP_DigestInit_ex(d.ctx, EVP_sha256(), NULL);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                EVP_DigestUpdate(d.ctx, buf, (size_t)n);
        EVP_DigestFinal_ex(d.ctx, b, NULL);
        assert_memory_equal(a, b, 32);
        assert_int_equal(d.bytes, st.bytes_out);
        assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)st.bytes_out);
        assert_true(st.bytes_in > st.bytes_out);
        EVP_MD_CTX_free(d.ctx);
        close(fd);
}

static void same_tree_gives_same_bytes_whatever_the_mtimes_and_inodes(void **state) {
        tb_initrd_options o;
        char p[256], a[8192], b[8192];
        ssize_t na, nb;
        int fa, fb;
        (void)state;

        assert_int_equal(tb_initrd_options_init(&o), 0);
        fa = write_initrd(&o, NULL);
        /* Same content under a new inode, with a new mtime. */
        snprintf(p, sizeof(p), "%s/zz-last", root);
        unlink(p);
        sleep(1);
        put("zz-last", "", 0600);
        o.threads = 1; /* and another thread count */
        fb = write_initrd(&o, NULL);
        na = read(fa, a, sizeof(a));
        nb = read(fb, b, sizeof(b));
        assert_true(na > 0);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, (size_t)na);
        close(fa);
        close(fb);
}

static void headers_keep_order_links_modes_and_leave_mount_contents_out(void **state) {
        static const char *const want[] = { "bin", "bin/sh", "bin/sh-again", "boot", "home", "init", "proc", "tmp", "zz-last" };
        struct archive_entry *e;
        struct archive *a;
        tb_initrd_options o;
        tb_initrd_stats st;
        size_t i = 0;
        int fd;
        (void)state;

        assert_int_equal(tb_initrd_options_init(&o), 0);
        o.mtime = 1234567; /* SOURCE_DATE_EPOCH, as the CLI passes it */
        o.compression = TB_INITRD_NONE;
        o.init = "/usr/bin/immucore";
        fd = write_initrd(&o, &st);
        assert_int_equal(st.entries, 9);
        assert_int_equal(st.hardlinks, 1);

        a = archive_read_new();
        archive_read_support_format_cpio(a);
        assert_int_equal(archive_read_open_fd(a, fd, 4096), ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);

                assert_true(i < sizeof(want) / sizeof(want[0]));
                assert_string_equal(name, want[i]);
                assert_int_equal(archive_entry_mtime(e), 1234567);
                if (strcmp(name, "bin/sh") == 0) {
                        assert_int_equal(archive_entry_perm(e), 04755);
                        assert_int_equal(archive_entry_size(e), 8);
                        assert_int_equal(archive_entry_nlink(e), 2);
                } else if (strcmp(name, "bin/sh-again") == 0) {
                        assert_string_equal(archive_entry_hardlink(e), "bin/sh"); /* same inode number */
                        assert_int_equal(archive_entry_size(e), 0);
                } else if (strcmp(name, "init") == 0) {
                        assert_int_equal(archive_entry_filetype(e), AE_IFLNK);
                        assert_string_equal(archive_entry_symlink(e), "/usr/bin/immucore");
                } else if (strcmp(name, "zz-last") == 0) {
                        assert_int_equal(archive_entry_perm(e), 0600);
                }
                i++;
        }
        assert_int_equal(i, sizeof(want) / sizeof(want[0]));
        archive_read_free(a);
        close(fd);
}

/* security.capability (Debian's ping: cap_net_raw+ep) does not fit in newc: it travels in the
 * manifest at the end; other attributes and security.selinux do not. */
static void security_xattrs_travel_in_the_manifest(void **state) {
        static const uint8_t cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20 }; /* v2, cap_net_raw effective */
        char p[256], text[4096];
        struct archive_entry *e;
        struct archive *a;
        tb_initrd_options o;
        bool found = false;
        int fd;
        (void)state;

        snprintf(p, sizeof(p), "%s/bin/sh", root);
        if (setxattr(p, "security.capability", cap, sizeof(cap), 0) < 0) {
                skip(); /* no CAP_SETFCAP or no xattrs on this file system */
                return;
        }
        (void)setxattr(p, "user.comment", "x", 1, 0);
        assert_int_equal(tb_initrd_options_init(&o), 0);
        o.compression = TB_INITRD_NONE;
        fd = write_initrd(&o, NULL);
        a = archive_read_new();
        archive_read_support_format_cpio(a);
        assert_int_equal(archive_read_open_fd(a, fd, 4096), ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                if (strcmp(archive_entry_pathname(e), TB_INITRD_XATTR_MANIFEST + 1) != 0) {
                        assert_false(found); /* the manifest comes last */
                        continue;
                }
                found = true;
                assert_int_equal(archive_entry_perm(e), 0600);
                la_ssize_t n = archive_read_data(a, text, sizeof(text) - 1);
                assert_true(n > 0);
                text[n] = 0;
        }
        assert_true(found);
        /* "bin/sh" in hex, the name, the value in hex; the hardlink bin/sh-again needs no line */
        assert_string_equal(text, TB_INITRD_XATTR_MANIFEST_HEADER "\n"
                                  "62696e2f7368 security.capability 0100000200200000000000000000000000000000\n");
        archive_read_free(a);
        close(fd);
}

static void options_default_to_zstd_and_epoch_zero(void **state) {
        tb_initrd_options o;
        (void)state;

        /* The library reads no environment: SOURCE_DATE_EPOCH is the CLI's, passed as mtime. */
        setenv("SOURCE_DATE_EPOCH", "12345", 1);
        assert_int_equal(tb_initrd_options_init(&o), 0);
        unsetenv("SOURCE_DATE_EPOCH");
        assert_int_equal(o.mtime, 0);
        assert_int_equal(o.level, -1);
        assert_int_equal(o.compression, TB_INITRD_ZSTD);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sink_sees_exactly_the_bytes_of_the_file),
                cmocka_unit_test(same_tree_gives_same_bytes_whatever_the_mtimes_and_inodes),
                cmocka_unit_test(headers_keep_order_links_modes_and_leave_mount_contents_out),
                cmocka_unit_test(options_default_to_zstd_and_epoch_zero),
                cmocka_unit_test(security_xattrs_travel_in_the_manifest),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
