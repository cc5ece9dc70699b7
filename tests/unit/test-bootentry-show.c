/* tests/unit/test-bootentry-show.c — what `trustboot bootentry` prints, byte for byte: the table
 * and the JSON of --list (counters, the booted and the next entry), --select's id, --mark-good's
 * rename. The entries and variables are files: an ESP directory and a fake efivarfs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/bootentry-show.h"
#include "sb/efivar.h"

#include "tmpdir.h"

typedef struct fixture {
        char dir[128]; /* first: tb_test_fixture_teardown */
        char esp[160], vars[160];
        char *text;
        size_t len;
        FILE *out;
} fixture;

/* An ESP with four entries in each counter state, and LoaderEntrySelected naming the active
 * entry as systemd-boot found it (before it counted this boot: active+3.conf, now +2-1). */
static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "bootentry-show");
        snprintf(f->esp, sizeof(f->esp), "%s/esp", f->dir);
        snprintf(f->vars, sizeof(f->vars), "%s/vars", f->dir);
        tb_test_mkdir(f->dir, "esp");
        tb_test_mkdir(f->dir, "esp/loader");
        tb_test_mkdir(f->dir, "esp/loader/entries");
        tb_test_mkdir(f->dir, "vars");
#define PUT(name, text) tb_test_write(f->esp, "loader/entries/" name, text, strlen(text))
        PUT("active+2-1.conf", "title T\nefi /EFI/trustboot/active.efi\nsort-key a\nversion 1.0\n");
        PUT("active-profile1+3.conf", "title T\noptions @1\n");
        PUT("passive+0-3.conf", "title T (fallback)\n");
        PUT("recovery.conf", "title T recovery\n");
#undef PUT
        assert_int_equal(tb_efivar_write_string(f->vars, TB_LOADER_ENTRY_SELECTED, &TB_GUID_LOADER, "active+3.conf"), 0);
        f->out = open_memstream(&f->text, &f->len);
        assert_non_null(f->out);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;

        fclose(f->out);
        free(f->text);
        return tb_test_fixture_teardown(state);
}

/* What OUT holds so far, NUL-terminated. */
static const char *output(fixture *f) {
        assert_int_equal(fflush(f->out), 0);
        return f->text;
}

static void list_is_a_table_with_the_booted_and_the_next_entry(void **state) {
        fixture *f = *state;

        assert_int_equal(tb_efivar_write_string(f->vars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, "recovery.conf"), 0);
        assert_int_equal(tb_bootentry_show_list(f->esp, f->vars, false, f->out), 0);
        assert_string_equal(output(f),
                            "active+2-1.conf              indeterminate 2 left, 1 done     T [booted]\n"
                            "active-profile1+3.conf       indeterminate 3 left, 0 done     T [profile 1]\n"
                            "passive+0-3.conf             bad           0 left, 3 done     T (fallback)\n"
                            "recovery.conf                good          -                  T recovery [next]\n");
}

/* Not booted by systemd-boot: no variables at all, no marks, no error. */
static void list_without_variables_marks_nothing(void **state) {
        fixture *f = *state;
        char none[200];

        snprintf(none, sizeof(none), "%s/none", f->dir);
        assert_int_equal(tb_bootentry_show_list(f->esp, none, false, f->out), 0);
        assert_string_equal(output(f),
                            "active+2-1.conf              indeterminate 2 left, 1 done     T\n"
                            "active-profile1+3.conf       indeterminate 3 left, 0 done     T [profile 1]\n"
                            "passive+0-3.conf             bad           0 left, 3 done     T (fallback)\n"
                            "recovery.conf                good          -                  T recovery\n");
}

/* systemd's pretty layout, absent keys as null, no final newline. */
static void list_json_has_every_key_in_order(void **state) {
        fixture *f = *state;
        tb_bootentry_list l = { NULL, 0 };

        assert_int_equal(tb_bootentry_list_load(f->esp, &l), 0);
        assert_int_equal(l.n, 4);
        tb_bootentry_list two = { l.e + 1, 2 }; /* the profile entry and the exhausted one */
        assert_int_equal(tb_bootentry_show_format(&two, NULL, "passive+0-3.conf", true, f->out), 0);
        assert_string_equal(output(f), "[\n"
                                       "\t{\n"
                                       "\t\t\"id\" : \"active-profile1+3.conf\",\n"
                                       "\t\t\"name\" : \"active-profile1\",\n"
                                       "\t\t\"title\" : \"T\",\n"
                                       "\t\t\"efi\" : null,\n"
                                       "\t\t\"sort-key\" : null,\n"
                                       "\t\t\"version\" : null,\n"
                                       "\t\t\"profile\" : 1,\n"
                                       "\t\t\"state\" : \"indeterminate\",\n"
                                       "\t\t\"tries-left\" : 3,\n"
                                       "\t\t\"tries-done\" : 0,\n"
                                       "\t\t\"selected\" : false,\n"
                                       "\t\t\"oneshot\" : false\n"
                                       "\t},\n"
                                       "\t{\n"
                                       "\t\t\"id\" : \"passive+0-3.conf\",\n"
                                       "\t\t\"name\" : \"passive\",\n"
                                       "\t\t\"title\" : \"T (fallback)\",\n"
                                       "\t\t\"efi\" : null,\n"
                                       "\t\t\"sort-key\" : null,\n"
                                       "\t\t\"version\" : null,\n"
                                       "\t\t\"profile\" : null,\n"
                                       "\t\t\"state\" : \"bad\",\n"
                                       "\t\t\"tries-left\" : 0,\n"
                                       "\t\t\"tries-done\" : 3,\n"
                                       "\t\t\"selected\" : false,\n"
                                       "\t\t\"oneshot\" : true\n"
                                       "\t}\n"
                                       "]");
        tb_bootentry_list_done(&l);
}

