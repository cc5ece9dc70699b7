/* tests/unit/test-fileio.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "fileio")

static int count_entries(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void atomic_write_sets_mode_and_leaves_no_temp_file(void **state) {
        _cleanup_(freep) char *p = tb_path_join(dir, "a.key");
        _cleanup_(tb_buf_freep) tb_buf back = TB_BUF_INIT;
        struct stat st;
        (void)state;

        assert_int_equal(tb_write_file_atomic(p, "hello", 5, 0600, false), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(tb_read_file(p, 100, &back), 0);
        assert_int_equal(back.len, 5);
        assert_memory_equal(back.data, "hello", 5);
        assert_int_equal(count_entries(dir), 1);
}

static void noreplace_commit_refuses_existing_file_and_cleans_up(void **state) {
        _cleanup_(freep) char *p = tb_path_join(dir, "a.key");
        (void)state;

        assert_int_equal(tb_write_file_atomic(p, "other", 5, 0644, false), -EEXIST);
        assert_int_equal(count_entries(dir), 1);
        assert_int_equal(tb_write_file_atomic(p, "other", 5, 0644, true), 0);
}

/* A secret is read into one allocation of the file's size (+1 to see growth), never a grown one. */
static void secret_is_read_into_one_buffer_of_its_size(void **state) {
        _cleanup_(freep) char *p = tb_path_join(dir, "s.key");
        tb_buf secret = TB_BUF_INIT, used = TB_BUF_INIT;
        static char big[100000];
        (void)state;

        memset(big, 'k', sizeof(big));
        assert_int_equal(tb_write_file_atomic(p, big, sizeof(big), 0600, true), 0);
        assert_int_equal(tb_read_secret_file(p, sizeof(big), &secret), 0);
        assert_int_equal(secret.len, sizeof(big));
        assert_int_equal(secret.cap, sizeof(big) + 1);
        assert_memory_equal(secret.data, big, sizeof(big));
        tb_buf_wipe(&secret);
        assert_int_equal(tb_read_secret_file(p, sizeof(big) - 1, &secret), -EFBIG);
        tb_buf_wipe(&secret);
        assert_int_equal(tb_buf_append(&used, "x", 1), 0);
        assert_int_equal(tb_read_secret_file(p, sizeof(big), &used), -EINVAL);
        tb_buf_free(&used);
        assert_int_equal(unlink(p), 0);
}

static void secret_from_a_pipe_is_bounded(void **state) {
        tb_buf secret = TB_BUF_INIT;
        char path[64];
        int fds[2];
        (void)state;

        assert_int_equal(pipe(fds), 0);
        assert_int_equal(write(fds[1], "1234\n", 5), 5);
        close(fds[1]);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
        assert_int_equal(tb_read_secret_file(path, 64, &secret), 0);
        assert_int_equal(secret.len, 5);
        assert_int_equal(secret.cap, 65);
        tb_buf_wipe(&secret);
        close(fds[0]);
        assert_int_equal(pipe(fds), 0);
        assert_int_equal(write(fds[1], "123456789", 9), 9);
        close(fds[1]);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
        assert_int_equal(tb_read_secret_file(path, 8, &secret), -EFBIG);
        tb_buf_wipe(&secret);
        close(fds[0]);
}

static void aborted_file_disappears(void **state) {
        _cleanup_(freep) char *p = tb_path_join(dir, "b");
        tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        (void)state;

        assert_int_equal(tb_atomic_open(p, 0644, &af), 0);
        assert_int_equal(tb_write_all(af.fd, "x", 1), 0);
        tb_atomic_abort(&af);
        assert_false(tb_path_exists(p));
        assert_int_equal(count_entries(dir), 1);
}

static void read_file_enforces_its_limit(void **state) {
        _cleanup_(freep) char *p = tb_path_join(dir, "a.key");
        _cleanup_(tb_buf_freep) tb_buf back = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_read_file(p, 4, &back), -EFBIG);
        assert_int_equal(tb_read_file(dir, 4, &back), -EISDIR);
}

static void path_join_collapses_trailing_slashes(void **state) {
        _cleanup_(freep) char *p = tb_path_join("keys///", "PK.key");
        (void)state;
        assert_string_equal(p, "keys/PK.key");
}

