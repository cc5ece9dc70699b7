/* upgrade-steps.c — the ordered write steps of an upgrade and their space (see upgrade-steps.h). */
#include "node/upgrade-steps.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/bootentries.h"
#include "util/macro.h"

bool tb_upgrade_efi_equal(const char *a, const char *b) {
        if (!a || !b)
                return false;
        for (;; a++, b++) {
                int ca = *a == '\\' ? '/' : tolower((unsigned char)*a), cb = *b == '\\' ? '/' : tolower((unsigned char)*b);
                if (ca != cb)
                        return false;
                if (!ca)
                        return true;
        }
}

/* The entries as they stand after the steps so far, and the UKIs still on the ESP. */
typedef struct live_entry {
        char *file, *base, *efi;
        bool alive;
} live_entry;

typedef struct sim {
        const tb_upgrade_steps_input *in;
        live_entry *e;
        size_t n_e;
        bool *uki_gone;             /* per in->ukis */
        tb_upgrade_steps out;
        int64_t use;                /* beyond today's */
        uint64_t credited;          /* freed so far */
} sim;

static uint64_t rounded(const sim *m, uint64_t bytes) {
        uint64_t c = m->in->cluster ? m->in->cluster : 1;

        return (bytes + c - 1) / c * c;
}

static int step_add(sim *m, tb_upgrade_step_kind kind, const char *file, const char *name, const char *efi,
                    const char *from, const char *suffix, int64_t delta) {
        tb_upgrade_step *grown = realloc(m->out.s, (m->out.n + 1) * sizeof(*grown)), *s;

        if (!grown)
                return -ENOMEM;
        m->out.s = grown;
        s = &m->out.s[m->out.n++];
        *s = (tb_upgrade_step){ .kind = kind, .delta = delta };
        if ((file && !(s->file = strdup(file))) || (name && !(s->name = strdup(name))) ||
            (efi && !(s->efi = strdup(efi))) || (from && !(s->from = strdup(from))) ||
            (suffix && !(s->suffix = strdup(suffix))))
                return -ENOMEM;
        m->use += delta;
        if (delta < 0)
                m->credited += (uint64_t)-delta;
        else
                m->out.written += (uint64_t)delta;
        if (m->use > 0 && (uint64_t)m->use > m->out.peak) {
                m->out.peak = (uint64_t)m->use;
                m->out.credited = m->credited;
        }
        return 0;
}

static int live_add(sim *m, const char *file, const char *base, const char *efi) {
        live_entry *grown = realloc(m->e, (m->n_e + 1) * sizeof(*grown)), *e;

        if (!grown)
                return -ENOMEM;
        m->e = grown;
        e = &m->e[m->n_e++];
        *e = (live_entry){ .file = strdup(file), .base = strdup(base), .efi = efi ? strdup(efi) : NULL, .alive = true };
        return e->file && e->base && (!efi || e->efi) ? 0 : -ENOMEM;
}

static const live_entry *live_find(const sim *m, const char *base) {
        for (size_t i = 0; i < m->n_e; i++)
                if (m->e[i].alive && m->e[i].efi && strcmp(m->e[i].base, base) == 0)
                        return &m->e[i];
        return NULL;
}

static bool named(const sim *m, const char *efi) {
        for (size_t i = 0; i < m->n_e; i++)
                if (m->e[i].alive && tb_upgrade_efi_equal(m->e[i].efi, efi))
                        return true;
        /* A new UKI already on the ESP is about to be named. */
        for (size_t i = 0; i < m->in->n_news; i++)
                if (m->in->news[i].present && tb_upgrade_efi_equal(m->in->news[i].efi, efi))
                        return true;
        return false;
}

/* Every installed UKI no entry names any more. */
static int remove_unnamed(sim *m) {
        for (size_t i = 0; i < m->in->n_ukis; i++) {
                const tb_upgrade_installed_uki *u = &m->in->ukis[i];
                int r;

                if (m->uki_gone[i] || named(m, u->efi))
                        continue;
                r = step_add(m, TB_UPGRADE_REMOVE_UKI, NULL, NULL, u->efi, NULL, NULL, -(int64_t)u->bytes);
                if (r < 0)
                        return r;
                m->uki_gone[i] = true;
        }
        return 0;
}

