/* tests/unit/test-isoread.c — files out of an ISO written by xorriso and out of a FAT image made by
 * mkfs.vfat + mcopy (other writers than ours, so that the reader is not tested against itself). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "medium/isoread.h"
#include "util/exec.h"
#include "util/fileio.h"
#include "tmpdir.h"

static void path_in(char *buf, size_t size, const char *dir, const char *name) {
        snprintf(buf, size, "%s/%s", dir, name);
}

static void expect_file(const char *dir, const char *name, const char *text) {
        char p[600];
        tb_buf b = TB_BUF_INIT;

        path_in(p, sizeof(p), dir, name);
        assert_int_equal(tb_read_file(p, 1 << 20, &b), 0);
        assert_int_equal(b.len, strlen(text));
        assert_memory_equal(b.data, text, b.len);
        tb_buf_free(&b);
}

static void one_file_out_of_an_xorriso_iso(void **state) {
        char dir[256], tree[400], iso[400], out[400], junk[400];
        struct stat st;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "isoread");
        path_in(tree, sizeof(tree), dir, "tree");
        assert_int_equal(mkdir(tree, 0755), 0);
        tb_test_write(tree, "efiboot.img", "not really a FAT image", 22);
        tb_test_write(tree, "other.txt", "other", 5);
        path_in(iso, sizeof(iso), dir, "x.iso");
        const char *const mk[] = { "xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", iso, tree, NULL };
        assert_int_equal(tb_exec_checked(mk, NULL), 0);

        path_in(out, sizeof(out), dir, "esp.img");
        assert_int_equal(tb_isoread_extract(iso, "/efiboot.img", out), 0);
        expect_file(dir, "esp.img", "not really a FAT image");
        assert_int_equal(stat(out, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        /* The output exists already: refused, not overwritten. */
        assert_int_equal(tb_isoread_extract(iso, "/other.txt", out), -EEXIST);
        expect_file(dir, "esp.img", "not really a FAT image");

        path_in(out, sizeof(out), dir, "none.out");
        assert_int_equal(tb_isoread_extract(iso, "/missing.img", out), -ENOENT);
        assert_false(tb_path_exists(out));

        tb_test_write(dir, "junk.iso", "this is not ISO 9660", 20);
        path_in(junk, sizeof(junk), dir, "junk.iso");
        assert_int_equal(tb_isoread_extract(junk, "/efiboot.img", out), -EBADMSG);
        assert_false(tb_path_exists(out));
        tb_test_tmpdir_remove(dir);
}

static void every_file_out_of_a_mkfs_vfat_image(void **state) {
        char dir[256], img[400], src[400], out[400], sub[500];
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "isoread");
        path_in(img, sizeof(img), dir, "esp.img");
        path_in(src, sizeof(src), dir, "loader.conf");
        tb_test_write(dir, "loader.conf", "timeout 5\n", 10);
        const char *const mkfs[] = { "mkfs.vfat", "-C", img, "2048", NULL };
        const char *const md[] = { "mmd", "-i", img, "::/EFI", "::/EFI/BOOT", NULL };
        const char *const cp[] = { "mcopy", "-i", img, src, "::/EFI/BOOT/loader.conf", NULL };
        assert_int_equal(tb_exec_checked(mkfs, NULL), 0);
        assert_int_equal(tb_exec_checked(md, NULL), 0);
        assert_int_equal(tb_exec_checked(cp, NULL), 0);

        path_in(out, sizeof(out), dir, "out");
        assert_int_equal(tb_isoread_fat_extract(img, out), 0);
        path_in(sub, sizeof(sub), out, "EFI/BOOT");
        expect_file(sub, "loader.conf", "timeout 5\n");

        /* The directory must be new: the files of a medium never mix with what is there. */
        assert_int_equal(tb_isoread_fat_extract(img, out), -EEXIST);
        path_in(out, sizeof(out), dir, "out2");
        assert_int_equal(tb_isoread_fat_extract(src, out), -EIO); /* not a FAT image */
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(one_file_out_of_an_xorriso_iso),
                cmocka_unit_test(every_file_out_of_a_mkfs_vfat_image),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
