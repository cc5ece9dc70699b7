/* tests/unit/test-fatimg.c — the pinned layout: a file placed before the sizes are final. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "medium/fatimg.h"
#include "util/fileio.h"

#define MIB ((uint64_t)1 << 20)
#define UKI "EFI/trustboot/norole.efi"

static const uint8_t loader[] = "timeout 5\n";
static uint8_t sdboot[100000];

static int write_pattern(int fd, uint64_t off, void *userdata) {
        uint64_t size = *(uint64_t *)userdata;
        uint8_t buf[4096];

        memset(buf, 0xA5, sizeof(buf));
        for (uint64_t done = 0; done < size; done += sizeof(buf)) {
                int r = tb_pwrite_all(fd, buf, (size_t)(size - done < sizeof(buf) ? size - done : sizeof(buf)),
                                      (off_t)(off + done));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* An ESP like build-uki's: systemd-boot, two UKIs of SIZE bytes, a loader file. */
static tb_fat *esp(uint64_t *size) {
        tb_fat *fat = NULL;

        assert_int_equal(tb_fat_new(&fat), 0);
        assert_int_equal(tb_fat_add_data(fat, "EFI/BOOT/BOOTX64.EFI", sdboot, sizeof(sdboot)), 0);
        assert_int_equal(tb_fat_add_producer(fat, UKI, *size, write_pattern, size), 0);
        assert_int_equal(tb_fat_add_producer(fat, "EFI/trustboot/norole_x.efi", *size, write_pattern, size), 0);
        assert_int_equal(tb_fat_add_data(fat, "loader/loader.conf", loader, sizeof(loader) - 1), 0);
        return fat;
}

static void pinned_file_lands_where_the_bound_said(void **state) {
        /* Bounds on either side of the switch from 512-byte to 4 KiB clusters (256 MiB), real
         * sizes from tiny to the bound itself. */
        static const uint64_t bounds[] = { 20 * MIB, 200 * MIB, 700 * MIB, 3000 * MIB / 2 };
        static const uint64_t reals[] = { 1000, 5 * MIB, 120 * MIB, 126 * MIB, 140 * MIB, 600 * MIB, 750 * MIB };
        tb_fat_options o = { .label = "EFIBOOT", .epoch = 1700000000 };
        (void)state;

        for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
                uint64_t bound = bounds[i];
                _cleanup_(tb_fat_freep) tb_fat *b = esp(&bound);
                int64_t pin = tb_fat_pin_bound(b, &o, UKI);

                assert_true(pin > 0);
                assert_int_equal(pin % 512, 0);
                for (size_t j = 0; j < sizeof(reals) / sizeof(reals[0]); j++) {
                        uint64_t real = reals[j];
                        _cleanup_(tb_fat_freep) tb_fat *f = esp(&real);
                        tb_fat_options p = o;
                        int64_t size;

                        p.pin_path = UKI;
                        p.pin_offset = (uint64_t)pin;
                        size = tb_fat_plan(f, &p);
                        if (real > bound) { /* grew beyond the bound: refused, never misplaced */
                                assert_true(size == -ERANGE || tb_fat_file_offset(f, UKI) == pin);
                                continue;
                        }
                        assert_true(size > 0);
                        assert_int_equal(tb_fat_file_offset(f, UKI), pin);
                }
        }
}

static void pinned_image_is_a_valid_layout(void **state) {
        uint64_t bound = 300 * MIB, real = 3000;
        _cleanup_(tb_fat_freep) tb_fat *b = esp(&bound), *f = esp(&real), *plain = esp(&real);
        tb_fat_options o = { .label = "EFIBOOT", .epoch = 1700000000 }, p = o;
        char path[] = "/tmp/test-fatimg.XXXXXX";
        uint8_t bs[512], data[3000], want[3000];
        int64_t pin, size, natural;
        int fd;
        (void)state;

        pin = tb_fat_pin_bound(b, &o, UKI);
        assert_true(tb_fat_plan(plain, &o) > 0);
        natural = tb_fat_file_offset(plain, UKI);
        assert_true(pin > natural); /* the bound's FAT is larger */

        fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        p.pin_path = UKI;
        p.pin_offset = (uint64_t)pin;
        size = tb_fat_write(f, fd, &p);
        assert_true(size > 0);
        /* The reserved area took the difference; the FAT follows it, the file is at the pin. */
        assert_int_equal(tb_pread_full(fd, bs, sizeof(bs), 0), 0);
        assert_int_equal(bs[14] | bs[15] << 8, 32 + (pin - natural) / 512);
        assert_int_equal(tb_pread_full(fd, data, sizeof(data), pin), 0);
        memset(want, 0xA5, sizeof(want));
        assert_memory_equal(data, want, sizeof(want));
        /* FAT[0] (media F8) right after the reserved sectors. */
        assert_int_equal(tb_pread_full(fd, bs, 4, (off_t)(32 * 512 + (pin - natural))), 0);
        assert_int_equal(bs[0], 0xF8);
        close(fd);
}

static void unpinned_layout_is_unchanged_by_pinning_support(void **state) {
        uint64_t real = 3000;
        _cleanup_(tb_fat_freep) tb_fat *f = esp(&real);
        tb_fat_options o = { .label = "EFIBOOT", .epoch = 1700000000 };
        (void)state;

        /* 32 reserved sectors, two FATs of 65541+2 entries (513 sectors), then the root (2), EFI,
         * loader, BOOT, trustboot (one cluster each), BOOTX64.EFI (196 clusters), the UKI. */
        assert_true(tb_fat_plan(f, &o) > 0);
        assert_int_equal(tb_fat_file_offset(f, UKI), (32 + 2 * 513 + 5 + 196) * 512);
        assert_int_equal(tb_fat_file_offset(f, "EFI/nothing.efi"), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(pinned_file_lands_where_the_bound_said),
                cmocka_unit_test(pinned_image_is_a_valid_layout),
                cmocka_unit_test(unpinned_layout_is_unchanged_by_pinning_support),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
