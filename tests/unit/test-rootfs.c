/* tests/unit/test-rootfs.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs/rootfs.h"
#include "util/safefs.h"

static char base[64], overlay[64];

static void put(const char *root, const char *path, const char *text) {
        char p[256];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", root, path);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void dir(const char *root, const char *path) {
        char p[256];

        snprintf(p, sizeof(p), "%s/%s", root, path);
        assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state) {
        (void)state;
        snprintf(base, sizeof(base), "/tmp/test-rootfs.XXXXXX");
        snprintf(overlay, sizeof(overlay), "/tmp/test-rootfs-ov.XXXXXX");
        return mkdtemp(base) && mkdtemp(overlay) ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        tb_rm_rf_at(AT_FDCWD, base);
        tb_rm_rf_at(AT_FDCWD, overlay);
        return 0;
}

struct seen {
        char list[1024];
        const char *skip;
};

static int record(const tb_rootfs_entry *e, void *userdata) {
        struct seen *s = userdata;
        char item[128];

        snprintf(item, sizeof(item), "%s%c ", e->path,
                 S_ISDIR(e->st.st_mode) ? '/' : S_ISLNK(e->st.st_mode) ? '@' : '.');
        strncat(s->list, item, sizeof(s->list) - strlen(s->list) - 1);
        if (S_ISLNK(e->st.st_mode))
                assert_string_equal(e->link_target, "target");
        return s->skip && strcmp(e->path, s->skip) == 0 ? TB_ROOTFS_SKIP : 0;
}

static void walk_merges_overlay_in_path_order(void **state) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        const char *ovs[] = { overlay };
        tb_rootfs_options o = { .overlays = ovs, .n_overlays = 1 };
        struct seen s = { .skip = NULL };
        char src[80];
        (void)state;

        dir(base, "a");
        put(base, "a/x", "base");
        put(base, "a-c", "");
        put(base, "b", "file in base");
        dir(base, "d");
        put(base, "d/in", "hidden by the overlay's file d");
        dir(base, "s");
        put(base, "s/1", "");
        {
                char p[128];

                snprintf(p, sizeof(p), "%s/ln", base);
                assert_int_equal(symlink("target", p), 0);
        }
        dir(overlay, "a");
        put(overlay, "a/y", "overlay");
        put(overlay, "a/x", "overlay wins");
        dir(overlay, "b");
        put(overlay, "b/z", "");
        put(overlay, "d", "file over dir");

        snprintf(src, sizeof(src), "dir:%s", base);
        assert_int_equal(tb_rootfs_open(src, &o, &fs), 0);
        assert_int_equal(tb_rootfs_walk(fs, record, &s), 0);
        assert_string_equal(s.list, "a/ a/x. a/y. a-c. b/ b/z. d. ln@ s/ s/1. ");

        s = (struct seen){ .skip = "a" };
        assert_int_equal(tb_rootfs_walk(fs, record, &s), 0);
        assert_string_equal(s.list, "a/ a-c. b/ b/z. d. ln@ s/ s/1. ");
}

static void stacked_overlays_hide_what_a_middle_file_covers(void **state) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        char top[64], src[80];
        const char *ovs[2] = { overlay, top };
        tb_rootfs_options o = { .overlays = ovs, .n_overlays = 2 };
        struct seen s = { .skip = NULL };
        (void)state;

        tb_rm_children_at(open(base, O_RDONLY | O_DIRECTORY));
        tb_rm_children_at(open(overlay, O_RDONLY | O_DIRECTORY));
        snprintf(top, sizeof(top), "/tmp/test-rootfs-top.XXXXXX");
        assert_non_null(mkdtemp(top));
        dir(base, "x");
        put(base, "x/from-base", "");
        dir(base, "y");
        put(base, "y/from-base", "");
        put(overlay, "x", "a file hides the base directory");
        dir(overlay, "y");
        put(overlay, "y/from-middle", "");
        dir(top, "x");
        put(top, "x/from-top", "");
        dir(top, "y");
        put(top, "y/from-top", "");

        snprintf(src, sizeof(src), "dir:%s", base);
        assert_int_equal(tb_rootfs_open(src, &o, &fs), 0);
        assert_int_equal(tb_rootfs_walk(fs, record, &s), 0);
        assert_string_equal(s.list, "x/ x/from-top. y/ y/from-base. y/from-middle. y/from-top. ");
        tb_rm_rf_at(AT_FDCWD, top);
}

static void expect_kernel(const char *src, const char *want, const char *content) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        char *path = NULL, buf[16] = { 0 };
        int fd = -1;

        assert_int_equal(tb_rootfs_open(src, NULL, &fs), 0);
        assert_int_equal(tb_rootfs_find_kernel(fs, &path, &fd), 0);
        assert_string_equal(path, want);
        assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
        assert_string_equal(buf, content);
        free(path);
        close(fd);
}

static void kernel_is_boot_vmlinuz_then_newest_version_then_modules(void **state) {
        char src[80], p[128];
        (void)state;

        tb_rm_children_at(open(base, O_RDONLY | O_DIRECTORY));
        snprintf(src, sizeof(src), "dir:%s", base);

        dir(base, "usr");
        dir(base, "usr/lib");
        dir(base, "usr/lib/modules");
        dir(base, "usr/lib/modules/6.1.0");
        dir(base, "usr/lib/modules/6.10.0");
        dir(base, "usr/lib/modules/6.9.0");
        put(base, "usr/lib/modules/6.1.0/vmlinuz", "m61");
        put(base, "usr/lib/modules/6.9.0/vmlinuz", "m69");
        expect_kernel(src, "usr/lib/modules/6.9.0/vmlinuz", "m69"); /* 6.10.0 has none */

        dir(base, "boot");
        put(base, "boot/vmlinuz-6.1.0", "b61");
        put(base, "boot/vmlinuz-6.10.0", "b610");
        put(base, "boot/vmlinuz-6.9.0", "b69");
        expect_kernel(src, "boot/vmlinuz-6.10.0", "b610");

        /* /boot/vmlinuz wins, and an absolute symlink resolves inside the tree. */
        snprintf(p, sizeof(p), "%s/boot/vmlinuz", base);
        assert_int_equal(symlink("/boot/vmlinuz-6.1.0", p), 0);
        expect_kernel(src, "boot/vmlinuz-6.1.0", "b61");

        /* A link pointing out of the tree does not resolve outside it. */
        unlink(p);
        assert_int_equal(symlink("../../../../../../../etc/hostname", p), 0);
        expect_kernel(src, "boot/vmlinuz-6.10.0", "b610");
}

static void no_kernel_is_an_error(void **state) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        char src[80], *path = NULL;
        int fd = -1;
        (void)state;

        tb_rm_children_at(open(base, O_RDONLY | O_DIRECTORY));
        snprintf(src, sizeof(src), "dir:%s", base);
        assert_int_equal(tb_rootfs_open(src, NULL, &fs), 0);
        assert_int_equal(tb_rootfs_find_kernel(fs, &path, &fd), -ENOENT);
}

static void unknown_sources_are_refused(void **state) {
        tb_rootfs *fs = NULL;
        (void)state;

        assert_int_equal(tb_rootfs_open("docker:alpine", NULL, &fs), -EINVAL);
        assert_int_equal(tb_rootfs_open("/", NULL, &fs), -EINVAL);
        assert_int_equal(tb_rootfs_open("dir:/nonexistent/x", NULL, &fs), -ENOENT);
        assert_null(fs);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(walk_merges_overlay_in_path_order),
                cmocka_unit_test(stacked_overlays_hide_what_a_middle_file_covers),
                cmocka_unit_test(kernel_is_boot_vmlinuz_then_newest_version_then_modules),
                cmocka_unit_test(no_kernel_is_an_error),
                cmocka_unit_test(unknown_sources_are_refused),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
