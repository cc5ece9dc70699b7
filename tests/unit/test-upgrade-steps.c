/* tests/unit/test-upgrade-steps.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node/upgrade-steps.h"

#define MIB ((uint64_t)1 << 20)
#define ENTRY 4096

/* The steps as one line: "-e FILE" remove entry, "-u EFI" remove UKI, "+u EFI" write UKI,
 * "+e FILE>EFI" write entry. */
static void render(const tb_upgrade_steps *s, char *out, size_t size) {
        size_t n = 0;

        out[0] = '\0';
        for (size_t i = 0; i < s->n; i++) {
                const tb_upgrade_step *st = &s->s[i];
                switch (st->kind) {
                case TB_UPGRADE_REMOVE_ENTRY:
                        n += (size_t)snprintf(out + n, size - n, "%s-e %s", n ? " " : "", st->file);
                        break;
                case TB_UPGRADE_REMOVE_UKI:
                        n += (size_t)snprintf(out + n, size - n, "%s-u %s", n ? " " : "", st->efi + 15);
                        break;
                case TB_UPGRADE_WRITE_UKI:
                        n += (size_t)snprintf(out + n, size - n, "%s+u %s", n ? " " : "", st->efi + 15);
                        break;
                case TB_UPGRADE_WRITE_ENTRY:
                        n += (size_t)snprintf(out + n, size - n, "%s+e %s>%s", n ? " " : "", st->file, st->efi + 15);
                        break;
                }
        }
}

/* Makes the steps of IN into *S (the caller frees them) and checks they render as WANT. */
static void assert_steps(const tb_upgrade_steps_input *in, tb_upgrade_steps *s, const char *want) {
        char line[2048];

        assert_int_equal(tb_upgrade_steps_make(in, s), 0);
        render(s, line, sizeof(line));
        assert_string_equal(line, want);
}

/* The ESP install leaves: four copies of the first UKI, 190 MiB each (issue 14's real image). */
static const tb_upgrade_installed_entry install_entries[] = {
        { "active.conf", "active", "/EFI/trustboot/active.efi" },
        { "passive+3.conf", "passive", "/EFI/trustboot/passive.efi" },
        { "recovery+3.conf", "recovery", "/EFI/trustboot/recovery.efi" },
        { "statereset+3.conf", "statereset", "/EFI/trustboot/statereset.efi" },
};
static const tb_upgrade_installed_uki install_ukis[] = {
        { "/EFI/trustboot/active.efi", 190 * MIB },
        { "/EFI/trustboot/passive.efi", 190 * MIB },
        { "/EFI/trustboot/recovery.efi", 190 * MIB },
        { "/EFI/trustboot/statereset.efi", 190 * MIB },
};
static char *main_only[] = { "", NULL };
static char *none[] = { NULL };
static const tb_upgrade_plan main_plan = { .install = main_only, .rotate = main_only, .drop_active = none,
                                           .drop_passive = none };

static tb_upgrade_steps_input input(const tb_upgrade_installed_entry *e, size_t ne, const tb_upgrade_installed_uki *u,
                                    size_t nu, const tb_upgrade_new_uki *n) {
        return (tb_upgrade_steps_input){ .plan = &main_plan, .name = "active", .entries = e, .n_entries = ne,
                                         .ukis = u, .n_ukis = nu, .news = n, .n_news = 1, .entry_bytes = ENTRY,
                                         .cluster = 4096 };
}

static void the_first_upgrade_frees_the_old_fallback_before_it_writes(void **state) {
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2222.efi", 200 * MIB, false };
        tb_upgrade_steps_input in = input(install_entries, 4, install_ukis, 4, &n);
        tb_upgrade_steps s;

        (void)state;
        assert_steps(&in, &s,
                     "-e passive+3.conf -u passive.efi +e passive+3.conf>active.efi +u uki-2222.efi "
                     "-e active.conf +e active+3.conf>uki-2222.efi");
        /* The peak: the new UKI and the passive entry, less the 190 MiB of the old passive UKI. */
        assert_int_equal(s.peak, 10 * MIB + 2 * ENTRY);
        assert_int_equal(s.credited, 190 * MIB);
        assert_int_equal(s.written, 200 * MIB + 2 * ENTRY);
        /* Issue 14: 315670528 bytes free on a 1069 MiB ESP; the old order needed 401659220. */
        assert_true(s.peak < 315670528);
        tb_upgrade_steps_done(&s);
}

