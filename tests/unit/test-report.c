/* tests/unit/test-report.c — where an initrd's bytes go: sizes summed per directory at the depth
 * asked for, largest first; a hardlinked file counted once; what the exclusion drops counted per
 * directory and per group while the tree is still walked; /proc and the like not looked into;
 * the compressed estimate below the raw size for text, near it for random bytes; the text and
 * JSON views `trustboot initrd --report` prints, as known answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rootfs/report.h"
#include "tmpdir.h"

static char text[200000], noise[100000];

static const tb_report_row *row(const tb_report *r, const char *path) {
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->rows[i].path, path) == 0)
                        return &r->rows[i];
        return NULL;
}

static void sizes_per_directory_with_links_once_and_drops_counted(void **state) {
        char dir[256], src[400], a[600], b[600];
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(tb_exclude_freep) tb_exclude *x = NULL;
        const char *why = NULL;
        tb_report r;
        int fd;
        (void)state;

        for (size_t i = 0; i < sizeof(text); i++)
                text[i] = "the initrd holds text\n"[i % 22];
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(fd, noise, sizeof(noise)), (ssize_t)sizeof(noise));
        close(fd);

        tb_test_tmpdir_make(dir, sizeof(dir), "report");
        tb_test_mkdir(dir, "usr");
        tb_test_mkdir(dir, "usr/share");
        tb_test_mkdir(dir, "usr/share/doc");
        tb_test_mkdir(dir, "usr/lib");
        tb_test_mkdir(dir, "proc");
        tb_test_write(dir, "usr/share/doc/README", text, sizeof(text));
        tb_test_write(dir, "usr/lib/blob", noise, sizeof(noise));
        tb_test_write(dir, "proc/ignored", noise, 1000); /* the initrd keeps /proc empty */
        tb_test_write(dir, "init", "#!/bin/sh\n", 10);
        snprintf(a, sizeof(a), "%s/usr/lib/blob", dir);
        snprintf(b, sizeof(b), "%s/usr/lib/blob-link", dir);
        assert_int_equal(link(a, b), 0);

        snprintf(src, sizeof(src), "dir:%s", dir);
        assert_int_equal(tb_rootfs_open(src, NULL, &fs), 0);
        assert_int_equal(tb_exclude_new(&x), 0);
        assert_int_equal(tb_exclude_add(x, "/usr/share/doc", &why), 0);

        assert_int_equal(tb_report_build(fs, x, 2, 3, &r), 0);
        assert_int_equal(r.files, 3); /* README, blob (once), init */
        assert_int_equal(r.raw, sizeof(text) + sizeof(noise) + 10);
        assert_int_equal(r.n, 3);
        assert_string_equal(r.rows[0].path, "usr/share"); /* largest first */
        assert_string_equal(r.rows[1].path, "usr/lib");
        assert_string_equal(r.rows[2].path, "");
        assert_int_equal(row(&r, "usr/lib")->files, 1);
        assert_null(row(&r, "proc"));
        /* Text compresses, random bytes do not. */
        assert_true(row(&r, "usr/share")->estimate < sizeof(text) / 10);
        assert_true(row(&r, "usr/lib")->estimate > sizeof(noise) * 9 / 10);
        /* The excluded directory is still walked, and what it holds is reported as dropped. */
        assert_int_equal(r.dropped, sizeof(text));
        assert_int_equal(row(&r, "usr/share")->dropped, sizeof(text));
        assert_int_equal(row(&r, "usr/lib")->dropped, 0);
        assert_int_equal(r.n_groups, 1);
        assert_string_equal(r.groups[0].name, "--exclude");
        assert_int_equal(r.groups[0].raw, sizeof(text));
        tb_report_done(&r);

        /* Depth 1, no exclusion. */
        assert_int_equal(tb_report_build(fs, NULL, 1, 3, &r), 0);
        assert_int_equal(r.n, 2);
        assert_string_equal(r.rows[0].path, "usr");
        assert_int_equal(r.rows[0].files, 2);
        assert_int_equal(r.dropped, 0);
        tb_report_done(&r);
        tb_test_tmpdir_remove(dir);
}