/* Every entry BASE (any counter), then the UKIs that leaves unnamed. Entries are credited
 * nothing: a few hundred bytes, and FAT may keep their directory slots. */
static int remove_entries(sim *m, const char *base) {
        for (size_t i = 0; i < m->n_e; i++) {
                if (!m->e[i].alive || strcmp(m->e[i].base, base) != 0)
                        continue;
                int r = step_add(m, TB_UPGRADE_REMOVE_ENTRY, m->e[i].file, NULL, NULL, NULL, NULL, 0);
                if (r < 0)
                        return r;
                m->e[i].alive = false;
        }
        return remove_unnamed(m);
}

static int write_entry(sim *m, const char *base, const char *efi, const char *from, const char *suffix) {
        _cleanup_(freep) char *file = NULL;
        int r;

        if (asprintf(&file, "%s+%d.conf", base, TB_BOOT_TRIES) < 0)
                return -ENOMEM;
        r = step_add(m, TB_UPGRADE_WRITE_ENTRY, file, base, efi, from, suffix, (int64_t)rounded(m, m->in->entry_bytes));
        return r < 0 ? r : live_add(m, file, base, efi);
}

static int write_uki(sim *m, const tb_upgrade_new_uki *n) {
        if (n->present)
                return 0;
        return step_add(m, TB_UPGRADE_WRITE_UKI, NULL, NULL, n->efi, NULL, n->suffix, (int64_t)rounded(m, n->bytes));
}

static const tb_upgrade_new_uki *new_for(const sim *m, const char *suffix) {
        for (size_t i = 0; i < m->in->n_news; i++)
                if (strcmp(m->in->news[i].suffix, suffix) == 0)
                        return &m->in->news[i];
        return NULL;
}

static char *role_name(tb_role role, const char *suffix) {
        char *s;

        return asprintf(&s, "%s%s", tb_role_to_string(role), suffix) < 0 ? NULL : s;
}

/* Whether S is a profile entry of the UKI of suffix BASE: BASE-profileN without a UKI of its own. */
static bool profile_entry_of(const tb_upgrade_plan *p, const char *s, const char *base) {
        return !tb_upgrade_plan_has(p->install, s) && tb_upgrade_profile_of(s, base);
}

/* Whether S is a profile entry of any UKI the plan rotates or installs (handled with it). */
static bool profile_entry(const tb_upgrade_plan *p, const char *s) {
        for (int pass = 0; pass < 2; pass++)
                for (char *const *b = pass == 0 ? p->install : p->rotate; b && *b; b++)
                        if (strcmp(*b, s) != 0 && profile_entry_of(p, s, *b))
                                return true;
        return false;
}

/* Step 2 for the installed profile entries of SUFFIX's UKI: passive<s>-profileN boots profile N
 * of the old UKI, as active<s>-profileN did. One an earlier run rewrote already (naming the new
 * UKI N_EFI) keeps the passive entry it wrote. */
static int rotate_profiles(sim *m, const char *suffix, const char *n_efi) {
        for (char *const *s = m->in->plan->rotate; s && *s; s++) {
                _cleanup_(freep) char *active = NULL, *passive = NULL, *efi = NULL, *from = NULL;
                const live_entry *a;
                int r;

                if (!profile_entry_of(m->in->plan, *s, suffix))
                        continue;
                if (!(active = role_name(TB_ROLE_ACTIVE, *s)) || !(passive = role_name(TB_ROLE_PASSIVE, *s)))
                        return -ENOMEM;
                a = live_find(m, active);
                if (!a || (n_efi && tb_upgrade_efi_equal(a->efi, n_efi)))
                        continue;
                if (!(efi = strdup(a->efi)) || !(from = strdup(a->file)))
                        return -ENOMEM;
                if ((r = remove_entries(m, passive)) < 0 || (r = write_entry(m, passive, efi, from, *s)) < 0)
                        return r;
        }
        return 0;
}

