/* tests/unit/test-bootentry.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/bootentry.h"
#include "sb/efivar.h"
#include "util/fileio.h"

#include "tmpdir.h"

/* A fresh temporary directory in DIR as an empty ESP: DIR/loader/entries. */
static void make_esp(char *dir, size_t size) {
        char path[512];

        tb_test_tmpdir_make(dir, size, "bootentry");
        snprintf(path, sizeof(path), "%s/loader", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/loader/entries", dir);
        assert_int_equal(mkdir(path, 0755), 0);
}

/* put_entry: TEXT as the file NAME in the entries folder of the ESP DIR. */
static void put_entry(const char *dir, const char *name, const char *text) {
        char path[512];

        snprintf(path, sizeof(path), "%s/loader/entries/%s", dir, name);
        assert_int_equal(tb_write_file_new(path, text, strlen(text), 0644), 0);
}

static void list_reads_states_and_finds_aliases(void **state) {
        char dir[256];
        tb_bootentry_list l = { NULL, 0 };
        const tb_bootentry *e;
        (void)state;

        make_esp(dir, sizeof(dir));
        put_entry(dir, "active+2-1.conf", "title T\nefi /EFI/trustboot/active.efi\n");
        put_entry(dir, "passive+0-3.conf", "title T (fallback)\n");
        put_entry(dir, "recovery.conf", "  title   T recovery  \n");
        put_entry(dir, ".active+3.conf.tmp.abc", "title hidden\n");
        put_entry(dir, "notes.txt", "x\n");
        assert_int_equal(tb_bootentry_list_load(dir, &l), 0);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.e[0].file, "active+2-1.conf");
        assert_int_equal(l.e[0].state, TB_BOOTENTRY_INDETERMINATE);
        assert_string_equal(l.e[0].efi, "/EFI/trustboot/active.efi");
        assert_int_equal(l.e[1].state, TB_BOOTENTRY_BAD);
        assert_int_equal(l.e[2].state, TB_BOOTENTRY_GOOD);
        assert_string_equal(l.e[2].title, "T recovery");
        e = tb_bootentry_list_find(&l, "cos");
        assert_ptr_equal(e, &l.e[0]);
        e = tb_bootentry_list_find(&l, "fallback");
        assert_ptr_equal(e, &l.e[1]);
        e = tb_bootentry_list_find(&l, "PASSIVE+0-3.conf");
        assert_ptr_equal(e, &l.e[1]);
        assert_null(tb_bootentry_list_find(&l, "statereset"));
        tb_bootentry_list_done(&l);
        tb_test_tmpdir_remove(dir);
}

/* LoaderEntrySelected names the entry as systemd-boot found it, before the try was counted: the
 * same file, or the same base name once renamed ("active+3.conf" → "active+2-1.conf"). */
static void selected_entry_is_found_by_file_or_base_name(void **state) {
        tb_bootentry e[] = {
                { .file = (char *)"active+2-1.conf", .base = (char *)"active" },
                { .file = (char *)"passive.conf", .base = (char *)"passive" },
        };
        tb_bootentry_list l = { e, 2 };
        (void)state;

        assert_true(tb_bootentry_is_selected(&e[0], "active+3.conf"));
        assert_true(tb_bootentry_is_selected(&e[0], "ACTIVE+2-1.conf"));
        assert_true(tb_bootentry_is_selected(&e[0], "active.conf"));
        assert_false(tb_bootentry_is_selected(&e[0], "passive+3.conf"));
        assert_false(tb_bootentry_is_selected(&e[0], "cos")); /* an alias is no loader entry id */
        assert_false(tb_bootentry_is_selected(&e[0], NULL));
        assert_ptr_equal(tb_bootentry_list_find_selected(&l, "active+3.conf"), &e[0]);
        assert_ptr_equal(tb_bootentry_list_find_selected(&l, "passive+3.conf"), &e[1]);
        assert_null(tb_bootentry_list_find_selected(&l, "recovery.conf"));
        assert_null(tb_bootentry_list_find_selected(&l, NULL));
}

