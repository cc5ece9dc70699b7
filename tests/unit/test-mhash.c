/* tests/unit/test-mhash.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "measure/mhash.h"

static void bank_names_accept_openssl_spellings_and_refuse_others(void **state) {
        (void)state;

        assert_int_equal(tb_bank_from_string("sha256"), TB_BANK_SHA256);
        assert_int_equal(tb_bank_from_string("SHA256"), TB_BANK_SHA256);
        assert_int_equal(tb_bank_from_string("SHA2-512"), TB_BANK_SHA512);
        assert_int_equal(tb_bank_from_string("sha1"), TB_BANK_SHA1);
        assert_int_equal(tb_bank_from_string("md5"), -EINVAL);
        assert_int_equal(tb_bank_from_string("sha3-256"), -EINVAL);
        assert_int_equal(tb_bank_from_string(""), -EINVAL);
        assert_string_equal(tb_bank_name(TB_BANK_SHA384), "sha384");
        assert_int_equal(tb_bank_size(TB_BANK_SHA384), 48);
}

static void chunked_and_fd_input_give_the_one_shot_digests(void **state) {
        static uint8_t data[300000];
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        char path[] = "/tmp/test-mhash.XXXXXX";
        tb_digests whole, chunked, fromfd;
        uint64_t len;
        int fd;
        (void)state;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 7 + (i >> 9));
        assert_int_equal(tb_digests_of(TB_BANKS_ALL, data, sizeof(data), &whole), 0);
        assert_int_equal(tb_mhash_new(TB_BANKS_ALL, &h), 0);
        for (size_t off = 0; off < sizeof(data); off += 4099)
                assert_int_equal(tb_mhash_update(h, data + off, MIN((size_t)4099, sizeof(data) - off)), 0);
        assert_int_equal(tb_mhash_final(h, &chunked, NULL), 0);
        assert_memory_equal(&whole, &chunked, sizeof(whole));

        fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(tb_mhash_update_fd(h, fd), 0);
        close(fd);
        assert_int_equal(tb_mhash_length(h), sizeof(data));
        assert_int_equal(tb_mhash_final(h, &fromfd, &len), 0);
        assert_int_equal(len, sizeof(data));
        assert_memory_equal(&whole, &fromfd, sizeof(whole));
}

static void only_selected_banks_are_computed(void **state) {
        tb_digests d;
        (void)state;

        assert_int_equal(tb_digests_of(TB_BANK_BIT(TB_BANK_SHA1), "", 0, &d), 0);
        assert_int_equal(d.banks, TB_BANK_BIT(TB_BANK_SHA1));
        /* SHA-1 of the empty string */
        assert_memory_equal(d.d[TB_BANK_SHA1], "\xda\x39\xa3\xee\x5e\x6b\x4b\x0d\x32\x55\xbf\xef\x95\x60\x18\x90\xaf\xd8\x07\x09", 20);
        assert_int_equal(tb_digests_of(0, "", 0, &d), -EINVAL);
        assert_int_equal(tb_digests_of(1u << 7, "", 0, &d), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(bank_names_accept_openssl_spellings_and_refuse_others),
                cmocka_unit_test(chunked_and_fd_input_give_the_one_shot_digests),
                cmocka_unit_test(only_selected_banks_are_computed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
