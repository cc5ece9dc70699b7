/* testhook.h — fault injection and overrides for tests. The code behind these functions is
 * compiled only into the test binary (tests/trustboot-test, meson: testhook.c with
 * TB_TEST_HOOKS=1); the installed `trustboot` links the release variant, in which they do
 * nothing and read no environment, so no variable can change a node's behaviour.
 *
 * In the test binary:
 *   TRUSTBOOT_TEST_FAULT=N      the Nth tb_testhook_step() of the process is a power loss: it
 *                               prints "TB-FAULT N WHAT" to stderr and then (by default) kills
 *                               the process with SIGKILL; every step before prints "TB-STEP N
 *                               WHAT". N = 0: only print the steps.
 *   TRUSTBOOT_TEST_FAULT=WHAT   the same at the first step named WHAT.
 *   TRUSTBOOT_TEST_FAULT_HANG=1 stop there instead (the caller, e.g. a VM test, cuts the power).
 *   TRUSTBOOT_TEST_ESP_FREE=B   tb_testhook_free_space() says B bytes are free.
 *   TRUSTBOOT_TEST_ESP_SIZE=B   tb_testhook_fs_size() says the file system holds B bytes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Whether this binary carries the test hooks. */
bool tb_testhook_enabled(void);
/* A write step WHAT (e.g. "write-uki /EFI/trustboot/x.efi") is about to happen. */
void tb_testhook_step(const char *what);
/* true and *RET set when a test overrides the free space of a file system. */
bool tb_testhook_free_space(uint64_t *ret);
/* true and *RET set when a test overrides the size of a file system. */
bool tb_testhook_fs_size(uint64_t *ret);