/* Step 5 for the medium's profile entries of SUFFIX's UKI, before its main entry: each
 * active<s>-profileN replaced by the medium's, naming the new UKI N_EFI. */
static int install_profiles(sim *m, const char *suffix, const char *n_efi) {
        for (char *const *s = m->in->plan->profiles; s && *s; s++) {
                _cleanup_(freep) char *active = NULL;
                const live_entry *a;
                int r;

                if (!profile_entry_of(m->in->plan, *s, suffix))
                        continue;
                if (!(active = role_name(TB_ROLE_ACTIVE, *s)))
                        return -ENOMEM;
                a = live_find(m, active);
                if (a && tb_upgrade_efi_equal(a->efi, n_efi))
                        continue;
                if ((r = remove_entries(m, active)) < 0 || (r = write_entry(m, active, n_efi, NULL, *s)) < 0)
                        return r;
        }
        return 0;
}

/* Steps 1–5 of upgrade-steps.h for one suffix, with the profile entries of its UKI. */
static int family_suffix(sim *m, const char *suffix) {
        _cleanup_(freep) char *active = role_name(TB_ROLE_ACTIVE, suffix), *passive = role_name(TB_ROLE_PASSIVE, suffix);
        const tb_upgrade_new_uki *n = new_for(m, suffix);
        const live_entry *a;
        int r;

        if (!active || !passive)
                return -ENOMEM;
        a = live_find(m, active);
        /* Already the new UKI (an earlier run got this far): its passive is the previous one. */
        if (n && a && tb_upgrade_efi_equal(a->efi, n->efi))
                return 0;
        if (tb_upgrade_plan_has(m->in->plan->rotate, suffix)) {
                if (!a)
                        return -ENOENT;
                _cleanup_(freep) char *efi = strdup(a->efi), *from = strdup(a->file);
                if (!efi || !from)
                        return -ENOMEM;
                if ((r = remove_entries(m, passive)) < 0 || (r = write_entry(m, passive, efi, from, suffix)) < 0)
                        return r;
        }
        if ((r = rotate_profiles(m, suffix, n ? n->efi : NULL)) < 0)
                return r;
        if (!n)
                return 0;
        if ((r = write_uki(m, n)) < 0 || (r = install_profiles(m, suffix, n->efi)) < 0 ||
            (r = remove_entries(m, active)) < 0 || (r = write_entry(m, active, n->efi, NULL, suffix)) < 0)
                return r;
        return remove_unnamed(m);
}

