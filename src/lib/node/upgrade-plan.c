/* upgrade-plan.c — the entries an active upgrade rotates, installs and removes (see upgrade-plan.h). */
#include "node/upgrade-plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/bootentries.h"
#include "node/bootentry.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strset.h"

#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))

bool tb_upgrade_suffix_valid(const char *suffix) {
        size_t n = strlen(suffix);

        if (n > TB_UPGRADE_SUFFIX_MAX || suffix[0] == '.')
                return false;
        return strspn(suffix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

bool tb_upgrade_plan_has(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (strcmp(*l, s) == 0)
                        return true;
        return false;
}

/* Inserts a copy of S into the sorted list *L unless it is there; returns the list's length. */
static int set_add(char ***l, const char *s) {
        size_t n = 0, i = 0;
        char *copy, **grown;

        while (*l && (*l)[n])
                n++;
        while (i < n && strcmp((*l)[i], s) < 0)
                i++;
        if (i < n && strcmp((*l)[i], s) == 0)
                return (int)n;
        copy = strdup(s);
        grown = copy ? realloc(*l, (n + 2) * sizeof(char *)) : NULL;
        if (!grown) {
                free(copy);
                return tb_log_oom();
        }
        memmove(grown + i + 1, grown + i, (n - i) * sizeof(char *));
        grown[i] = copy;
        grown[n + 1] = NULL;
        *l = grown;
        return (int)(n + 1);
}

/* The suffix of NAME in the family PREFIX<suffix>EXT, or NULL (in *RET) if NAME is not in it.
 * Entry ids (EXT ".conf") lose their boot counter first: "active_x+2-1.conf" → "_x". */
static int family_suffix(const char *name, const char *prefix, const char *ext, char **ret) {
        _cleanup_(freep) char *base = NULL;
        size_t lp = strlen(prefix), le = strlen(ext), ln;

        *ret = NULL;
        if (strcmp(ext, ".conf") == 0) {
                if (tb_loader_entry_parse_name(name, &base, NULL, NULL) < 0)
                        return 0;
        } else {
                ln = strlen(name);
                if (ln < le || strcmp(name + ln - le, ext) != 0)
                        return 0;
                if (!(base = strndup(name, ln - le)))
                        return tb_log_oom();
        }
        if (strncmp(base, prefix, lp) != 0)
                return 0;
        *ret = strdup(base + lp);
        return *ret ? 0 : tb_log_oom();
}

/* Adds the suffixes of the NAMES (in WHERE/DIR) of the family PREFIX…EXT to *SET. */
static int collect(char *const *names, const char *prefix, const char *ext, const char *where, const char *dir,
                   char ***set) {
        for (; names && *names; names++) {
                _cleanup_(freep) char *suffix = NULL;
                int r = family_suffix(*names, prefix, ext, &suffix);
                if (r < 0)
                        return r;
                if (!suffix)
                        continue;
                if (!tb_upgrade_suffix_valid(suffix))
                        return REFUSE(-EINVAL,
                                      "%s: %s/%s: not an entry name (after \"%s\" at most %d letters, digits, '.', "
                                      "'_' or '-', not starting with '.')",
                                      where, dir, *names, prefix, TB_UPGRADE_SUFFIX_MAX);
                r = set_add(set, suffix);
                if (r < 0)
                        return r;
                if (r > TB_UPGRADE_MAX_ENTRIES)
                        return REFUSE(-E2BIG, "%s: more than %d %s* entries in %s", where, TB_UPGRADE_MAX_ENTRIES,
                                      prefix, dir);
        }
        return 0;
}

bool tb_upgrade_profile_of(const char *suffix, const char *base) {
        static const char tag[] = "-profile";
        size_t lb = strlen(base), lt = strlen(tag);

        if (strncmp(suffix, base, lb) != 0 || strncmp(suffix + lb, tag, lt) != 0)
                return false;
        suffix += lb + lt;
        return *suffix && strspn(suffix, "0123456789") == strlen(suffix);
}

/* The profile entry S's UKI suffix in EFIS: the b of S = b-profileN with norole<b>.efi there. */
static const char *profile_base(const char *s, char *const *efis) {
        for (; efis && *efis; efis++)
                if (tb_upgrade_profile_of(s, *efis))
                        return *efis;
        return NULL;
}

/* Every suffix of A that B lacks is the other half of a norole pair gone missing; but an entry
 * (A the entries) that boots a profile of one of the UKIs (B) has no UKI of its own. */
static int check_pairs(const char *medium, char *const *a, const char *a_dir, const char *a_ext, char *const *b,
                       const char *b_dir, const char *b_ext) {
        for (; a && *a; a++)
                if (!tb_upgrade_plan_has(b, *a) && strcmp(a_ext, ".conf") == 0 && profile_base(*a, b))
                        continue;
                else if (!tb_upgrade_plan_has(b, *a))
                        return REFUSE(-ENOENT, "%s: %s/%s%s%s has no %s/%s%s%s beside it", medium, a_dir,
                                      TB_BOOT_NOROLE, *a, a_ext, b_dir, TB_BOOT_NOROLE, *a, b_ext);
        return 0;
}

int tb_upgrade_plan_make(const tb_upgrade_plan_input *in, tb_upgrade_plan *ret) {
        _cleanup_(tb_strv_freep) char **m_efi = NULL, **m_conf = NULL, **a_complete = NULL, **a_any = NULL,
                                      **p_complete = NULL, **p_any = NULL;
        _cleanup_(tb_upgrade_plan_done) tb_upgrade_plan p = { 0 };
        const char *active = tb_role_to_string(TB_ROLE_ACTIVE), *passive = tb_role_to_string(TB_ROLE_PASSIVE);
        int r;

        *ret = (tb_upgrade_plan){ 0 };
        if ((r = collect(in->medium_efi, TB_BOOT_NOROLE, ".efi", in->medium, TB_BOOT_EFI_DIR, &m_efi)) < 0 ||
            (r = collect(in->medium_conf, TB_BOOT_NOROLE, ".conf", in->medium, TB_BOOT_ENTRIES_DIR, &m_conf)) < 0)
                return r;
        if (!tb_upgrade_plan_has(m_efi, ""))
                return REFUSE(-ENOENT, "%s: no %s/%s.efi: not a trustboot medium", in->medium, TB_BOOT_EFI_DIR,
                              TB_BOOT_NOROLE);
        if (!tb_upgrade_plan_has(m_conf, ""))
                return REFUSE(-ENOENT, "%s: no %s/%s.conf: not a trustboot medium", in->medium, TB_BOOT_ENTRIES_DIR,
                              TB_BOOT_NOROLE);
        if ((r = check_pairs(in->medium, m_efi, TB_BOOT_EFI_DIR, ".efi", m_conf, TB_BOOT_ENTRIES_DIR, ".conf")) < 0 ||
            (r = check_pairs(in->medium, m_conf, TB_BOOT_ENTRIES_DIR, ".conf", m_efi, TB_BOOT_EFI_DIR, ".efi")) < 0)
                return r;

        /* An active entry rotates only if its UKI is there; an entry whose UKI is gone (an
         * interrupted removal) is replaced or removed like any entry the medium does (not) have. */
        if ((r = collect(in->installed_complete, active, ".conf", in->esp, TB_BOOT_ENTRIES_DIR, &a_complete)) < 0 ||
            (r = collect(in->installed_conf, active, ".conf", in->esp, TB_BOOT_ENTRIES_DIR, &a_any)) < 0 ||
            (r = collect(in->installed_complete, passive, ".conf", in->esp, TB_BOOT_ENTRIES_DIR, &p_complete)) < 0 ||
            (r = collect(in->installed_conf, passive, ".conf", in->esp, TB_BOOT_ENTRIES_DIR, &p_any)) < 0)
                return r;
        p.rotate = TAKE_PTR(a_complete);
        /* Without the main active entry but with its passive one, an upgrade was interrupted
         * between removing the old active entry and writing the new one: the passive stays. */
        if (!tb_upgrade_plan_has(p.rotate, "") && !tb_upgrade_plan_has(p_complete, ""))
                return REFUSE(-ENOENT, "%s: no %s or %s entry whose UKI is there: not an installed node", in->esp,
                              active, passive);
        /* The profile entries: the medium's entries without a UKI of their own. */
        for (char **c = m_conf; c && *c; c++)
                if (!tb_upgrade_plan_has(m_efi, *c) && (r = set_add(&p.profiles, *c)) < 0)
                        return r;
        for (char **s = a_any; s && *s; s++)
                if (!tb_upgrade_plan_has(m_efi, *s) && !tb_upgrade_plan_has(p.profiles, *s) &&
                    (r = set_add(&p.drop_active, *s)) < 0)
                        return r;
        /* A passive entry nothing rotates into goes, but the main one: it is the fallback until
         * the new main active entry is written. */
        for (char **s = p_any; s && *s; s++)
                if (**s != '\0' && !tb_upgrade_plan_has(p.rotate, *s) && (r = set_add(&p.drop_passive, *s)) < 0)
                        return r;
        p.install = TAKE_PTR(m_efi);
        *ret = p;
        p = (tb_upgrade_plan){ 0 }; /* NOLINT(clang-analyzer-deadcode.DeadStores): read by the cleanup */
        return 0;
}

void tb_upgrade_plan_done(tb_upgrade_plan *p) {
        tb_strv_free(p->install);
        tb_strv_free(p->profiles);
        tb_strv_free(p->rotate);
        tb_strv_free(p->drop_active);
        tb_strv_free(p->drop_passive);
        *p = (tb_upgrade_plan){ 0 };
}