static void marked_names_drop_or_exhaust_the_counter(void **state) {
        char *from = NULL, *to = NULL;
        (void)state;

        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\active+2-1.conf", true, &from, &to), 0);
        assert_string_equal(from, "active+2-1.conf");
        assert_string_equal(to, "active.conf");
        free(from), free(to);
        assert_int_equal(tb_bootentry_marked_name("\\LOADER\\Entries\\active_x+0-3.conf", false, &from, &to), 0);
        assert_string_equal(to, "active_x+0-3.conf");
        free(from), free(to);
        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\passive+1-2.conf", false, &from, &to), 0);
        assert_string_equal(to, "passive+0-2.conf");
        free(from), free(to);
        /* no counter: nothing to do */
        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\recovery.conf", true, &from, &to), 0);
        assert_null(from);
        assert_null(to);
        /* not an entry file directly in \loader\entries\ */
        assert_int_equal(tb_bootentry_marked_name("\\EFI\\Linux\\x+3.efi", true, &from, &to), -EINVAL);
        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\..\\x+3.conf", true, &from, &to), -EINVAL);
        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\sub/x+3.conf", true, &from, &to), -EINVAL);
        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\", true, &from, &to), -EINVAL);
        assert_int_equal(tb_bootentry_marked_name("\\loader\\entries\\x+3.efi", true, &from, &to), -EINVAL);
}

static void mark_renames_the_counted_entry_once(void **state) {
        char dir[256], path[512], vars[600];
        char *from = NULL, *to = NULL;
        struct stat st;
        (void)state;

        make_esp(dir, sizeof(dir));
        snprintf(vars, sizeof(vars), "%s/vars", dir);
        assert_int_equal(mkdir(vars, 0755), 0);
        snprintf(path, sizeof(path), "%s/loader/entries/active+2-1.conf", dir);
        assert_int_equal(tb_write_file_new(path, "title T\n", 8, 0644), 0);

        /* not counted: no variable */
        assert_int_equal(tb_bootentry_mark(dir, vars, true, &from, &to), 0);
        assert_null(from);
        assert_int_equal(stat(path, &st), 0);

        assert_int_equal(tb_efivar_write_string(vars, "LoaderBootCountPath", &TB_GUID_LOADER,
                                                "\\loader\\entries\\active+2-1.conf"), 0);
        assert_int_equal(tb_bootentry_mark(dir, vars, true, &from, &to), 0);
        assert_string_equal(to, "active.conf");
        free(from), free(to);
        assert_int_not_equal(stat(path, &st), 0);
        snprintf(path, sizeof(path), "%s/loader/entries/active.conf", dir);
        assert_int_equal(stat(path, &st), 0);
        /* a second call finds it marked */
        assert_int_equal(tb_bootentry_mark(dir, vars, true, &from, &to), 0);
        assert_string_equal(to, "active.conf");
        free(from), free(to);
        /* an entry that is gone altogether is an error */
        assert_int_equal(unlink(path), 0);
        assert_true(tb_bootentry_mark(dir, vars, true, &from, &to) < 0);
        tb_test_tmpdir_remove(dir);
}

static void profile_names_find_the_profile_entry(void **state) {
        char dir[256];
        tb_bootentry_list l = { NULL, 0 };
        (void)state;

        make_esp(dir, sizeof(dir));
        put_entry(dir, "active.conf", "title T\nefi /EFI/trustboot/active.efi\n");
        put_entry(dir, "active-profile1+3.conf", "title T\nefi /EFI/trustboot/active.efi\noptions @1\n");
        put_entry(dir, "active_x-profile1+3.conf", "title X\nefi /EFI/trustboot/active_x.efi\noptions @1\n");
        put_entry(dir, "passive-profile2+3.conf", "title T (fallback)\nefi /EFI/trustboot/passive.efi\noptions @2 quiet\n");
        assert_int_equal(tb_bootentry_list_load(dir, &l), 0);
        assert_int_equal(l.n, 4);
        assert_string_equal(tb_bootentry_list_find(&l, "active@1")->file, "active-profile1+3.conf");
        assert_string_equal(tb_bootentry_list_find(&l, "cos@1")->file, "active-profile1+3.conf");
        assert_string_equal(tb_bootentry_list_find(&l, "active@0")->file, "active.conf");
        assert_string_equal(tb_bootentry_list_find(&l, "fallback@2")->file, "passive-profile2+3.conf");
        assert_string_equal(tb_bootentry_list_find(&l, "active-profile1")->file, "active-profile1+3.conf");
        /* "active_x" is another entry, not a profile of active's; no profile 2 of active; junk */
        assert_null(tb_bootentry_list_find(&l, "active@2"));
        assert_null(tb_bootentry_list_find(&l, "active@1x"));
        assert_null(tb_bootentry_list_find(&l, "active@"));
        assert_string_equal(tb_bootentry_list_find(&l, "active_x@1")->file, "active_x-profile1+3.conf");
        tb_bootentry_list_done(&l);
        tb_test_tmpdir_remove(dir);
}

