/* tests/unit/test-layer.c */
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
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rootfs/layer.h"
#include "rootfs/oci.h"
#include "util/safefs.h"

/* A layer under construction: a tar written by libarchive into a memfd. */
struct tar {
        struct archive *a;
        int fd;
};

static la_ssize_t tar_write(struct archive *a, void *ud, const void *buf, size_t len) {
        (void)a;
        return write(*(int *)ud, buf, len);
}

static void tar_begin(struct tar *t, const char *filter) {
        t->fd = memfd_create("layer", MFD_CLOEXEC);
        assert_true(t->fd >= 0);
        t->a = archive_write_new();
        archive_write_set_format_pax_restricted(t->a);
        if (filter)
                assert_int_equal(archive_write_add_filter_by_name(t->a, filter), ARCHIVE_OK);
        archive_write_set_bytes_in_last_block(t->a, 1); /* no zero padding after the compressed data */
        assert_int_equal(archive_write_open2(t->a, &t->fd, NULL, tar_write, NULL, NULL), ARCHIVE_OK);
}

static void tar_add(struct tar *t, mode_t type, const char *name, const char *data_or_target, mode_t perm) {
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type ? type : AE_IFREG);
        archive_entry_set_perm(e, perm);
        archive_entry_set_uid(e, 1000);
        archive_entry_set_gid(e, 100);
        if (type == AE_IFLNK)
                archive_entry_set_symlink(e, data_or_target);
        else if (type == 1) { /* hardlink */
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_hardlink(e, data_or_target);
        } else if (type == AE_IFCHR)
                archive_entry_set_rdev(e, makedev(1, 3));
        archive_entry_set_size(e, (type == 0 || type == AE_IFREG) && data_or_target ? (la_int64_t)strlen(data_or_target) : 0);
        assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
        if ((type == 0 || type == AE_IFREG) && data_or_target)
                assert_int_equal(archive_write_data(t->a, data_or_target, strlen(data_or_target)), (la_ssize_t)strlen(data_or_target));
        archive_entry_free(e);
}

#define FILE_(t, n, d) tar_add(t, AE_IFREG, n, d, 0644)
#define DIR_(t, n) tar_add(t, AE_IFDIR, n, NULL, 0755)

static int tar_end(struct tar *t) {
        assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
        archive_write_free(t->a);
        lseek(t->fd, 0, SEEK_SET);
        return t->fd;
}

static int root_fd;
static char root_path[64];

static int setup(void **state) {
        (void)state;
        snprintf(root_path, sizeof(root_path), "/tmp/test-layer.XXXXXX");
        if (!mkdtemp(root_path))
                return -1;
        root_fd = open(root_path, O_RDONLY | O_DIRECTORY);
        return root_fd < 0 ? -1 : 0;
}

static int teardown(void **state) {
        (void)state;
        close(root_fd);
        return tb_rm_rf_at(AT_FDCWD, root_path);
}

static int apply(int fd, const char *digest, const char *diff_id) {
        tb_layer_source src = { .name = "test-layer", .digest = digest, .diff_id = diff_id, .size = UINT64_MAX };
        int r = tb_layer_apply(root_fd, fd, &src);

        close(fd);
        return r;
}

