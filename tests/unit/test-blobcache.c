/* tests/unit/test-blobcache.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rootfs/blobcache.h"
#include <fcntl.h>
#include <openssl/evp.h>

#include "rootfs/oci.h"

static void put(tb_blobcache *c, const char *text, char digest[TB_OCI_DIGEST_MAX]) {
        tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        uint8_t md[32];

        assert_int_equal(EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL), 1);
        tb_oci_digest_format(md, digest);
        assert_int_equal(tb_blobcache_begin(c, digest, &af), 0);
        assert_int_equal(tb_write_all(af.fd, text, strlen(text)), 0);
        assert_int_equal(tb_blobcache_commit(c, &af), 0);
}

static void committed_blobs_are_found_by_digest_and_size(void **state) {
        char dir[] = "/tmp/test-blobcache.XXXXXX", d[TB_OCI_DIGEST_MAX];
        _cleanup_(tb_blobcache_freep) tb_blobcache *c = NULL;
        int fd = -1;
        (void)state;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(tb_blobcache_open(dir, &c), 0);
        put(c, "hello", d);
        assert_int_equal(tb_blobcache_get(c, d, 5, &fd), 1);
        close(fd);
        assert_int_equal(tb_blobcache_get(c, d, 6, &fd), 0); /* wrong size: a miss */
        d[10] ^= 1;
        assert_int_equal(tb_blobcache_get(c, d, 5, &fd), 0);
        tb_rm_rf(dir);
}

static void aborted_blobs_leave_nothing(void **state) {
        char dir[] = "/tmp/test-blobcache.XXXXXX", path[128];
        _cleanup_(tb_blobcache_freep) tb_blobcache *c = NULL;
        tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        const char *d = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        int fd;
        (void)state;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(tb_blobcache_open(dir, &c), 0);
        assert_int_equal(tb_blobcache_begin(c, d, &af), 0);
        assert_int_equal(tb_write_all(af.fd, "x", 1), 0);
        tb_atomic_abort(&af);
        assert_int_equal(tb_blobcache_get(c, d, UINT64_MAX, &fd), 0);
        snprintf(path, sizeof(path), "rmdir %s/blobs/sha256 2>/dev/null", dir);
        assert_int_equal(system(path), 0); /* empty: no temp file left */
        tb_rm_rf(dir);
}

static void trim_evicts_least_recently_used_first(void **state) {
        char dir[] = "/tmp/test-blobcache.XXXXXX", a[TB_OCI_DIGEST_MAX], b[TB_OCI_DIGEST_MAX], cc[TB_OCI_DIGEST_MAX];
        _cleanup_(tb_blobcache_freep) tb_blobcache *c = NULL;
        struct timespec t[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
        char path[160];
        int fd;
        (void)state;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(tb_blobcache_open(dir, &c), 0);
        put(c, "aaaa", a);
        put(c, "bbbb", b);
        put(c, "cccc", cc);
        /* a is oldest, then b, then c; using a makes it the newest. */
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, a + 7);
        assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
        t[1].tv_sec = 2000;
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, b + 7);
        assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
        t[1].tv_sec = 3000;
        snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, cc + 7);
        assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
        assert_int_equal(tb_blobcache_get(c, a, 4, &fd), 1);
        close(fd);
        assert_int_equal(tb_blobcache_trim(c, 8), 4); /* b goes */
        assert_int_equal(tb_blobcache_get(c, b, 4, &fd), 0);
        assert_int_equal(tb_blobcache_get(c, cc, 4, &fd), 1);
        close(fd);
        assert_int_equal(tb_blobcache_get(c, a, 4, &fd), 1);
        close(fd);
        tb_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(committed_blobs_are_found_by_digest_and_size),
                cmocka_unit_test(aborted_blobs_leave_nothing),
                cmocka_unit_test(trim_evicts_least_recently_used_first),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
