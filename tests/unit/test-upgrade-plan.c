/* tests/unit/test-upgrade-plan.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node/upgrade-plan.h"

#define X "_install-mode_debug"

static char *const medium_efi[] = { "norole.efi", "norole" X ".efi", "README", NULL };
static char *const medium_conf[] = { "norole.conf", "norole" X ".conf", NULL };
static char *const main_efi[] = { "norole.efi", NULL };
static char *const main_conf[] = { "norole.conf", NULL };

/* An ESP as install leaves it from a medium with the extra entry, counters in all states; the
 * entries whose UKI is there ("complete"). */
static char *const installed_conf[] = { "active.conf", "active" X "+2-1.conf", "passive+0-3.conf",
                                        "passive" X "+3.conf", "recovery+3.conf", "recovery" X "+3.conf", NULL };
static char *const installed_complete[] = { "active.conf", "active" X "+2-1.conf", "passive+0-3.conf",
                                            "passive" X "+3.conf", "recovery+3.conf", "recovery" X "+3.conf", NULL };

static int make(char *const *m_efi, char *const *m_conf, char *const *i_complete, char *const *i_conf,
                tb_upgrade_plan *p) {
        tb_upgrade_plan_input in = { .medium = "dir:m", .medium_efi = m_efi, .medium_conf = m_conf, .esp = "esp",
                                     .installed_conf = i_conf, .installed_complete = i_complete };
        return tb_upgrade_plan_make(&in, p);
}

static void assert_list(char *const *l, const char *want) {
        char got[512] = "";

        for (; l && *l; l++) {
                strcat(got, "[");
                strcat(got, *l);
                strcat(got, "]");
        }
        assert_string_equal(got, want);
}

static void every_norole_entry_installs_and_every_active_rotates(void **state) {
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(medium_efi, medium_conf, installed_complete, installed_conf, &p), 0);
        assert_list(p.install, "[][" X "]");
        assert_list(p.rotate, "[][" X "]");
        assert_list(p.drop_active, "");
        assert_list(p.drop_passive, "");
        tb_upgrade_plan_done(&p);
}

static void an_entry_the_medium_drops_loses_its_active_and_keeps_its_passive(void **state) {
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(main_efi, main_conf, installed_complete, installed_conf, &p), 0);
        assert_list(p.install, "[]");
        assert_list(p.rotate, "[][" X "]");
        assert_list(p.drop_active, "[" X "]");
        assert_list(p.drop_passive, "");
        tb_upgrade_plan_done(&p);
}

static void a_passive_without_its_active_is_dropped(void **state) {
        static char *const i_conf[] = { "active+3.conf", "passive+3.conf", "passive" X "+3.conf", NULL };
        static char *const *i_efi = i_conf;
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(medium_efi, medium_conf, i_efi, i_conf, &p), 0);
        assert_list(p.rotate, "[]");
        assert_list(p.drop_passive, "[" X "]");
        tb_upgrade_plan_done(&p);
}

/* An entry whose UKI is gone (an interrupted removal) is not rotated, only removed or replaced. */
static void a_half_installed_active_is_not_rotated(void **state) {
        static char *const i_efi[] = { "active.conf", NULL };
        static char *const i_conf[] = { "active.conf", "active_y+3.conf", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(medium_efi, medium_conf, i_efi, i_conf, &p), 0);
        assert_list(p.rotate, "[]");
        assert_list(p.drop_active, "[_y]");
        tb_upgrade_plan_done(&p);
}

static void a_norole_uki_without_its_entry_is_refused(void **state) {
        static char *const m_conf[] = { "norole.conf", NULL };
        static char *const m_efi[] = { "norole.efi", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(medium_efi, m_conf, installed_complete, installed_conf, &p), -ENOENT);
        assert_int_equal(make(m_efi, medium_conf, installed_complete, installed_conf, &p), -ENOENT);
        assert_int_equal(make(medium_conf, medium_conf, installed_complete, installed_conf, &p), -ENOENT);
}

static void without_an_active_or_passive_entry_and_uki_it_is_no_installed_node(void **state) {
        static char *const i_efi[] = { "recovery.conf", NULL };
        static char *const i_conf[] = { "recovery.conf", "active.conf", "passive+3.conf", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(medium_efi, medium_conf, i_efi, i_conf, &p), -ENOENT);
}

/* Killed between removing the old active entry and writing the new one: the passive entry is
 * the node's only boot entry and stays; the new active one is written. */
static void an_interrupted_upgrade_without_active_keeps_its_passive(void **state) {
        static char *const i_conf[] = { "passive+3.conf", "recovery+3.conf", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(main_efi, main_conf, i_conf, i_conf, &p), 0);
        assert_list(p.install, "[]");
        assert_list(p.rotate, "");
        assert_list(p.drop_passive, "");
        tb_upgrade_plan_done(&p);
}

