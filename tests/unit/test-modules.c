/* tests/unit/test-modules.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/modules.h"
#include "util/fileio.h"
#include "util/safefs.h"
#include "util/strset.h"

static char root[64];

static void put(const char *rel, const char *text) {
        _cleanup_(freep) char *p = tb_path_join(root, rel);
        assert_int_equal(tb_write_file_atomic(p, text, strlen(text), 0644, true), 0);
}

static void dir(const char *rel) {
        _cleanup_(freep) char *p = tb_path_join(root, rel);
        assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state) {
        (void)state;
        strcpy(root, "/tmp/tb-test-modules.XXXXXX");
        assert_non_null(mkdtemp(root));
        /* a sysfs-like tree: devices nest, links lead back up and must not be followed */
        dir("devices");
        dir("devices/pci0000:00");
        put("devices/pci0000:00/modalias", "pci:v00001AF4d00001001sv*\n");
        dir("devices/pci0000:00/virtio0");
        put("devices/pci0000:00/virtio0/modalias", "virtio:d00000002v00001AF4\n");
        dir("devices/pci0000:00/virtio0/block");
        put("devices/pci0000:00/virtio0/block/modalias", "\n"); /* empty: no alias */
        _cleanup_(freep) char *link = tb_path_join(root, "devices/pci0000:00/virtio0/subsystem");
        assert_int_equal(symlink("../..", link), 0);
        dir("devices/platform");
        put("devices/platform/modalias", "acpi:MSFT0101:\n");
        dir("lib");
        return 0;
}

static int teardown(void **state) {
        (void)state;
        return tb_rm_rf_at(AT_FDCWD, root);
}

static int collect(const char *alias, void *userdata) {
        return tb_strset_add(userdata, alias) == 1 ? 0 : -EEXIST; /* each once: no link followed */
}

static void walk_finds_every_modalias_once(void **state) {
        _cleanup_(tb_strset_freep) tb_strset *s = NULL;
        _cleanup_(freep) char *devices = tb_path_join(root, "devices");
        (void)state;

        assert_int_equal(tb_strset_new(&s), 0);
        assert_int_equal(tb_modules_foreach_modalias(devices, collect, s), 0);
        assert_int_equal(tb_strset_size(s), 3);
        assert_true(tb_strset_contains(s, "virtio:d00000002v00001AF4"));
        assert_true(tb_strset_contains(s, "pci:v00001AF4d00001001sv*"));
        assert_true(tb_strset_contains(s, "acpi:MSFT0101:"));
}

/* A tree without modules: coldplug finds nothing to load and says nothing per alias; a module
 * asked for by name is a named failure, counted. */
static void missing_modules_are_named_not_fatal(void **state) {
        _cleanup_(tb_modules_freep) tb_modules *m = NULL;
        _cleanup_(freep) char *lib = tb_path_join(root, "lib");
        tb_modules_stats st;
        (void)state;

        assert_int_equal(tb_modules_new(lib, root, &m), 0);
        assert_int_equal(tb_modules_coldplug(m), 0);
        assert_int_equal(tb_modules_coldplug(m), 0); /* every alias seen: nothing looked up again */
        assert_int_equal(tb_modules_load(m, "dm_crypt", false), -ENOENT);
        tb_modules_get_stats(m, &st);
        assert_int_equal(st.loaded, 0);
        assert_int_equal(st.failed, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(walk_finds_every_modalias_once, setup, teardown),
                cmocka_unit_test_setup_teardown(missing_modules_are_named_not_fatal, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
