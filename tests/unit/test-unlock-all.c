/* tests/unit/test-unlock-all.c — unlock-all's report line per volume and its count of failures.
 * What unseals (a TPM, a sealed LUKS2 volume) is booted by the e2e suite (tpm2-unlock-in-guest). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/unlock-all.h"
#include "util/fileio.h"
#include "tmpdir.h"

TB_TEST_GROUP_DIR(dir, "unlock-all")

/* The report of one volume, written to a memory stream. */
static int unlock_one(const char *device, const char *name, bool test, char **report) {
        size_t len = 0;
        tb_unlock_all_options o = { .test = test };
        int r;

        o.out = open_memstream(report, &len);
        assert_non_null(o.out);
        r = tb_unlock_all_volume(device, name, &o);
        assert_int_equal(fclose(o.out), 0);
        return r;
}

/* A device that is no LUKS2 volume: one FAILED line naming it, and it counts as a failure. */
static void a_volume_that_does_not_unlock_is_reported_failed(void **state) {
        _cleanup_(freep) char *dev = tb_path_join(dir, "plain.img"), *report = NULL, *want = NULL;
        static const char zeros[4096];
        (void)state;

        tb_test_write(dir, "plain.img", zeros, sizeof(zeros));
        assert_true(asprintf(&want, "tb-unit-vol %s: FAILED\n", dev) > 0);
        assert_int_equal(unlock_one(dev, "tb-unit-vol", true, &report), 1);
        assert_string_equal(report, want);
}

/* Without --test the volume is opened under its name: one not open yet is tried, not skipped. */
static void a_volume_not_open_is_tried_not_skipped(void **state) {
        _cleanup_(freep) char *dev = tb_path_join(dir, "missing.img"), *report = NULL, *want = NULL;
        (void)state;

        assert_true(asprintf(&want, "tb-unit-not-open-volume %s: FAILED\n", dev) > 0);
        assert_int_equal(unlock_one(dev, "tb-unit-not-open-volume", false, &report), 1);
        assert_string_equal(report, want);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(a_volume_that_does_not_unlock_is_reported_failed),
                cmocka_unit_test(a_volume_not_open_is_tried_not_skipped),
        };
        return cmocka_run_group_tests(tests, tb_test_group_setup, tb_test_group_teardown);
}
