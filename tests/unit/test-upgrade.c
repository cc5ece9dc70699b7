/* tests/unit/test-upgrade.c — the upgrade's refusals before the ESP is touched: entry names that
 * are paths, counters or hidden; an entry that is not installed; a new UKI the firmware's db does
 * not allow. After each refusal the ESP holds exactly what it held. (The rotation itself, the
 * PCR-key checks and the crash points: interop upgrade-*.sh and the power-loss suite.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "node/upgrade.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "tmpdir.h"

typedef struct fx {
        char dir[256], esp[400], medium[400], efivars[400], work[400], source[420];
} fx;

static void esp_tree(const char *base, const char *uki, const char *conf, const tb_buf *stub) {
        char p[200];

        tb_test_mkdir(base, "EFI");
        tb_test_mkdir(base, "EFI/BOOT");
        tb_test_mkdir(base, "EFI/trustboot");
        tb_test_mkdir(base, "loader");
        tb_test_mkdir(base, "loader/entries");
        tb_test_write(base, "EFI/BOOT/BOOTX64.EFI", stub->data, stub->len);
        tb_test_write(base, "loader/loader.conf", "timeout 5\n", 10);
        snprintf(p, sizeof(p), "EFI/trustboot/%s.efi", uki);
        tb_test_write(base, p, stub->data, stub->len);
        snprintf(p, sizeof(p), "loader/entries/%s.conf", conf);
        tb_test_write(base, p, "title trustboot\nefi /EFI/trustboot/", 35);
        snprintf(p, sizeof(p), "%s/loader/entries/%s.conf", base, conf);
        {
                tb_buf b = TB_BUF_INIT;
                assert_int_equal(tb_read_file(p, 4096, &b), 0);
                assert_int_equal(tb_buf_append(&b, uki, strlen(uki)), 0);
                assert_int_equal(tb_buf_append(&b, ".efi\n", 5), 0);
                assert_int_equal(tb_write_file_atomic(p, b.data, b.len, 0644, true), 0);
                tb_buf_free(&b);
        }
}

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        tb_buf stub = TB_BUF_INIT, esl = TB_BUF_INIT;
        uint8_t hash[32] = { 1, 2, 3 };

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "upgrade");
        snprintf(f->esp, sizeof(f->esp), "%s/esp", f->dir);
        snprintf(f->medium, sizeof(f->medium), "%s/medium", f->dir);
        snprintf(f->efivars, sizeof(f->efivars), "%s/efivars", f->dir);
        snprintf(f->work, sizeof(f->work), "%s/work", f->dir);
        snprintf(f->source, sizeof(f->source), "dir:%s", f->medium);
        tb_test_mkdir(f->dir, "esp");
        tb_test_mkdir(f->dir, "medium");
        tb_test_mkdir(f->dir, "efivars");
        tb_test_mkdir(f->dir, "work");
        assert_int_equal(tb_read_file(TB_SDBOOT_EFI_DIR "/linuxx64.efi.stub", 1 << 22, &stub), 0);
        esp_tree(f->esp, "active", "active", &stub);
        esp_tree(f->medium, "norole", "norole", &stub);
        /* db: one image hash that is not the stub's. The stub is unsigned: db allows nothing here. */
        assert_int_equal(tb_esl_append(&esl, &TB_GUID_CERT_SHA256, &TB_GUID_OWNER_CUSTOM, hash, sizeof(hash)), 0);
        assert_int_equal(tb_efivar_write(f->efivars, "db", &TB_GUID_IMAGE_SECURITY_DATABASE, 0x27, esl.data, esl.len), 0);
        tb_buf_free(&stub);
        tb_buf_free(&esl);
        *state = f;
        return 0;
}

/* The ESP as one string: every path with its size and the SHA-256 of its bytes, in walk order. */
static tb_buf esp_print;
static int print_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        char line[1200];
        (void)ftw;

        snprintf(line, sizeof(line), "%s %d %lld\n", path, type, (long long)st->st_size);
        assert_int_equal(tb_buf_append(&esp_print, line, strlen(line)), 0);
        if (type == FTW_F) {
                tb_buf b = TB_BUF_INIT;
                assert_int_equal(tb_read_file(path, 1 << 22, &b), 0);
                assert_int_equal(tb_buf_append(&esp_print, b.data, b.len), 0);
                tb_buf_free(&b);
        }
        return 0;
}