/* The id LoaderEntryOneShot must name, case by case (bootentry.h's rule). */
static void loader_id_follows_the_running_loader(void **state) {
        /* The ESP after an upgrade: the new counted active entry, untouched counted others. */
        static const char esp_upgraded[] = "active+3.conf|passive+3.conf|recovery+3.conf";
        static const struct {
                const char *file, *esp, *published, *info, *want;
        } cases[] = {
                /* 1. no counter: the file name, whatever the loader */
                { "active.conf", NULL, NULL, "systemd-boot 257.13-1~deb13u1", "active.conf" },
                { "active.conf", NULL, "active+3.conf", NULL, "active.conf" },
                /* 2. the file or any counted id published: a loader that keeps counters, any version */
                { "active-profile1+3.conf", NULL, "active+3.conf|active-profile1+3.conf", "systemd-boot 258", "active-profile1+3.conf" },
                { "active+2-1.conf", NULL, "active+3.conf|passive+3.conf", "systemd-boot 257.13", "active+2-1.conf" },
                /* ... also after an upgrade on 252: the old blessed "active.conf" is no evidence */
                { "active+3.conf", esp_upgraded, "active.conf|passive+3.conf|recovery+3.conf", "systemd-boot 252.39-1~deb12u2", "active+3.conf" },
                /* 3. another counted entry published without its counter: a stripping loader, any version */
                { "active+3.conf", esp_upgraded, "active.conf|passive.conf|recovery.conf", "systemd-boot 257.10", "active.conf" },
                { "active-profile1+3.conf", "active-profile1+3.conf|passive+3.conf", "passive.conf|active-profile1.conf", NULL, "active-profile1.conf" },
                { "Active+3.conf", "Active+3.conf|passive+3.conf", "active.conf|passive.conf", NULL, "active.conf" },
                /* ... but not one whose counter-less file is on the ESP too (252 publishes that one) */
                { "active+3.conf", "active+3.conf|passive.conf|passive+0-3.conf", "passive.conf", "systemd-boot 252", "active+3.conf" },
                /* 4. no evidence: the running loader's version */
                { "active+3.conf", "active+3.conf", "recovery.conf", "systemd-boot 257.13-1~deb13u1", "active.conf" },
                { "active+3.conf", NULL, NULL, "systemd-boot 258", "active.conf" },
                { "active+3.conf", NULL, NULL, "systemd-boot 257.7", "active+3.conf" },
                { "active+3.conf", NULL, NULL, "systemd-boot 252.39-1~deb12u2", "active+3.conf" },
                { "active+3.conf", NULL, "active.conf", "systemd-boot 252", "active+3.conf" },
                { "active+3.conf", NULL, "", "systemd-boot 257", "active+3.conf" },
                /* 5. no version: the published counter-less form of the file itself */
                { "active+3.conf", NULL, "active.conf", NULL, "active.conf" },
                /* 6. nothing known: the file name */
                { "active+3.conf", NULL, NULL, NULL, "active+3.conf" },
                { "active+3.conf", NULL, NULL, "GRUB 2.12", "active+3.conf" },
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *published[8] = { NULL }, *esp[8] = { NULL }, pbuf[256], ebuf[256], *id = NULL, *save = NULL;
                size_t n = 0;

                if (cases[i].published) {
                        snprintf(pbuf, sizeof(pbuf), "%s", cases[i].published);
                        for (char *t = strtok_r(pbuf, "|", &save); t && n < 7; t = strtok_r(NULL, "|", &save))
                                published[n++] = t;
                }
                n = 0;
                if (cases[i].esp) {
                        snprintf(ebuf, sizeof(ebuf), "%s", cases[i].esp);
                        for (char *t = strtok_r(ebuf, "|", &save); t && n < 7; t = strtok_r(NULL, "|", &save))
                                esp[n++] = t;
                }
                assert_int_equal(tb_bootentry_loader_id(cases[i].file, cases[i].esp ? esp : NULL,
                                                        cases[i].published ? published : NULL, cases[i].info, &id),
                                 0);
                if (strcmp(id, cases[i].want) != 0)
                        fail_msg("case %zu (%s): %s, want %s", i, cases[i].file, id, cases[i].want);
                free(id);
        }
        char *id = NULL;
        assert_int_equal(tb_bootentry_loader_id("active", NULL, NULL, NULL, &id), -EINVAL);
}