/* The first entry's set keys, and the selected mark through the base name. */
static void list_json_of_the_booted_entry(void **state) {
        fixture *f = *state;

        assert_int_equal(tb_bootentry_show_list(f->esp, f->vars, true, f->out), 0);
        const char *want = "[\n"
                           "\t{\n"
                           "\t\t\"id\" : \"active+2-1.conf\",\n"
                           "\t\t\"name\" : \"active\",\n"
                           "\t\t\"title\" : \"T\",\n"
                           "\t\t\"efi\" : \"/EFI/trustboot/active.efi\",\n"
                           "\t\t\"sort-key\" : \"a\",\n"
                           "\t\t\"version\" : \"1.0\",\n"
                           "\t\t\"profile\" : null,\n"
                           "\t\t\"state\" : \"indeterminate\",\n"
                           "\t\t\"tries-left\" : 2,\n"
                           "\t\t\"tries-done\" : 1,\n"
                           "\t\t\"selected\" : true,\n"
                           "\t\t\"oneshot\" : false\n"
                           "\t},\n";
        assert_memory_equal(output(f), want, strlen(want));
}

static void an_empty_esp_lists_nothing(void **state) {
        fixture *f = *state;
        char empty[200];

        snprintf(empty, sizeof(empty), "%s/empty", f->dir);
        tb_test_mkdir(f->dir, "empty");
        tb_test_mkdir(f->dir, "empty/loader");
        tb_test_mkdir(f->dir, "empty/loader/entries");
        assert_int_equal(tb_bootentry_show_list(empty, f->vars, false, f->out), 0);
        assert_string_equal(output(f), "");
        assert_int_equal(tb_bootentry_show_list(empty, f->vars, true, f->out), 0);
        assert_string_equal(output(f), "[]");
}

/* No variables about the loader: the file name is the id, printed and written. */
static void select_prints_the_id_it_wrote(void **state) {
        fixture *f = *state;
        char *got = NULL;

        assert_int_equal(tb_bootentry_show_select(f->esp, f->vars, "fallback", f->out), 0);
        assert_string_equal(output(f), "passive+0-3.conf\n");
        assert_int_equal(tb_efivar_read_string(f->vars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, &got), 0);
        assert_string_equal(got, "passive+0-3.conf");
        free(got);
        assert_int_equal(tb_bootentry_show_select(f->esp, f->vars, "active@1", f->out), 0);
        assert_string_equal(output(f), "passive+0-3.conf\nactive-profile1+3.conf\n");
}

static void select_of_an_unknown_name_writes_nothing(void **state) {
        fixture *f = *state;
        char *got = NULL;

        assert_int_equal(tb_bootentry_show_select(f->esp, f->vars, "nosuch", f->out), -ENOENT);
        assert_int_equal(tb_bootentry_show_select(f->esp, f->vars, "active@2", f->out), -ENOENT);
        assert_string_equal(output(f), "");
        assert_true(tb_efivar_read_string(f->vars, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, &got) < 0);
}

static void mark_prints_the_rename(void **state) {
        fixture *f = *state;
        char path[300];

        /* not counted: an info line on stderr, nothing on OUT */
        assert_int_equal(tb_bootentry_show_mark(f->esp, f->vars, true, f->out), 0);
        assert_string_equal(output(f), "");
        assert_int_equal(tb_efivar_write_string(f->vars, "LoaderBootCountPath", &TB_GUID_LOADER,
                                                "\\loader\\entries\\active+2-1.conf"),
                         0);
        assert_int_equal(tb_bootentry_show_mark(f->esp, f->vars, false, f->out), 0);
        assert_string_equal(output(f), "active+2-1.conf -> active+0-1.conf\n");
        snprintf(path, sizeof(path), "%s/loader/entries/active+0-1.conf", f->esp);
        assert_true(tb_path_exists(path));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(list_is_a_table_with_the_booted_and_the_next_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(list_without_variables_marks_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(list_json_has_every_key_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(list_json_of_the_booted_entry, setup, teardown),
                cmocka_unit_test_setup_teardown(an_empty_esp_lists_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(select_prints_the_id_it_wrote, setup, teardown),
                cmocka_unit_test_setup_teardown(select_of_an_unknown_name_writes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(mark_prints_the_rename, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