static void fingerprint(const char *esp, tb_buf *out) {
        esp_print = (tb_buf)TB_BUF_INIT;
        assert_int_equal(nftw(esp, print_one, 16, FTW_PHYS), 0);
        *out = esp_print;
}

static void run_refused(const fx *f, const char *entry, int want) {
        tb_upgrade_options o = { .source = f->source, .esp = f->esp, .efivar_dir = f->efivars, .workdir = f->work,
                                 .entry = entry };
        tb_upgrade_result res;
        tb_buf before, after;

        fingerprint(f->esp, &before);
        assert_int_equal(tb_upgrade_run(&o, &res), want);
        assert_null(res.entry_file);
        fingerprint(f->esp, &after);
        assert_int_equal(before.len, after.len);
        assert_memory_equal(before.data, after.data, before.len);
        tb_buf_free(&before);
        tb_buf_free(&after);
        /* Nothing staged stays behind either. */
        fingerprint(f->work, &after);
        assert_non_null(memmem(after.data, after.len, " 1 ", 3)); /* the directory itself */
        assert_null(memmem(after.data, after.len, "trustboot-upgrade", 17));
        tb_buf_free(&after);
}

static void entry_names(void **state) {
        char longest[TB_UPGRADE_ENTRY_NAME_MAX + 2];
        (void)state;

        assert_true(tb_upgrade_entry_name_valid("recovery"));
        assert_true(tb_upgrade_entry_name_valid("my_entry-2.x"));
        assert_false(tb_upgrade_entry_name_valid(""));
        assert_false(tb_upgrade_entry_name_valid("../active"));
        assert_false(tb_upgrade_entry_name_valid("a/b"));
        assert_false(tb_upgrade_entry_name_valid("active+3"));
        assert_false(tb_upgrade_entry_name_valid(".hidden"));
        memset(longest, 'e', TB_UPGRADE_ENTRY_NAME_MAX);
        longest[TB_UPGRADE_ENTRY_NAME_MAX] = 0;
        assert_true(tb_upgrade_entry_name_valid(longest));
        longest[TB_UPGRADE_ENTRY_NAME_MAX] = 'e';
        longest[TB_UPGRADE_ENTRY_NAME_MAX + 1] = 0;
        assert_false(tb_upgrade_entry_name_valid(longest));
}

static void invalid_or_missing_entries_are_refused(void **state) {
        fx *f = *state;

        run_refused(f, "../../etc", -EINVAL);
        run_refused(f, "recovery", -ENOENT); /* not installed */
}

static void a_uki_the_firmware_would_not_run_is_refused(void **state) {
        fx *f = *state;

        run_refused(f, NULL, -EPERM);
}

static char *printed(const tb_upgrade_result *r) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);

        assert_non_null(out);
        tb_upgrade_print_result(r, out);
        assert_int_equal(fclose(out), 0);
        return text;
}

/* The one line `trustboot upgrade` prints: the new entry, and whether the next boot takes it. */
static void the_result_line_names_the_entry_and_the_next_boot(void **state) {
        tb_upgrade_result r = { .entry_file = (char *)"active+3.conf", .oneshot = true };
        char *text;
        (void)state;

        text = printed(&r);
        assert_string_equal(text, "active+3.conf (next boot)\n");
        free(text);
        r = (tb_upgrade_result){ .entry_file = (char *)"recovery.conf", .sdboot_updated = true };
        text = printed(&r); /* the systemd-boot note is a log line, not data */
        assert_string_equal(text, "recovery.conf\n");
        free(text);
}

/* A refused upgrade prints nothing (and, refused, never reaches --reboot's step). */
static void a_refused_command_prints_nothing(void **state) {
        fx *f = *state;
        tb_upgrade_options o = { .source = f->source, .esp = f->esp, .efivar_dir = f->efivars, .workdir = f->work,
                                 .entry = "recovery" };
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);

        assert_non_null(out);
        assert_int_equal(tb_upgrade_command(&o, false, out), -ENOENT);
        assert_int_equal(fclose(out), 0);
        assert_string_equal(text, "");
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(entry_names),
                cmocka_unit_test_setup_teardown(invalid_or_missing_entries_are_refused, setup, tb_test_fixture_teardown),
                cmocka_unit_test_setup_teardown(a_uki_the_firmware_would_not_run_is_refused, setup, tb_test_fixture_teardown),
                cmocka_unit_test(the_result_line_names_the_entry_and_the_next_boot),
                cmocka_unit_test_setup_teardown(a_refused_command_prints_nothing, setup, tb_test_fixture_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
