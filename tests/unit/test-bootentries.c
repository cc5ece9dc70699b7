/* tests/unit/test-bootentries.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/bootentries.h"
#include "sb/efivar.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/strset.h"

#include "tmpdir.h"

static char root[256];

static void put(const char *rel, const char *text) {
        _cleanup_(freep) char *p = tb_path_join(root, rel);
        assert_int_equal(tb_write_file_atomic(p, text, strlen(text), 0644, true), 0);
}

static char *get(const char *rel) {
        _cleanup_(freep) char *p = tb_path_join(root, rel);
        tb_buf b = TB_BUF_INIT;
        if (tb_read_file(p, 65536, &b) < 0)
                return NULL;
        assert_int_equal(tb_buf_append(&b, "", 1), 0);
        return (char *)b.data;
}

static int setup(void **state) {
        char cmd[512];
        (void)state;
        tb_test_tmpdir_make(root, sizeof(root), "bootentries");
        snprintf(cmd, sizeof(cmd), "%s/EFI", root);
        assert_int_equal(mkdir(cmd, 0755), 0);
        snprintf(cmd, sizeof(cmd), "%s/EFI/trustboot", root);
        assert_int_equal(mkdir(cmd, 0755), 0);
        snprintf(cmd, sizeof(cmd), "%s/loader", root);
        assert_int_equal(mkdir(cmd, 0755), 0);
        snprintf(cmd, sizeof(cmd), "%s/loader/entries", root);
        assert_int_equal(mkdir(cmd, 0755), 0);
        snprintf(cmd, sizeof(cmd), "%s/vars", root);
        assert_int_equal(mkdir(cmd, 0755), 0);
        put("EFI/trustboot/norole.efi", "UKI1");
        put("EFI/trustboot/norole_install-mode_rd.debug.efi", "UKI2");
        put("loader/entries/norole.conf", "title Trustboot\nsort-key norole\nefi /EFI/trustboot/norole.efi\n");
        put("loader/entries/norole_install-mode_rd.debug.conf",
            "title Trustboot\nsort-key norole_install-mode_rd.debug\nefi /EFI/trustboot/norole_install-mode_rd.debug.efi\n");
        return 0;
}

static int teardown(void **state) {
        (void)state;
        tb_test_tmpdir_remove(root);
        return 0;
}

static void fan_out_gives_each_role_its_uki_title_sort_key_and_three_tries(void **state) {
        (void)state;
        assert_int_equal(tb_bootentries_fan_out(root), 0);
        assert_int_equal(tb_bootentries_remove(root, TB_BOOT_NOROLE), 4);
        assert_int_equal(tb_bootentries_finish_entries(root), 0);

        _cleanup_(freep) char *a = get("loader/entries/active+3.conf");
        _cleanup_(freep) char *p = get("loader/entries/passive+3.conf");
        _cleanup_(freep) char *r = get("loader/entries/recovery+3.conf");
        _cleanup_(freep) char *s = get("loader/entries/statereset+3.conf");
        _cleanup_(freep) char *d = get("loader/entries/passive_install-mode_rd.debug+3.conf");
        _cleanup_(freep) char *u = get("EFI/trustboot/statereset.efi");
        assert_string_equal(a, "title Trustboot\nsort-key 0001\nefi /EFI/trustboot/active.efi\n");
        assert_string_equal(p, "title Trustboot (fallback)\nsort-key 0002\nefi /EFI/trustboot/passive.efi\n");
        assert_string_equal(r, "title Trustboot recovery\nsort-key 0003\nefi /EFI/trustboot/recovery.efi\n");
        assert_string_equal(s, "title Trustboot state reset (auto)\nsort-key 0004\nefi /EFI/trustboot/statereset.efi\n");
        assert_string_equal(d, "title Trustboot (fallback)\nsort-key 0002\n"
                               "efi /EFI/trustboot/passive_install-mode_rd.debug.efi\n");
        assert_string_equal(u, "UKI1");
        assert_null(get("loader/entries/norole.conf"));
        assert_null(get("EFI/trustboot/norole.efi"));
}

static void upgrade_rotation_moves_active_to_passive_dropping_counters(void **state) {
        (void)state;
        assert_int_equal(tb_bootentries_fan_out(root), 0);
        assert_int_equal(tb_bootentries_remove(root, TB_BOOT_NOROLE), 4);
        assert_int_equal(tb_bootentries_finish_entries(root), 0);
        /* systemd-boot counted one boot down */
        _cleanup_(freep) char *from = tb_path_join(root, "loader/entries/active+3.conf");
        _cleanup_(freep) char *to = tb_path_join(root, "loader/entries/active+2-1.conf");
        assert_int_equal(rename(from, to), 0);

        assert_true(tb_bootentries_remove(root, "passive") > 0);
        assert_int_equal(tb_bootentries_copy(root, "active", TB_ROLE_PASSIVE), 0);
        assert_int_equal(tb_bootentries_finish_entries(root), 0);
        _cleanup_(freep) char *p = get("loader/entries/passive+3.conf");
        assert_string_equal(p, "title Trustboot (fallback)\nsort-key 0002\nefi /EFI/trustboot/passive.efi\n");

        _cleanup_(freep) char *name = NULL;
        assert_int_equal(tb_bootentries_find(root, TB_ROLE_ACTIVE, &name), 0);
        assert_string_equal(name, "active+2-1.conf");
}