/* A report as tb_report_build() leaves it: two rows, one of them partly left out by --slim's
 * "docs" group and an --exclude pattern. */
static tb_report sample_report(void) {
        static tb_report_row rows[] = {
                { (char *)"usr/lib", 3, (7u << 20) / 2, 1u << 20, 0 },
                { (char *)"usr/share/doc", 2, 1u << 20, 100000, 3u << 18 },
        };
        tb_report r = {
                .rows = rows, .n = 2, .files = 5, .raw = (9u << 20) / 2, .estimate = (1u << 20) + 100000,
                .dropped = 3u << 18, .dropped_estimate = 60000, .n_groups = 2,
        };

        r.groups[0].name = "docs";
        r.groups[0].raw = 1u << 18;
        r.groups[1].name = "--exclude";
        r.groups[1].raw = 1u << 19;
        return r;
}

enum view { TEXT, TEXT_EXCLUDING, JSON };

static char *print_to_string(const tb_report *r, enum view view) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        if (view == JSON)
                assert_int_equal(tb_report_print_json(r, f), 0);
        else
                tb_report_print_text(r, view == TEXT_EXCLUDING, f);
        assert_int_equal(fclose(f), 0);
        return out;
}

/* MiB with one decimal, "-" where nothing is left out, the groups at the end; without an
 * exclusion the hint instead. */
static void text_view_is_the_known_answer(void **state) {
        tb_report r = sample_report();
        char *out;
        (void)state;

        out = print_to_string(&r, TEXT_EXCLUDING);
        assert_string_equal(out, "   raw MiB   est. MiB  excl. MiB    files  directory\n"
                                 "       3.5        1.0          -        3  /usr/lib\n"
                                 "       1.0        0.1        0.8        2  /usr/share/doc\n"
                                 "       4.5        1.1                   5  total\n"
                                 "left out: 0.8 MiB raw, ~0.1 MiB compressed: docs 0.2 MiB, --exclude 0.5 MiB\n");
        free(out);
        r.dropped = r.dropped_estimate = 0;
        r.n_groups = 0;
        out = print_to_string(&r, TEXT);
        assert_string_equal(strstr(out, "total\n"),
                            "total\n(--slim or --exclude with --report show what they would leave out)\n");
        free(out);
}

/* systemd's pretty layout (tabs, "key" : value), bytes not MiB, no newline at the end. */
static void json_view_is_the_known_answer(void **state) {
        tb_report r = sample_report();
        char *out;
        (void)state;

        out = print_to_string(&r, JSON);
        assert_string_equal(out, "{\n"
                                 "\t\"files\" : 5,\n"
                                 "\t\"raw\" : 4718592,\n"
                                 "\t\"estimate\" : 1148576,\n"
                                 "\t\"excluded\" : {\n"
                                 "\t\t\"raw\" : 786432,\n"
                                 "\t\t\"estimate\" : 60000,\n"
                                 "\t\t\"docs\" : 262144,\n"
                                 "\t\t\"--exclude\" : 524288\n"
                                 "\t},\n"
                                 "\t\"directories\" : [\n"
                                 "\t\t{\n"
                                 "\t\t\t\"path\" : \"usr/lib\",\n"
                                 "\t\t\t\"files\" : 3,\n"
                                 "\t\t\t\"raw\" : 3670016,\n"
                                 "\t\t\t\"estimate\" : 1048576,\n"
                                 "\t\t\t\"excluded\" : 0\n"
                                 "\t\t},\n"
                                 "\t\t{\n"
                                 "\t\t\t\"path\" : \"usr/share/doc\",\n"
                                 "\t\t\t\"files\" : 2,\n"
                                 "\t\t\t\"raw\" : 1048576,\n"
                                 "\t\t\t\"estimate\" : 100000,\n"
                                 "\t\t\t\"excluded\" : 786432\n"
                                 "\t\t}\n"
                                 "\t]\n"
                                 "}");
        free(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sizes_per_directory_with_links_once_and_drops_counted),
                cmocka_unit_test(text_view_is_the_known_answer),
                cmocka_unit_test(json_view_is_the_known_answer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