static bool exists(const char *path) {
        return faccessat(root_fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void read_text(const char *path, char *buf, size_t size) {
        int fd = openat(root_fd, path, O_RDONLY);
        ssize_t n;

        assert_true(fd >= 0);
        n = read(fd, buf, size - 1);
        assert_true(n >= 0);
        buf[n] = '\0';
        close(fd);
}

static void layers_stack_with_whiteouts_and_opaque_dirs(void **state) {
        struct tar t;
        char buf[64];
        (void)state;

        tb_rm_children_at(root_fd);
        tar_begin(&t, "gzip");
        DIR_(&t, "etc");
        FILE_(&t, "etc/keep", "k");
        FILE_(&t, "etc/gone", "g");
        DIR_(&t, "opq");
        FILE_(&t, "opq/lower", "l");
        DIR_(&t, "opq/sub");
        FILE_(&t, "opq/sub/deep", "d");
        tar_add(&t, AE_IFLNK, "link", "etc/keep", 0777);
        assert_int_equal(apply(tar_end(&t), NULL, NULL), 0);

        tar_begin(&t, "zstd");
        FILE_(&t, "etc/.wh.gone", "");
        DIR_(&t, "opq");
        FILE_(&t, "opq/upper", "u");
        DIR_(&t, "opq/sub");
        FILE_(&t, "opq/.wh..wh..opq", "");
        FILE_(&t, "link", "now a file");
        assert_int_equal(apply(tar_end(&t), NULL, NULL), 0);

        assert_true(exists("etc/keep"));
        assert_false(exists("etc/gone"));
        assert_false(exists("opq/lower"));
        assert_false(exists("opq/sub/deep")); /* hidden too: opaque covers the whole lower subtree */
        assert_true(exists("opq/sub"));
        assert_true(exists("opq/upper"));
        read_text("link", buf, sizeof(buf));
        assert_string_equal(buf, "now a file");
}

static void hardlinks_devices_and_special_modes_are_made(void **state) {
        struct tar t;
        struct stat a, b, c;
        (void)state;

        tb_rm_children_at(root_fd);
        tar_begin(&t, NULL);
        tar_add(&t, AE_IFREG, "bin/su", "x", 04755);
        tar_add(&t, 1, "bin/su2", "bin/su", 0);
        tar_add(&t, AE_IFDIR, "tmp", NULL, 01777);
        tar_add(&t, AE_IFCHR, "dev/null", NULL, 0666);
        tar_add(&t, AE_IFIFO, "run/fifo", NULL, 0620);
        assert_int_equal(apply(tar_end(&t), NULL, NULL), 0);

        assert_int_equal(fstatat(root_fd, "bin/su", &a, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(fstatat(root_fd, "bin/su2", &b, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(a.st_mode & 07777, 04755);
        if (geteuid() == 0) {
                assert_int_equal(a.st_uid, 1000);
                assert_int_equal(a.st_gid, 100);
                assert_int_equal(fstatat(root_fd, "dev/null", &c, AT_SYMLINK_NOFOLLOW), 0);
                assert_true(S_ISCHR(c.st_mode));
                assert_int_equal(c.st_rdev, makedev(1, 3));
        }
        assert_int_equal(fstatat(root_fd, "tmp", &c, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(c.st_mode & 07777, 01777);
        assert_int_equal(fstatat(root_fd, "run/fifo", &c, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISFIFO(c.st_mode));
        assert_int_equal(c.st_mode & 0777, 0620);
}

static void hostile_names_are_refused(void **state) {
        static const char *const names[] = { "../x", "/abs", "a/../../x" };
        struct tar t;
        (void)state;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                tb_rm_children_at(root_fd);
                tar_begin(&t, NULL);
                FILE_(&t, names[i], "x");
                assert_int_equal(apply(tar_end(&t), NULL, NULL), -EBADMSG);
        }
        tb_rm_children_at(root_fd);
        tar_begin(&t, NULL);
        tar_add(&t, AE_IFLNK, "up", "..", 0777);
        FILE_(&t, "up/x", "x");
        assert_int_equal(apply(tar_end(&t), NULL, NULL), -EBADMSG);
        tar_begin(&t, NULL);
        tar_add(&t, 1, "hl", "up/x", 0);
        assert_int_equal(apply(tar_end(&t), NULL, NULL), -EBADMSG);
        tar_begin(&t, NULL);
        FILE_(&t, ".wh..", "");
        assert_int_equal(apply(tar_end(&t), NULL, NULL), -EBADMSG);
        tar_begin(&t, NULL);
        FILE_(&t, "dup", "1");
        FILE_(&t, "dup", "2");
        assert_int_equal(apply(tar_end(&t), NULL, NULL), -EBADMSG);
}

/* umoci insert ROOTFS / names the root directory "/": it is the root, not an absolute path. */
static void root_directory_entry_is_the_root(void **state) {
        struct tar t;
        (void)state;

        tb_rm_children_at(root_fd);
        tar_begin(&t, "gzip");
        DIR_(&t, "/");
        DIR_(&t, "etc");
        FILE_(&t, "etc/x", "x");
        assert_int_equal(apply(tar_end(&t), NULL, NULL), 0);
        assert_true(exists("etc/x"));
        tar_begin(&t, NULL);
        FILE_(&t, "/", "x"); /* a file cannot be the root */
        assert_int_equal(apply(tar_end(&t), NULL, NULL), -EBADMSG);
}

static void sha256_of_fd(int fd, char out[TB_OCI_DIGEST_MAX]) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t md[32], buf[65536];
        ssize_t n;

        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                EVP_DigestUpdate(ctx, buf, (size_t)n);
        EVP_DigestFinal_ex(ctx, md, NULL);
        EVP_MD_CTX_free(ctx);
        tb_oci_digest_format(md, out);
        lseek(fd, 0, SEEK_SET);
}

static void digests_cover_blob_and_uncompressed_tar(void **state) {
        char blob_digest[TB_OCI_DIGEST_MAX], tar_digest[TB_OCI_DIGEST_MAX];
        struct tar t;
        int fd, fd2;
        (void)state;

        tar_begin(&t, NULL); /* the uncompressed tar first, for the diff id */
        FILE_(&t, "a", "hello");
        fd = tar_end(&t);
        sha256_of_fd(fd, tar_digest);
        close(fd);

        tar_begin(&t, "gzip");
        FILE_(&t, "a", "hello");
        fd = tar_end(&t);
        sha256_of_fd(fd, blob_digest);

        tb_rm_children_at(root_fd);
        fd2 = dup(fd);
        assert_int_equal(apply(fd, blob_digest, tar_digest), 0);
        lseek(fd2, 0, SEEK_SET);
        assert_int_equal(apply(fd2, tar_digest, NULL), -EIO); /* the blob is gzip: another digest */
}

/* A gzip bomb in miniature: 1 MiB of zeros compresses to about 1 KiB; the budget is over the
 * uncompressed bytes, shared by all layers of an image, and counts entries too. */
static void budget_stops_bombs_and_entry_floods(void **state) {
        static char zeros[1 << 20];
        tb_layer_budget b;
        tb_layer_source src = { .name = "bomb", .size = UINT64_MAX, .budget = &b };
        struct tar t;
        int fd;
        (void)state;

        tar_begin(&t, "gzip");
        memset(zeros, '0', sizeof(zeros) - 1);
        FILE_(&t, "big", zeros);
        fd = tar_end(&t);
        tb_rm_children_at(root_fd);
        tb_layer_budget_init(&b, 512 * 1024, 0);
        assert_int_equal(tb_layer_apply(root_fd, fd, &src), -EFBIG);
        lseek(fd, 0, SEEK_SET);
        tb_rm_children_at(root_fd);
        tb_layer_budget_init(&b, 2 << 20, 0);
        assert_int_equal(tb_layer_apply(root_fd, fd, &src), 0);
        assert_true(b.bytes < (1u << 20)); /* what the layer used is gone for the next one */
        close(fd);

        tar_begin(&t, NULL);
        for (int i = 0; i < 10; i++) {
                char name[16];

                snprintf(name, sizeof(name), "f%d", i);
                FILE_(&t, name, "x");
        }
        fd = tar_end(&t);
        tb_rm_children_at(root_fd);
        tb_layer_budget_init(&b, 0, 5);
        assert_int_equal(tb_layer_apply(root_fd, fd, &src), -EFBIG);
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(layers_stack_with_whiteouts_and_opaque_dirs),
                cmocka_unit_test(hardlinks_devices_and_special_modes_are_made),
                cmocka_unit_test(hostile_names_are_refused),
                cmocka_unit_test(root_directory_entry_is_the_root),
                cmocka_unit_test(digests_cover_blob_and_uncompressed_tar),
                cmocka_unit_test(budget_stops_bombs_and_entry_floods),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