static void oneshot_is_utf16_with_attributes_and_reads_back(void **state) {
        _cleanup_(freep) char *vars = tb_path_join(root, "vars"), *back = NULL, *raw = NULL;
        static const uint8_t want[] = { 7, 0, 0, 0, 'a', 0, 'c', 0, 't', 0, 'i', 0, 'v', 0, 'e', 0, '+', 0, '3', 0,
                                        '.', 0, 'c', 0, 'o', 0, 'n', 0, 'f', 0, 0, 0 };
        tb_buf b = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_bootentries_fan_out(root), 0);
        assert_int_equal(tb_bootentries_finish_entries(root), 0);
        assert_int_equal(tb_bootentries_select_oneshot(root, vars, TB_ROLE_ACTIVE), 0);
        _cleanup_(freep) char *p = tb_path_join(vars, "LoaderEntryOneShot-" TB_LOADER_GUID_STR);
        assert_int_equal(tb_read_file(p, 1000, &b), 0);
        assert_int_equal(b.len, sizeof(want));
        assert_memory_equal(b.data, want, sizeof(want));
        tb_buf_free(&b);
        assert_int_equal(tb_efivar_read_string(vars, "LoaderEntryOneShot", &TB_GUID_LOADER, &back), 0);
        assert_string_equal(back, "active+3.conf");
        /* a shorter value replaces, not overlays */
        assert_int_equal(tb_efivar_write_string(vars, "LoaderEntryOneShot", &TB_GUID_LOADER, "x"), 0);
        assert_int_equal(tb_efivar_read_string(vars, "LoaderEntryOneShot", &TB_GUID_LOADER, &raw), 0);
        assert_string_equal(raw, "x");
        assert_int_equal(tb_efivar_read_string(vars, "LoaderEntrySelected", &TB_GUID_LOADER, &back), -ENOENT);
}

static void list_ukis_gives_the_visible_files_sorted(void **state) {
        _cleanup_(tb_strv_freep) char **names = NULL;
        _cleanup_(freep) char *sub = tb_path_join(root, "EFI/trustboot/active.efi.extra.d");

        (void)state;
        put("EFI/trustboot/.active.efi.tmp.abc", "partial");
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(tb_bootentries_list_ukis(root, &names), 0);
        assert_non_null(names[0]);
        assert_string_equal(names[0], "norole.efi");
        assert_non_null(names[1]);
        assert_string_equal(names[1], "norole_install-mode_rd.debug.efi");
        assert_null(names[2]);
}

static void roles_and_sort_keys_follow_entry_names(void **state) {
        (void)state;
        assert_int_equal(tb_role_from_entry("statereset+1-2.conf"), TB_ROLE_STATERESET);
        assert_int_equal(tb_role_from_entry("passive.conf"), TB_ROLE_PASSIVE);
        assert_int_equal(tb_role_from_entry("my_entry.conf"), TB_ROLE_NONE);
        assert_string_equal(tb_role_sort_key("my_entry.conf"), "0010");
        assert_string_equal(tb_role_sort_key("recovery_install-mode_x.conf"), "0003");
}