/* After the first upgrade the passive entry names the old active file and the active one the
 * new UKI; the second upgrade drops the file the first one left to the fallback. */
static void the_second_upgrade_fits_where_the_first_did(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/uki-2222.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/active.efi" },
                { "recovery+3.conf", "recovery", "/EFI/trustboot/recovery.efi" },
                { "statereset+3.conf", "statereset", "/EFI/trustboot/statereset.efi" },
        };
        static const tb_upgrade_installed_uki u[] = {
                { "/EFI/trustboot/active.efi", 190 * MIB },
                { "/EFI/trustboot/recovery.efi", 190 * MIB },
                { "/EFI/trustboot/statereset.efi", 190 * MIB },
                { "/EFI/trustboot/uki-2222.efi", 200 * MIB },
        };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-3333.efi", 210 * MIB, false };
        tb_upgrade_steps_input in = input(e, 4, u, 4, &n);
        tb_upgrade_steps s;

        (void)state;
        assert_steps(&in, &s,
                     "-e passive+3.conf -u active.efi +e passive+3.conf>uki-2222.efi +u uki-3333.efi "
                     "-e active.conf +e active+3.conf>uki-3333.efi");
        assert_int_equal(s.peak, 20 * MIB + 2 * ENTRY);
        tb_upgrade_steps_done(&s);
}

/* Killed before the end, run again: the active entry already names the new UKI. */
static void a_repeated_upgrade_writes_nothing(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active+3.conf", "active", "/EFI/trustboot/uki-2222.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/active.efi" },
        };
        static const tb_upgrade_installed_uki u[] = {
                { "/EFI/trustboot/active.efi", 190 * MIB },
                { "/EFI/trustboot/uki-2222.efi", 200 * MIB },
        };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2222.efi", 200 * MIB, true };
        tb_upgrade_steps_input in = input(e, 2, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        assert_int_equal(tb_upgrade_steps_make(&in, &s), 0);
        assert_int_equal(s.n, 0);
        assert_int_equal(s.peak, 0);
        tb_upgrade_steps_done(&s);
}

/* Killed after the new UKI was written, before its entry: the file no entry names is reused
 * when complete (present), removed first when not. */
static void a_file_no_entry_names_is_reused_or_removed_first(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/active.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/active.efi" },
        };
        static const tb_upgrade_installed_uki u[] = {
                { "/EFI/trustboot/active.efi", 190 * MIB },
                { "/EFI/trustboot/uki-2222.efi", 100 * MIB },
        };
        tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2222.efi", 200 * MIB, true };
        tb_upgrade_steps_input in = input(e, 2, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        assert_steps(&in, &s,
                     "-e passive+3.conf +e passive+3.conf>active.efi -e active.conf "
                     "+e active+3.conf>uki-2222.efi");
        tb_upgrade_steps_done(&s);

        n.present = false; /* a partial file: it goes before anything else */
        assert_steps(&in, &s,
                     "-u uki-2222.efi -e passive+3.conf +e passive+3.conf>active.efi +u uki-2222.efi "
                     "-e active.conf +e active+3.conf>uki-2222.efi");
        assert_int_equal(s.credited, 100 * MIB);
        tb_upgrade_steps_done(&s);
}

/* Killed between removing the old active entry and writing the new one (the plan rotates
 * nothing then): the passive entry stays and names the only complete old UKI. */
static void without_an_active_entry_the_passive_stays(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "passive+3.conf", "passive", "/EFI/trustboot/active.efi" },
        };
        static const tb_upgrade_installed_uki u[] = {
                { "/EFI/trustboot/active.efi", 190 * MIB },
                { "/EFI/trustboot/uki-2222.efi", 200 * MIB },
        };
        static const tb_upgrade_plan p = { .install = main_only, .rotate = none, .drop_active = none,
                                           .drop_passive = none };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2222.efi", 200 * MIB, true };
        tb_upgrade_steps_input in = input(e, 1, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = &p;
        assert_steps(&in, &s,
                     "+e active+3.conf>uki-2222.efi");
        tb_upgrade_steps_done(&s);
}

