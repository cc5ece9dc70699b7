/* tests/unit/test-initrd-job.c — `trustboot initrd`'s job on a directory source: the initrd file
 * written in place with the kernel's path and the file's SHA-256 printed (the digest of the bytes
 * on disk, hashed here independently); the report printed with nothing written; a target that
 * cannot be created refused with nothing printed and nothing left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs/initrd-job.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/json.h"
#include "tmpdir.h"

static char dir[128], src[256];
static tb_rootfs_options ropts; /* the defaults */

static int setup(void **state) {
        (void)state;
        tb_test_tmpdir_make(dir, sizeof(dir), "initrd-job");
        tb_test_mkdir(dir, "root");
        tb_test_mkdir(dir, "root/boot");
        tb_test_mkdir(dir, "root/usr");
        tb_test_mkdir(dir, "root/usr/share");
        tb_test_mkdir(dir, "root/usr/share/doc");
        tb_test_write(dir, "root/boot/vmlinuz-6.1.0-9-amd64", "kernel", 6);
        tb_test_write(dir, "root/usr/share/doc/README", "read me\n", 8);
        tb_test_write(dir, "root/usr/hello.txt", "hello\n", 6);
        tb_test_mkdir(dir, "out");
        snprintf(src, sizeof(src), "dir:%s/root", dir);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        tb_test_tmpdir_remove(dir);
        return 0;
}

/* Runs JOB with its output captured; returns what tb_initrd_job_run() returned. */
static int run(tb_initrd_job *job, char **ret_out) {
        size_t len = 0;
        FILE *f = open_memstream(ret_out, &len);
        int r;

        assert_non_null(f);
        job->source = src;
        job->rootfs = &ropts;
        r = tb_initrd_job_run(job, f);
        assert_int_equal(fclose(f), 0);
        return r;
}

/* An uncompressed initrd; with OUTPUT (below the test directory, its path in PATH) and its
 * digest printed unless OUTPUT is NULL. */
static void new_job(tb_initrd_job *job, const char *output, char *path, size_t size) {
        *job = (tb_initrd_job){ 0 };
        assert_int_equal(tb_initrd_options_init(&job->initrd), 0);
        job->initrd.compression = TB_INITRD_NONE;
        if (!output)
                return;
        snprintf(path, size, "%s/%s", dir, output);
        job->output = path;
        job->print_digest = true;
}

static void writes_the_initrd_and_prints_kernel_and_digest(void **state) {
        _cleanup_(tb_buf_freep) tb_buf file = TB_BUF_INIT;
        _cleanup_(freep) char *out = NULL, *hex = NULL, *want = NULL;
        char path[600];
        uint8_t d[32];
        unsigned dlen = 0;
        tb_initrd_job job;
        (void)state;

        new_job(&job, "out/initrd.img", path, sizeof(path));
        job.print_kernel = true;
        assert_int_equal(run(&job, &out), 0);
        assert_int_equal(tb_read_file(path, 1 << 20, &file), 0);
        assert_memory_equal(file.data, "070701", 6); /* newc, uncompressed */
        assert_true(EVP_Digest(file.data, file.len, d, &dlen, EVP_sha256(), NULL) == 1);
        hex = tb_hex_string(d, dlen);
        assert_true(asprintf(&want, "/boot/vmlinuz-6.1.0-9-amd64\n%s  %s\n", hex, path) > 0);
        assert_string_equal(out, want);
}

/* --report: the table (files counted, sizes far below 0.1 MiB; what /boot holds is not in an
 * initrd), the JSON with an exclusion, and no file beside the source. */
static void report_prints_the_table_and_writes_nothing(void **state) {
        _cleanup_(freep) char *out = NULL, *json = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *excludes[] = { "*.txt" };
        DIR *d;
        int n = 0;
        tb_initrd_job job;
        (void)state;

        new_job(&job, NULL, NULL, 0);
        job.report = true;
        job.depth = 1;
        assert_int_equal(run(&job, &out), 0);
        assert_string_equal(out, "   raw MiB   est. MiB  excl. MiB    files  directory\n"
                                 "       0.0        0.0          -        2  /usr\n"
                                 "       0.0        0.0                   2  total\n"
                                 "(--slim or --exclude with --report show what they would leave out)\n");
        job.json = true;
        job.excludes = excludes;
        job.n_excludes = 1;
        assert_int_equal(run(&job, &json), 0);
        o = json_tokener_parse(json);
        assert_non_null(o);
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "files")), 2);
        assert_int_equal(json_object_get_int64(json_object_object_get(o, "raw")), 8 + 6);
        assert_int_equal(json_object_get_int64(json_object_object_get(json_object_object_get(o, "excluded"), "raw")), 6);
        d = opendir(dir);
        assert_non_null(d);
        for (struct dirent *e; (e = readdir(d));)
                n += strcmp(e->d_name, "out") != 0 && strcmp(e->d_name, "root") != 0 && e->d_name[0] != '.';
        closedir(d);
        assert_int_equal(n, 0);
}

/* An output whose directory does not exist: refused before anything is printed. */
static void output_that_cannot_be_created_is_refused(void **state) {
        _cleanup_(freep) char *out = NULL;
        char path[600];
        tb_initrd_job job;
        (void)state;

        new_job(&job, "missing/initrd.img", path, sizeof(path));
        assert_true(run(&job, &out) < 0);
        assert_string_equal(out, "");
        assert_int_equal(access(path, F_OK), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(writes_the_initrd_and_prints_kernel_and_digest),
                cmocka_unit_test(report_prints_the_table_and_writes_nothing),
                cmocka_unit_test(output_that_cannot_be_created_is_refused),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