/* tb_bootentries_conf_for(SRC) for NAME with EFI gives exactly WANT. */
static void assert_conf_for(const char *src, const char *name, const char *efi, const char *want) {
        tb_buf out = TB_BUF_INIT;

        assert_int_equal(tb_bootentries_conf_for(src, strlen(src), name, efi, &out), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        tb_buf_free(&out);
}

static void conf_for_a_role_sets_title_sort_key_and_efi_and_keeps_the_rest(void **state) {
        (void)state;
        assert_conf_for("title Tb\nsort-key norole\nefi /EFI/trustboot/norole.efi\nversion 2.0\ncmdline x=1\n", "passive",
                        "/EFI/trustboot/passive.efi",
                        "title Tb (fallback)\nsort-key 0002\nefi /EFI/trustboot/passive.efi\nversion 2.0\ncmdline x=1\n");
}

static void conf_for_copies_only_allowed_keys_from_the_medium(void **state) {
        (void)state;
        /* A medium whose entry also names a kernel and initrd of its own: none of it may reach the
         * installed entry, which must boot the signed UKI and nothing else. */
        assert_conf_for("title Tb\nlinux /evil/vmlinuz\ninitrd /evil/initrd\ndevicetree /evil.dtb\n"
                        "efi /EFI/trustboot/norole.efi\noptions quiet\nversion 2\n",
                        "active", "/EFI/trustboot/active.efi",
                        "title Tb\nsort-key 0001\nefi /EFI/trustboot/active.efi\noptions quiet\nversion 2\n");
}

static void fan_out_drops_keys_that_boot_something_else(void **state) {
        _cleanup_(freep) char *a = NULL;
        (void)state;

        put("EFI/trustboot/norole.efi", "uki");
        put("loader/entries/norole.conf", "title T\nlinux /vmlinuz\nefi /EFI/trustboot/norole.efi\n");
        assert_int_equal(tb_bootentries_fan_out(root), 0);
        a = get("loader/entries/active.conf");
        assert_non_null(a);
        assert_null(strstr(a, "linux"));
        assert_non_null(strstr(a, "efi /EFI/trustboot/active.efi\n"));
}

/* --cmd-lines-v2 media: the profile entries share the norole UKI; each role's copy boots the
 * role's UKI with the same "@N" (the stub's profile prefix). */
static void fan_out_keeps_profile_entries_on_the_roles_uki(void **state) {
        _cleanup_(freep) char *a = NULL, *p = NULL;
        (void)state;

        put("loader/entries/norole-profile1.conf",
            "title Trustboot (rd.debug)\nsort-key norole-profile1\nefi /EFI/trustboot/norole.efi\noptions @1\n");
        assert_int_equal(tb_bootentries_fan_out(root), 0);
        a = get("loader/entries/active-profile1.conf");
        p = get("loader/entries/passive-profile1.conf");
        assert_string_equal(a, "title Trustboot (rd.debug)\nsort-key 0001\nefi /EFI/trustboot/active.efi\noptions @1\n");
        assert_string_equal(p, "title Trustboot (rd.debug) (fallback)\nsort-key 0002\n"
                               "efi /EFI/trustboot/passive.efi\noptions @1\n");
        assert_null(get("EFI/trustboot/active-profile1.efi"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(fan_out_keeps_profile_entries_on_the_roles_uki, setup, teardown),
                cmocka_unit_test_setup_teardown(fan_out_gives_each_role_its_uki_title_sort_key_and_three_tries, setup, teardown),
                cmocka_unit_test_setup_teardown(upgrade_rotation_moves_active_to_passive_dropping_counters, setup, teardown),
                cmocka_unit_test_setup_teardown(oneshot_is_utf16_with_attributes_and_reads_back, setup, teardown),
                cmocka_unit_test_setup_teardown(list_ukis_gives_the_visible_files_sorted, setup, teardown),
                cmocka_unit_test(roles_and_sort_keys_follow_entry_names),
                cmocka_unit_test(conf_for_a_role_sets_title_sort_key_and_efi_and_keeps_the_rest),
                cmocka_unit_test(conf_for_copies_only_allowed_keys_from_the_medium),
                cmocka_unit_test_setup_teardown(fan_out_drops_keys_that_boot_something_else, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
