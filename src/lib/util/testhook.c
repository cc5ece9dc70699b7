/* testhook.c — see testhook.h. Built twice: into the library without TB_TEST_HOOKS (every
 * function a no-op) and into the test binary with TB_TEST_HOOKS=1. */
#include "util/testhook.h"

#if defined(TB_TEST_HOOKS) && TB_TEST_HOOKS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool tb_testhook_enabled(void) {
        return true;
}

void tb_testhook_step(const char *what) {
        static unsigned long n;
        const char *f = getenv("TRUSTBOOT_TEST_FAULT");
        char *end;
        unsigned long want;

        if (!f || !*f)
                return;
        n++;
        want = strtoul(f, &end, 10);
        if (*end ? strcmp(f, what) != 0 : want != n) {
                fprintf(stderr, "TB-STEP %lu %s\n", n, what);
                return;
        }
        fprintf(stderr, "TB-FAULT %lu %s\n", n, what);
        fflush(stderr);
        if (getenv("TRUSTBOOT_TEST_FAULT_HANG"))
                for (;;)
                        pause();
        raise(SIGKILL);
}

static bool number_from_env(const char *name, uint64_t *ret) {
        const char *v = getenv(name);

        if (!v || !*v)
                return false;
        *ret = strtoull(v, NULL, 10);
        return true;
}

bool tb_testhook_free_space(uint64_t *ret) {
        return number_from_env("TRUSTBOOT_TEST_ESP_FREE", ret);
}

bool tb_testhook_fs_size(uint64_t *ret) {
        return number_from_env("TRUSTBOOT_TEST_ESP_SIZE", ret);
}
#else
bool tb_testhook_enabled(void) {
        return false;
}

void tb_testhook_step(const char *what) {
        (void)what;
}

bool tb_testhook_free_space(uint64_t *ret) {
        (void)ret;
        return false;
}

bool tb_testhook_fs_size(uint64_t *ret) {
        (void)ret;
        return false;
}
#endif