/* --recovery: the new UKI while the old recovery still boots, then the old entry and the file
 * it alone named, then the new entry; nothing is credited before the write, and a UKI another
 * entry names stays. */
static void one_entry_is_replaced_after_its_uki_is_written(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/uki-1111.efi" },
                { "recovery.conf", "recovery", "/EFI/trustboot/uki-1111.efi" },
                { "statereset+3.conf", "statereset", "/EFI/trustboot/statereset.efi" },
        };
        static const tb_upgrade_installed_uki u[] = {
                { "/EFI/trustboot/uki-1111.efi", 190 * MIB },
                { "/EFI/trustboot/statereset.efi", 190 * MIB },
        };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2222.efi", 200 * MIB, false };
        tb_upgrade_steps_input in = input(e, 3, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = NULL;
        in.name = "recovery";
        assert_steps(&in, &s,
                     "+u uki-2222.efi -e recovery.conf +e recovery+3.conf>uki-2222.efi");
        assert_int_equal(s.peak, 200 * MIB + ENTRY);
        assert_int_equal(s.credited, 0);

        in.name = "statereset";
        tb_upgrade_steps_done(&s);
        assert_steps(&in, &s,
                     "+u uki-2222.efi -e statereset+3.conf -u statereset.efi "
                     "+e statereset+3.conf>uki-2222.efi");
        tb_upgrade_steps_done(&s);
}

/* Extra entries (build-uki -c): each suffix rotates and installs on its own, the main entry
 * last; a passive nothing rotates into goes first, an active the medium dropped goes last. */
static void every_suffix_before_the_main_entry(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/a.efi" },
                { "active_x+3.conf", "active_x", "/EFI/trustboot/ax.efi" },
                { "active_y+3.conf", "active_y", "/EFI/trustboot/ay.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/p.efi" },
                { "passive_z+3.conf", "passive_z", "/EFI/trustboot/pz.efi" },
        };
        static const tb_upgrade_installed_uki u[] = {
                { "/EFI/trustboot/a.efi", 10 * MIB },  { "/EFI/trustboot/ax.efi", 10 * MIB },
                { "/EFI/trustboot/ay.efi", 10 * MIB }, { "/EFI/trustboot/p.efi", 10 * MIB },
                { "/EFI/trustboot/pz.efi", 10 * MIB },
        };
        static char *install[] = { "", "_x", NULL }, *rotate[] = { "", "_x", "_y", NULL }, *drop_a[] = { "_y", NULL },
                    *drop_p[] = { "_z", NULL };
        static const tb_upgrade_plan p = { .install = install, .rotate = rotate, .drop_active = drop_a,
                                           .drop_passive = drop_p };
        const tb_upgrade_new_uki n[] = { { "", "/EFI/trustboot/uki-2.efi", 10 * MIB, false },
                                         { "_x", "/EFI/trustboot/uki-2x.efi", 10 * MIB, false } };
        tb_upgrade_steps_input in = input(e, 5, u, 5, n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = &p;
        in.n_news = 2;
        assert_steps(&in, &s,
                     "-e passive_z+3.conf -u pz.efi "
                     "+e passive_x+3.conf>ax.efi +u uki-2x.efi -e active_x+3.conf +e active_x+3.conf>uki-2x.efi "
                     "+e passive_y+3.conf>ay.efi "
                     "-e passive+3.conf -u p.efi +e passive+3.conf>a.efi +u uki-2.efi -e active.conf "
                     "+e active+3.conf>uki-2.efi "
                     "-e active_y+3.conf");
        tb_upgrade_steps_done(&s);
}

/* A multi-profile UKI (--cmd-lines-v2): its profile entries name the same UKI. The installed
 * ones become the fallback's with the old UKI before the new UKI is written; the medium's are
 * written after the new UKI and before the main entry, which stays the last; one the medium
 * no longer has goes at the end. Nothing is renamed, and every UKI is removed only when no entry
 * names it. */
