/* tests/unit/test-disk.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/cloudconfig.h"
#include "node/disk.h"

static void uuid5_of_labels_matches_kairos(void **state) {
        char u[TB_DISK_UUID_STRING_SIZE];
        (void)state;

        /* Values from research/kairos.md §4.2 (Python uuid.uuid5(uuid.NAMESPACE_URL, label)). */
        tb_disk_uuid5("KAIROS_DISK", u);
        assert_string_equal(u, TB_DISK_GUID);
        tb_disk_uuid5("COS_GRUB", u);
        assert_string_equal(u, "81444e82-66b3-5ed2-961b-497665f12be2");
        tb_disk_uuid5("COS_OEM", u);
        assert_string_equal(u, "8bfa06f9-ca4f-56dc-90c9-49cf20f4f45e");
        tb_disk_uuid5("COS_PERSISTENT", u);
        assert_string_equal(u, "85c39d0f-4867-5227-8334-f5eec606d9eb");
}

static void default_layout_is_efi_oem_then_persistent_taking_the_rest(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        tb_disk_layout l;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 100, &l), 0);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.parts[0].name, "efi");
        assert_string_equal(l.parts[0].label, "COS_GRUB");
        assert_string_equal(l.parts[0].fs, "vfat");
        assert_true(l.parts[0].esp);
        assert_int_equal(l.parts[0].size_mib, 100);
        assert_string_equal(l.parts[1].label, "COS_OEM");
        assert_int_equal(l.parts[1].size_mib, 64);
        assert_string_equal(l.parts[2].label, "COS_PERSISTENT");
        assert_int_equal(l.parts[2].size_mib, 0);
        assert_int_equal(l.parts[2].partno, 3);
        assert_int_equal(tb_disk_layout_min_bytes(&l), (uint64_t)(2 + 100 + 64 + 64) << 20);
}

static void sized_persistent_keeps_its_place_and_rest_extra_goes_last(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        static const char y[] = "install:\n  partitions: {persistent: {size: 500}}\n  extra-partitions:\n"
                                "    - {name: big, size: 0, label: BIG}\n    - {name: two, size: 100, label: TWO}\n";
        tb_disk_layout l;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_cloudconfig_merge(c, "t", y, strlen(y)), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 100, &l), 0);
        assert_int_equal(l.n, 5);
        assert_string_equal(l.parts[2].label, "COS_PERSISTENT");
        assert_string_equal(l.parts[3].label, "TWO");
        assert_string_equal(l.parts[3].fs, "ext2");
        assert_string_equal(l.parts[4].label, "BIG");
        assert_int_equal(l.parts[4].partno, 5);
        assert_non_null(tb_disk_layout_find(&l, "TWO"));
        assert_null(tb_disk_layout_find(&l, "NOPE"));
}

static void partitioning_a_too_small_image_fails_before_writing(void **state) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        char path[] = "/tmp/tb-test-disk.XXXXXX";
        static const uint8_t zero[4096];
        uint8_t back[4096];
        tb_disk_layout l;
        int fd;
        (void)state;

        assert_int_equal(tb_cloudconfig_new(&c), 0);
        assert_int_equal(tb_disk_layout_from_config(c, 100, &l), 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 200 << 20), 0);
        assert_int_equal(tb_disk_partition(path, &l), -ENOSPC);
        assert_int_equal(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
        assert_memory_equal(back, zero, sizeof(back));
        close(fd);
        unlink(path);
}

static void partition_device_names_follow_the_kernel(void **state) {
        char *s;
        (void)state;

        assert_int_equal(tb_disk_part_device("/dev/vda", 2, &s), 0);
        assert_string_equal(s, "/dev/vda2");
        free(s);
        assert_int_equal(tb_disk_part_device("/dev/nvme0n1", 3, &s), 0);
        assert_string_equal(s, "/dev/nvme0n1p3");
        free(s);
        assert_int_equal(tb_disk_part_device("/dev/loop7", 1, &s), 0);
        assert_string_equal(s, "/dev/loop7p1");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(uuid5_of_labels_matches_kairos),
                cmocka_unit_test(default_layout_is_efi_oem_then_persistent_taking_the_rest),
                cmocka_unit_test(sized_persistent_keeps_its_place_and_rest_extra_goes_last),
                cmocka_unit_test(partitioning_a_too_small_image_fails_before_writing),
                cmocka_unit_test(partition_device_names_follow_the_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