/* Removes the entries of ROLE<suffix> for every suffix of the strv SUFFIXES (may be NULL). */
static int remove_role_entries(sim *m, tb_role role, char *const *suffixes) {
        for (char *const *s = suffixes; s && *s; s++) {
                _cleanup_(freep) char *name = role_name(role, *s);
                int r;

                if (!name)
                        return -ENOMEM;
                r = remove_entries(m, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The passive entries nothing rotates into go first — but a profile entry of the new medium
 * whose active one an interrupted run removed before writing it again: its passive entry, naming
 * the main passive entry's UKI, is this upgrade's fallback. */
static int drop_passives(sim *m) {
        const tb_upgrade_plan *p = m->in->plan;
        const live_entry *main = live_find(m, tb_role_to_string(TB_ROLE_PASSIVE));

        for (char *const *s = p->drop_passive; s && *s; s++) {
                _cleanup_(freep) char *name = role_name(TB_ROLE_PASSIVE, *s);
                const live_entry *e;
                int r;

                if (!name)
                        return -ENOMEM;
                e = live_find(m, name);
                if (e && main && tb_upgrade_plan_has(p->profiles, *s) && tb_upgrade_efi_equal(e->efi, main->efi))
                        continue;
                r = remove_entries(m, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int family(sim *m) {
        const tb_upgrade_plan *p = m->in->plan;
        const tb_upgrade_new_uki *n = new_for(m, "");
        const live_entry *a = live_find(m, tb_role_to_string(TB_ROLE_ACTIVE));
        int r;

        /* Done already (the main active entry names the new UKI: a run again after the last
         * write): the passive entries nothing rotates into are this upgrade's fallback, kept. */
        if (!(n && a && tb_upgrade_efi_equal(a->efi, n->efi)) && (r = drop_passives(m)) < 0)
                return r;
        /* Every suffix but the main one, in order, then the main one: its entry ends the upgrade. */
        for (int pass = 0; pass < 2; pass++)
                for (char *const *l = pass == 0 ? p->rotate : p->install; l && *l; l++) {
                        if (**l == '\0' || (pass == 1 && tb_upgrade_plan_has(p->rotate, *l)) || profile_entry(p, *l))
                                continue;
                        if ((r = family_suffix(m, *l)) < 0)
                                return r;
                }
        if ((r = family_suffix(m, "")) < 0)
                return r;
        return remove_role_entries(m, TB_ROLE_ACTIVE, p->drop_active);
}

static int single(sim *m) {
        const tb_upgrade_new_uki *n = m->in->n_news > 0 ? &m->in->news[0] : NULL;
        const live_entry *e = live_find(m, m->in->name);
        int r;

        if (!n)
                return -EINVAL;
        if (e && tb_upgrade_efi_equal(e->efi, n->efi))
                return 0;
        if ((r = write_uki(m, n)) < 0)
                return r;
        /* Its profile entries: the medium's written for the new UKI, other installed ones (which
         * would keep booting the old UKI) removed; the entry itself last. */
        for (char *const *s = m->in->profiles; s && *s; s++) {
                _cleanup_(freep) char *pname = NULL;
                const live_entry *a;

                if (asprintf(&pname, "%s%s", m->in->name, *s) < 0)
                        return -ENOMEM;
                a = live_find(m, pname);
                if (a && tb_upgrade_efi_equal(a->efi, n->efi))
                        continue;
                if ((r = remove_entries(m, pname)) < 0 || (r = write_entry(m, pname, n->efi, NULL, *s)) < 0)
                        return r;
        }
        for (size_t i = 0; i < m->n_e; i++) {
                size_t len = strlen(m->in->name);
                _cleanup_(freep) char *base = NULL;

                if (!m->e[i].alive || strncmp(m->e[i].base, m->in->name, len) != 0 ||
                    !tb_upgrade_profile_of(m->e[i].base + len, "") ||
                    tb_upgrade_plan_has(m->in->profiles, m->e[i].base + len))
                        continue;
                if (!(base = strdup(m->e[i].base)))
                        return -ENOMEM;
                if ((r = remove_entries(m, base)) < 0)
                        return r;
        }
        if ((r = remove_entries(m, m->in->name)) < 0 || (r = write_entry(m, m->in->name, n->efi, NULL, n->suffix)) < 0)
                return r;
        return remove_unnamed(m);
}

int tb_upgrade_steps_make(const tb_upgrade_steps_input *in, tb_upgrade_steps *ret) {
        sim m = { .in = in };
        int r = 0;

        *ret = (tb_upgrade_steps){ 0 };
        m.uki_gone = calloc(in->n_ukis + 1, sizeof(bool));
        if (!m.uki_gone)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_entries && r >= 0; i++)
                r = live_add(&m, in->entries[i].file, in->entries[i].base, in->entries[i].efi);
        /* What no entry names (left by an interrupted run) goes first: it boots nothing. */
        if (r >= 0)
                r = remove_unnamed(&m);
        if (r >= 0)
                r = in->plan ? family(&m) : single(&m);
        for (size_t i = 0; i < m.n_e; i++) {
                free(m.e[i].file);
                free(m.e[i].base);
                free(m.e[i].efi);
        }
        free(m.e);
        free(m.uki_gone);
        if (r < 0) {
                tb_upgrade_steps_done(&m.out);
                return r;
        }
        *ret = m.out;
        return 0;
}

void tb_upgrade_steps_done(tb_upgrade_steps *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->s[i].file);
                free(s->s[i].name);
                free(s->s[i].efi);
                free(s->s[i].from);
                free(s->s[i].suffix);
        }
        free(s->s);
        *s = (tb_upgrade_steps){ 0 };
}
