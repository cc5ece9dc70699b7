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

static void list_reads_states_and_finds_aliases(void **state) {
        char dir[256], path[512];
        tb_bootentry_list l = { NULL, 0 };
        const tb_bootentry *e;
        (void)state;

        make_esp(dir, sizeof(dir));
#define PUT(name, text)                                                                   \
        snprintf(path, sizeof(path), "%s/loader/entries/" name, dir);                     \
        assert_int_equal(tb_write_file_new(path, text, strlen(text), 0644), 0)
        PUT("active+2-1.conf", "title T\nefi /EFI/trustboot/active.efi\n");
        PUT("passive+0-3.conf", "title T (fallback)\n");
        PUT("recovery.conf", "  title   T recovery  \n");
        PUT(".active+3.conf.tmp.abc", "title hidden\n");
        PUT("notes.txt", "x\n");
#undef PUT
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(list_reads_states_and_finds_aliases),
                cmocka_unit_test(selected_entry_is_found_by_file_or_base_name),
                cmocka_unit_test(marked_names_drop_or_exhaust_the_counter),
                cmocka_unit_test(mark_renames_the_counted_entry_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