static void profile_entries_rotate_and_install_with_their_uki(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/a.efi" },
                { "active-profile1+3.conf", "active-profile1", "/EFI/trustboot/a.efi" },
                { "active-profile2+3.conf", "active-profile2", "/EFI/trustboot/a.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/p.efi" },
                { "passive-profile1+3.conf", "passive-profile1", "/EFI/trustboot/p.efi" },
        };
        static const tb_upgrade_installed_uki u[] = { { "/EFI/trustboot/a.efi", 10 * MIB },
                                                      { "/EFI/trustboot/p.efi", 10 * MIB } };
        static char *install[] = { "", NULL }, *profiles[] = { "-profile1", "-profile3", NULL },
                    *rotate[] = { "", "-profile1", "-profile2", NULL }, *drop_a[] = { "-profile2", NULL };
        static const tb_upgrade_plan p = { .install = install, .profiles = profiles, .rotate = rotate,
                                           .drop_active = drop_a, .drop_passive = none };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2.efi", 10 * MIB, false };
        tb_upgrade_steps_input in = input(e, 5, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = &p;
        assert_steps(&in, &s,
                     "-e passive+3.conf +e passive+3.conf>a.efi "
                     "-e passive-profile1+3.conf -u p.efi +e passive-profile1+3.conf>a.efi "
                     "+e passive-profile2+3.conf>a.efi "
                     "+u uki-2.efi "
                     "-e active-profile1+3.conf +e active-profile1+3.conf>uki-2.efi "
                     "+e active-profile3+3.conf>uki-2.efi "
                     "-e active.conf +e active+3.conf>uki-2.efi "
                     "-e active-profile2+3.conf");
        /* the old passive UKI is freed before the new one is written */
        assert_int_equal(s.credited, 10 * MIB);
        tb_upgrade_steps_done(&s);
}

/* Power lost after some profile entries were rewritten: the rerun keeps their passive entries
 * (which name the old UKI) and writes only what is missing. */
static void a_rerun_after_profile_entries_keeps_their_fallback(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/a.efi" },
                { "active-profile1+3.conf", "active-profile1", "/EFI/trustboot/uki-2.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/a.efi" },
                { "passive-profile1+3.conf", "passive-profile1", "/EFI/trustboot/a.efi" },
        };
        static const tb_upgrade_installed_uki u[] = { { "/EFI/trustboot/a.efi", 10 * MIB },
                                                      { "/EFI/trustboot/uki-2.efi", 10 * MIB } };
        static char *install[] = { "", NULL }, *profiles[] = { "-profile1", NULL },
                    *rotate[] = { "", "-profile1", NULL };
        static const tb_upgrade_plan p = { .install = install, .profiles = profiles, .rotate = rotate,
                                           .drop_active = none, .drop_passive = none };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2.efi", 10 * MIB, true };
        tb_upgrade_steps_input in = input(e, 4, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = &p;
        assert_steps(&in, &s,
                     "-e passive+3.conf +e passive+3.conf>a.efi -e active.conf +e active+3.conf>uki-2.efi");
        tb_upgrade_steps_done(&s);
}

/* Power lost between removing active-profile1 and writing it again: the rerun finds no
 * active-profile1 to rotate, but keeps passive-profile1 (it names the fallback's UKI, as
 * passive does) and writes the profile entry. */
