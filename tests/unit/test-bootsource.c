/* tests/unit/test-bootsource.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/bootsource.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/safefs.h"

#define LOADER_GUID "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

static char root[64];

/* NAME-LOADER_GUID holding ATTRS and VALUE as UTF-16LE with its NUL, as systemd-boot writes it. */
static void var(const char *name, uint32_t attrs, const char *value) {
        uint8_t data[512];
        size_t n = 0;
        char file[128];

        memcpy(data, &attrs, 4);
        n = 4;
        for (const char *p = value;; p++) {
                data[n++] = (uint8_t)*p;
                data[n++] = 0;
                if (!*p)
                        break;
        }
        snprintf(file, sizeof(file), "%s-%s", name, LOADER_GUID);
        _cleanup_(freep) char *path = tb_path_join(root, file);
        assert_int_equal(tb_write_file_atomic(path, data, n, 0644, true), 0);
}

static int setup(void **state) {
        (void)state;
        strcpy(root, "/tmp/tb-test-bootsource.XXXXXX");
        assert_non_null(mkdtemp(root));
        return 0;
}

static int teardown(void **state) {
        (void)state;
        return tb_rm_rf_at(AT_FDCWD, root);
}

static void no_loader_variables_is_the_medium(void **state) {
        tb_boot_origin o;
        (void)state;

        assert_int_equal(tb_boot_origin_probe(root, &o), 0);
        assert_int_equal(o.source, TB_BOOT_SOURCE_MEDIUM);
        assert_int_equal(o.role, TB_ROLE_NONE);
        assert_non_null(strstr(o.why, "not an installed role"));
        tb_boot_origin_done(&o);
}

/* An installed role whose ESP is nowhere here (a stick's loader naming a partition this
 * machine lacks): still the medium. */
static void role_without_its_esp_is_the_medium(void **state) {
        tb_boot_origin o;
        (void)state;

        var("LoaderEntrySelected", 0x6, "active+3.conf");
        var("LoaderDevicePartUUID", 0x6, "0AB1C2D3-0000-4000-8000-00000000DEAD");
        assert_int_equal(tb_boot_origin_probe(root, &o), 0);
        assert_int_equal(o.source, TB_BOOT_SOURCE_MEDIUM);
        assert_int_equal(o.role, TB_ROLE_ACTIVE);
        assert_string_equal(o.esp_partuuid, "0ab1c2d3-0000-4000-8000-00000000dead");
        assert_null(o.disk);
        assert_non_null(strstr(o.why, "not a partition here"));
        tb_boot_origin_done(&o);
}

/* Values planted from an operating system are non-volatile: not this boot's loader's. */
static void non_volatile_loader_variables_are_ignored(void **state) {
        tb_boot_origin o;
        (void)state;

        var("LoaderEntrySelected", 0x7, "active.conf");
        var("LoaderDevicePartUUID", 0x7, "0ab1c2d3-0000-4000-8000-00000000dead");
        assert_int_equal(tb_boot_origin_probe(root, &o), 0);
        assert_int_equal(o.source, TB_BOOT_SOURCE_MEDIUM);
        assert_int_equal(o.role, TB_ROLE_NONE);
        assert_null(o.entry);
        assert_null(o.esp_partuuid);
        tb_boot_origin_done(&o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(no_loader_variables_is_the_medium, setup, teardown),
                cmocka_unit_test_setup_teardown(role_without_its_esp_is_the_medium, setup, teardown),
                cmocka_unit_test_setup_teardown(non_volatile_loader_variables_are_ignored, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