/* Through files: LoaderEntries and LoaderInfo as systemd-boot writes them, an ESP. */
static void select_next_writes_the_published_id(void **state) {
        char esp[256], vars[256], path[600], *id = NULL, *got = NULL;
        static const char list[] = "active.conf\0active-profile1.conf\0";
        uint8_t utf16[2 * sizeof(list)];
        (void)state;

        make_esp(esp, sizeof(esp));
        tb_test_tmpdir_make(vars, sizeof(vars), "bootentry-vars");
        snprintf(path, sizeof(path), "%s/loader/entries/active-profile1+3.conf", esp);
        assert_int_equal(tb_write_file_new(path, "title T\noptions @1\n", 19, 0644), 0);
        snprintf(path, sizeof(path), "%s/loader/entries/passive+3.conf", esp);
        assert_int_equal(tb_write_file_new(path, "title T\n", 8, 0644), 0);
        for (size_t i = 0; i < sizeof(list) - 1; i++)
                utf16[2 * i] = (uint8_t)list[i], utf16[2 * i + 1] = 0;
        /* no variables at all: the file name */
        assert_int_equal(tb_bootentry_select_next(vars, esp, "active-profile1+3.conf", &id), 0);
        assert_string_equal(id, "active-profile1+3.conf");
        free(id);
        /* a loader whose version alone would keep counters, but which published the counted
         * active-profile1+3.conf without: what it published wins */
        assert_int_equal(tb_efivar_write(vars, TB_LOADER_ENTRIES, &TB_GUID_LOADER, 6, utf16, 2 * (sizeof(list) - 1)), 0);
        assert_int_equal(tb_efivar_write_string(vars, TB_LOADER_INFO, &TB_GUID_LOADER, "systemd-boot 257.7"), 0);
        assert_int_equal(tb_bootentry_select_next(vars, esp, "passive+3.conf", &id), 0);
        assert_string_equal(id, "passive.conf");
        free(id);
        assert_int_equal(tb_efivar_write_string(vars, TB_LOADER_INFO, &TB_GUID_LOADER, "systemd-boot 257.13-1~deb13u1"), 0);
        assert_int_equal(tb_bootentry_select_next(vars, esp, "active-profile1+3.conf", &id), 0);
        assert_string_equal(id, "active-profile1.conf");
        assert_int_equal(tb_efivar_read_string(vars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, &got), 0);
        assert_string_equal(got, "active-profile1.conf");
        free(id), free(got);
        tb_test_tmpdir_remove(vars);
        tb_test_tmpdir_remove(esp);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(list_reads_states_and_finds_aliases),
                cmocka_unit_test(selected_entry_is_found_by_file_or_base_name),
                cmocka_unit_test(marked_names_drop_or_exhaust_the_counter),
                cmocka_unit_test(mark_renames_the_counted_entry_once),
                cmocka_unit_test(profile_names_find_the_profile_entry),
                cmocka_unit_test(loader_id_follows_the_running_loader),
                cmocka_unit_test(select_next_writes_the_published_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