static void a_rerun_after_a_removed_profile_entry_keeps_its_fallback(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/a.efi" },
                { "passive+3.conf", "passive", "/EFI/trustboot/a.efi" },
                { "passive-profile1+3.conf", "passive-profile1", "/EFI/trustboot/a.efi" },
                { "passive-profile2+3.conf", "passive-profile2", "/EFI/trustboot/old.efi" },
        };
        static const tb_upgrade_installed_uki u[] = { { "/EFI/trustboot/a.efi", 10 * MIB },
                                                      { "/EFI/trustboot/old.efi", 10 * MIB },
                                                      { "/EFI/trustboot/uki-2.efi", 10 * MIB } };
        static char *install[] = { "", NULL }, *profiles[] = { "-profile1", "-profile2", NULL },
                    *rotate[] = { "", NULL }, *drop_p[] = { "-profile1", "-profile2", NULL };
        static const tb_upgrade_plan p = { .install = install, .profiles = profiles, .rotate = rotate,
                                           .drop_active = none, .drop_passive = drop_p };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2.efi", 10 * MIB, true };
        tb_upgrade_steps_input in = input(e, 4, u, 3, &n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = &p;
        /* passive-profile2 names another UKI than passive: a gap from an older version, dropped */
        assert_steps(&in, &s,
                     "-e passive-profile2+3.conf -u old.efi -e passive+3.conf +e passive+3.conf>a.efi "
                     "+e active-profile1+3.conf>uki-2.efi +e active-profile2+3.conf>uki-2.efi "
                     "-e active.conf +e active+3.conf>uki-2.efi");
        tb_upgrade_steps_done(&s);
}

/* --recovery with a multi-profile medium: the medium's profile entries of the UKI are written
 * for the new UKI, an installed one the medium lacks goes, the entry itself is the last write,
 * and the old UKI goes once nothing names it. */
static void one_entry_takes_its_profile_entries_along(void **state) {
        static const tb_upgrade_installed_entry e[] = {
                { "active.conf", "active", "/EFI/trustboot/a.efi" },
                { "recovery+3.conf", "recovery", "/EFI/trustboot/r.efi" },
                { "recovery-profile1+3.conf", "recovery-profile1", "/EFI/trustboot/r.efi" },
                { "recovery-profile2+3.conf", "recovery-profile2", "/EFI/trustboot/r.efi" },
        };
        static const tb_upgrade_installed_uki u[] = { { "/EFI/trustboot/a.efi", 10 * MIB },
                                                      { "/EFI/trustboot/r.efi", 10 * MIB } };
        static char *profiles[] = { "-profile1", NULL };
        const tb_upgrade_new_uki n = { "", "/EFI/trustboot/uki-2.efi", 10 * MIB, false };
        tb_upgrade_steps_input in = input(e, 4, u, 2, &n);
        tb_upgrade_steps s;

        (void)state;
        in.plan = NULL;
        in.name = "recovery";
        in.profiles = profiles;
        assert_steps(&in, &s,
                     "+u uki-2.efi -e recovery-profile1+3.conf +e recovery-profile1+3.conf>uki-2.efi "
                     "-e recovery-profile2+3.conf -e recovery+3.conf -u r.efi "
                     "+e recovery+3.conf>uki-2.efi");
        tb_upgrade_steps_done(&s);
}

static void efi_keys_compare_as_fat_does(void **state) {
        (void)state;
        assert_true(tb_upgrade_efi_equal("/EFI/trustboot/a.efi", "\\efi\\TRUSTBOOT\\A.EFI"));
        assert_false(tb_upgrade_efi_equal("/EFI/trustboot/a.efi", "/EFI/trustboot/a.efi2"));
        assert_false(tb_upgrade_efi_equal(NULL, "/x"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(the_first_upgrade_frees_the_old_fallback_before_it_writes),
                cmocka_unit_test(the_second_upgrade_fits_where_the_first_did),
                cmocka_unit_test(a_repeated_upgrade_writes_nothing),
                cmocka_unit_test(a_file_no_entry_names_is_reused_or_removed_first),
                cmocka_unit_test(without_an_active_entry_the_passive_stays),
                cmocka_unit_test(one_entry_is_replaced_after_its_uki_is_written),
                cmocka_unit_test(every_suffix_before_the_main_entry),
                cmocka_unit_test(efi_keys_compare_as_fat_does),
                cmocka_unit_test(profile_entries_rotate_and_install_with_their_uki),
                cmocka_unit_test(a_rerun_after_profile_entries_keeps_their_fallback),
                cmocka_unit_test(a_rerun_after_a_removed_profile_entry_keeps_its_fallback),
                cmocka_unit_test(one_entry_takes_its_profile_entries_along),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
