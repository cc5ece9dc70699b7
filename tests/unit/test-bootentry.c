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

static void counter_is_parsed_from_the_last_plus(void **state) {
        char *base = NULL;
        int left, done;
        (void)state;

        assert_int_equal(tb_bootentry_parse_name("active+2-1.conf", &base, &left, &done), 0);
        assert_string_equal(base, "active");
        assert_int_equal(left, 2);
        assert_int_equal(done, 1);
        free(base);
        assert_int_equal(tb_bootentry_parse_name("my+entry+3.conf", &base, &left, &done), 0);
        assert_string_equal(base, "my+entry");
        assert_int_equal(left, 3);
        assert_int_equal(done, 0);
        free(base);
}

static void names_without_a_valid_counter_keep_their_plus(void **state) {
        char *base = NULL;
        int left, done;
        (void)state;

        assert_int_equal(tb_bootentry_parse_name("a+b.conf", &base, &left, &done), 0);
        assert_string_equal(base, "a+b");
        assert_int_equal(left, TB_BOOTENTRY_COUNTER_NONE);
        free(base);
        assert_int_equal(tb_bootentry_parse_name("a+3-.conf", &base, &left, &done), 0);
        assert_string_equal(base, "a+3-");
        free(base);
        assert_int_equal(tb_bootentry_parse_name("passive.conf", &base, &left, &done), 0);
        assert_string_equal(base, "passive");
        assert_int_equal(done, TB_BOOTENTRY_COUNTER_NONE);
        free(base);
        assert_int_equal(tb_bootentry_parse_name("loader.txt", NULL, NULL, NULL), -EINVAL);
        assert_int_equal(tb_bootentry_parse_name(".conf", NULL, NULL, NULL), -EINVAL);
}

static void conf_for_a_role_sets_title_sort_key_and_efi_and_keeps_the_rest(void **state) {
        static const char src[] = "title Tb\nsort-key norole\nefi /EFI/trustboot/norole.efi\nversion 2.0\ncmdline x=1\n";
        static const char want[] = "title Tb (fallback)\nsort-key 0002\nefi /EFI/trustboot/passive.efi\nversion 2.0\n"
                                   "cmdline x=1\n";
        tb_buf out = TB_BUF_INIT;
        (void)state;

        assert_int_equal(tb_bootentry_conf_for(src, strlen(src), "passive", "/EFI/trustboot/passive.efi", &out), 0);
        assert_int_equal(out.len, strlen(want));
        assert_memory_equal(out.data, want, out.len);
        tb_buf_free(&out);
}

/* DIR (a mkdtemp template) as an empty ESP: DIR/loader/entries. */
static void make_esp(char *dir) {
        char path[512];

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/loader", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/loader/entries", dir);
        assert_int_equal(mkdir(path, 0755), 0);
}

static void list_reads_states_and_finds_aliases(void **state) {
        char dir[] = "/tmp/test-bootentry.XXXXXX", path[512];
        tb_bootentry_list l = { NULL, 0 };
        const tb_bootentry *e;
        (void)state;

        make_esp(dir);
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
        tb_rm_rf(dir);
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
        char dir[] = "/tmp/test-bootentry.XXXXXX", path[512], vars[600];
        char *from = NULL, *to = NULL;
        struct stat st;
        (void)state;

        make_esp(dir);
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
        tb_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(counter_is_parsed_from_the_last_plus),
                cmocka_unit_test(names_without_a_valid_counter_keep_their_plus),
                cmocka_unit_test(conf_for_a_role_sets_title_sort_key_and_efi_and_keeps_the_rest),
                cmocka_unit_test(list_reads_states_and_finds_aliases),
                cmocka_unit_test(marked_names_drop_or_exhaust_the_counter),
                cmocka_unit_test(mark_renames_the_counted_entry_once),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