static void suffixes_are_names_without_slash_plus_or_leading_dot(void **state) {
        char long_suffix[TB_UPGRADE_SUFFIX_MAX + 2];
        static char *const m_efi[] = { "norole.efi", "norole+x.efi", NULL };
        static char *const m_conf[] = { "norole.conf", "norole+x.conf", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_true(tb_upgrade_suffix_valid(""));
        assert_true(tb_upgrade_suffix_valid("_install-mode_rd.debug"));
        assert_false(tb_upgrade_suffix_valid("+x"));
        assert_false(tb_upgrade_suffix_valid("_a/b"));
        assert_false(tb_upgrade_suffix_valid(".x"));
        assert_false(tb_upgrade_suffix_valid("_a b"));
        memset(long_suffix, 'a', sizeof(long_suffix) - 1);
        long_suffix[sizeof(long_suffix) - 1] = '\0';
        assert_false(tb_upgrade_suffix_valid(long_suffix));
        long_suffix[TB_UPGRADE_SUFFIX_MAX] = '\0';
        assert_true(tb_upgrade_suffix_valid(long_suffix));
        assert_int_equal(make(m_efi, m_conf, installed_complete, installed_conf, &p), -EINVAL);
}

static void more_than_the_maximum_of_entries_is_refused(void **state) {
        char *m_efi[TB_UPGRADE_MAX_ENTRIES + 2] = { NULL }, *m_conf[TB_UPGRADE_MAX_ENTRIES + 2] = { NULL };
        char names[TB_UPGRADE_MAX_ENTRIES + 1][2][32];
        tb_upgrade_plan p;

        (void)state;
        for (int i = 0; i <= TB_UPGRADE_MAX_ENTRIES; i++) {
                snprintf(names[i][0], sizeof(names[i][0]), i ? "norole_%d.efi" : "norole.efi", i);
                snprintf(names[i][1], sizeof(names[i][1]), i ? "norole_%d.conf" : "norole.conf", i);
                m_efi[i] = names[i][0];
                m_conf[i] = names[i][1];
        }
        assert_int_equal(make(m_efi, m_conf, installed_complete, installed_conf, &p), -E2BIG);
        m_efi[TB_UPGRADE_MAX_ENTRIES] = m_conf[TB_UPGRADE_MAX_ENTRIES] = NULL;
        assert_int_equal(make(m_efi, m_conf, installed_complete, installed_conf, &p), 0);
        assert_non_null(p.install[TB_UPGRADE_MAX_ENTRIES - 1]);
        tb_upgrade_plan_done(&p);
}

/* A --cmd-lines-v2 medium: norole-profile1.conf boots profile 1 of norole.efi (no UKI of its own). */
static void profile_entries_install_with_their_uki(void **state) {
        static char *const m_efi[] = { "norole.efi", "norole" X ".efi", NULL };
        static char *const m_conf[] = { "norole.conf", "norole-profile1.conf", "norole-profile2.conf",
                                        "norole" X ".conf", "norole" X "-profile1.conf", NULL };
        static char *const i_conf[] = { "active.conf", "active-profile1+3.conf", "active-profile3+3.conf",
                                        "passive+3.conf", "passive-profile1+3.conf", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(m_efi, m_conf, i_conf, i_conf, &p), 0);
        assert_list(p.install, "[][" X "]");
        assert_list(p.profiles, "[-profile1][-profile2][" X "-profile1]");
        /* the installed profile entries rotate with their UKI; one the medium no longer has goes */
        assert_list(p.rotate, "[][-profile1][-profile3]");
        assert_list(p.drop_active, "[-profile3]");
        assert_list(p.drop_passive, "");
        tb_upgrade_plan_done(&p);
        /* from a multi-profile install to a medium without profiles: the profile entries go */
        assert_int_equal(make(main_efi, main_conf, i_conf, i_conf, &p), 0);
        assert_list(p.profiles, "");
        assert_list(p.drop_active, "[-profile1][-profile3]");
        tb_upgrade_plan_done(&p);
}

/* A profile entry needs its UKI: norole-profile1.conf without norole.efi's pair, or one whose
 * suffix is not -profileN of a UKI's, is a half pair. */
static void a_profile_entry_without_its_uki_is_refused(void **state) {
        static char *const m_efi[] = { "norole.efi", NULL };
        static char *const orphan[] = { "norole.conf", "norole_y-profile1.conf", NULL };
        static char *const not_profile[] = { "norole.conf", "norole-profilex.conf", NULL };
        tb_upgrade_plan p;

        (void)state;
        assert_int_equal(make(m_efi, orphan, installed_complete, installed_conf, &p), -ENOENT);
        assert_int_equal(make(m_efi, not_profile, installed_complete, installed_conf, &p), -ENOENT);
        assert_true(tb_upgrade_profile_of("-profile12", ""));
        assert_true(tb_upgrade_profile_of("_x-profile1", "_x"));
        assert_false(tb_upgrade_profile_of("_x-profile1", ""));
        assert_false(tb_upgrade_profile_of("-profile", ""));
        assert_false(tb_upgrade_profile_of("-profile1a", ""));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(every_norole_entry_installs_and_every_active_rotates),
                cmocka_unit_test(an_entry_the_medium_drops_loses_its_active_and_keeps_its_passive),
                cmocka_unit_test(a_passive_without_its_active_is_dropped),
                cmocka_unit_test(a_half_installed_active_is_not_rotated),
                cmocka_unit_test(a_norole_uki_without_its_entry_is_refused),
                cmocka_unit_test(without_an_active_or_passive_entry_and_uki_it_is_no_installed_node),
                cmocka_unit_test(an_interrupted_upgrade_without_active_keeps_its_passive),
                cmocka_unit_test(suffixes_are_names_without_slash_plus_or_leading_dot),
                cmocka_unit_test(more_than_the_maximum_of_entries_is_refused),
                cmocka_unit_test(profile_entries_install_with_their_uki),
                cmocka_unit_test(a_profile_entry_without_its_uki_is_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