static void stage_into_missing_dir_creates_it_whole_and_abort_removes_parents(void **state) {
        _cleanup_(freep) char *target = tb_path_join(dir, "p/q/keys");
        _cleanup_(freep) char *p = tb_path_join(dir, "p");
        tb_stage s = TB_STAGE_INIT;
        (void)state;

        assert_int_equal(tb_stage_begin(target, 0700, &s), 0);
        assert_true(s.whole_dir);
        assert_true(tb_path_exists(p));
        {
                _cleanup_(freep) char *f = tb_path_join(s.dir, "x");
                assert_int_equal(tb_write_file_new(f, "1", 1, 0600), 0);
        }
        tb_stage_abort(&s);
        assert_false(tb_path_exists(p)); /* the parents we made are gone again */
        assert_int_equal(count_entries(dir), 1);

        static const char *const names[] = { "x" };
        assert_int_equal(tb_stage_begin(target, 0700, &s), 0);
        {
                _cleanup_(freep) char *f = tb_path_join(s.dir, "x");
                assert_int_equal(tb_write_file_new(f, "1", 1, 0600), 0);
        }
        assert_int_equal(tb_stage_commit(&s, names, 1, false), 0);
        tb_stage_abort(&s);
        {
                _cleanup_(freep) char *f = tb_path_join(target, "x");
                struct stat st;
                assert_int_equal(stat(target, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0700);
                assert_true(tb_path_exists(f));
        }
}

static void stage_into_existing_dir_rolls_back_on_conflict(void **state) {
        _cleanup_(freep) char *target = tb_path_join(dir, "p/q/keys");
        static const char *const names[] = { "a", "x" }; /* "x" exists from the previous test */
        tb_stage s = TB_STAGE_INIT;
        (void)state;

        assert_int_equal(tb_stage_begin(target, 0700, &s), 0);
        assert_false(s.whole_dir);
        for (size_t i = 0; i < 2; i++) {
                _cleanup_(freep) char *f = tb_path_join(s.dir, names[i]);
                assert_int_equal(tb_write_file_new(f, "2", 1, 0644), 0);
        }
        assert_int_equal(tb_stage_commit(&s, names, 2, false), -EEXIST);
        tb_stage_abort(&s);
        assert_int_equal(count_entries(target), 1); /* "a" was moved back and removed with the stage */
        assert_int_equal(tb_stage_begin(target, 0700, &s), 0);
        for (size_t i = 0; i < 2; i++) {
                _cleanup_(freep) char *f = tb_path_join(s.dir, names[i]);
                assert_int_equal(tb_write_file_new(f, "2", 1, 0644), 0);
        }
        assert_int_equal(tb_stage_commit(&s, names, 2, true), 0);
        assert_int_equal(count_entries(target), 2);
}

static void copy_file_copies_with_mode_and_refuses_to_replace_unless_asked(void **state) {
        char src[256], dst[256];
        tb_buf b = TB_BUF_INIT;
        struct stat st;
        (void)state;

        snprintf(src, sizeof(src), "%s/copy-src", dir);
        snprintf(dst, sizeof(dst), "%s/copy-dst", dir);
        assert_int_equal(tb_write_file_atomic(src, "one", 3, 0644, true), 0);
        assert_int_equal(tb_copy_file(src, dst, 0600, false), 0);
        assert_int_equal(stat(dst, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(tb_read_file(dst, 64, &b), 0);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.data, "one", 3);
        tb_buf_free(&b);
        assert_int_equal(tb_write_file_atomic(src, "two!", 4, 0644, true), 0);
        assert_int_equal(tb_copy_file(src, dst, 0600, false), -EEXIST);
        assert_int_equal(tb_copy_file(src, dst, 0600, true), 0);
        assert_int_equal(tb_read_file(dst, 64, &b), 0);
        assert_int_equal(b.len, 4);
        tb_buf_free(&b);
        assert_int_equal(tb_copy_file("/nonexistent/src", dst, 0600, true), -ENOENT);
        unlink(src);
        unlink(dst);
}

static void workdir_is_new_private_and_under_its_parent(void **state) {
        char *a = NULL, *b = NULL;
        struct stat st;
        (void)state;

        assert_int_equal(tb_workdir_create(dir, "trustboot-test", &a), 0);
        assert_int_equal(tb_workdir_create(dir, "trustboot-test", &b), 0);
        assert_string_not_equal(a, b);
        assert_int_equal(strncmp(a, dir, strlen(dir)), 0);
        assert_int_equal(stat(a, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
        tb_rm_rf(a);
        tb_rm_rf(b);
        free(a);
        free(b);
        assert_int_not_equal(tb_workdir_create("/nonexistent/parent", "x", &a), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(atomic_write_sets_mode_and_leaves_no_temp_file),
                cmocka_unit_test(noreplace_commit_refuses_existing_file_and_cleans_up),
                cmocka_unit_test(secret_is_read_into_one_buffer_of_its_size),
                cmocka_unit_test(secret_from_a_pipe_is_bounded),
                cmocka_unit_test(aborted_file_disappears),
                cmocka_unit_test(read_file_enforces_its_limit),
                cmocka_unit_test(path_join_collapses_trailing_slashes),
                cmocka_unit_test(stage_into_missing_dir_creates_it_whole_and_abort_removes_parents),
                cmocka_unit_test(stage_into_existing_dir_rolls_back_on_conflict),
                cmocka_unit_test(copy_file_copies_with_mode_and_refuses_to_replace_unless_asked),
                cmocka_unit_test(workdir_is_new_private_and_under_its_parent),
        };
        return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown);
}
