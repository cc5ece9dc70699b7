/* upgrade.c — A/B upgrade of an installed ESP (see upgrade.h). */
#include "node/upgrade.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "node/bootentries.h"
#include "node/bootentry.h"
#include "sb/efivar.h"
#include "util/fileio.h"
#include "util/log.h"
#include "tpm/luks.h"
#include "pe/pe.h"
#include "sb/sbdb.h"
#include "util/strset.h"
#include "medium/uki.h"
#include "node/upgrade-pcrkey.h"
#include "node/upgrade-plan.h"
#include "node/upgrade-stage.h"
#include "pe/sdmagic.h"

#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))
#define CONF_MAX ((size_t)64 << 10)
/* FAT allocates in clusters and the directory entries take room too: keep a margin. */
#define SPACE_MARGIN ((uint64_t)256 << 10)

bool tb_upgrade_entry_name_valid(const char *name) {
        size_t n = strlen(name);

        return n > 0 && n <= TB_UPGRADE_ENTRY_NAME_MAX && name[0] != '.' && !strchr(name, '/') && !strchr(name, '+');
}

void tb_upgrade_result_done(tb_upgrade_result *r) {
        free(r->entry_file);
        r->entry_file = NULL;
}

/* ---- checks ---- */

static int luks_volume_cb(const char *device, const char *name, void *userdata) {
        const tb_upgrade_staged *s = userdata;

        (void)name;
        for (size_t i = 0; i < s->n_ukis; i++) {
                int r = tb_upgrade_pcrkey_check_luks(device, s->ukis[i].pe);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Every new UKI: the firmware would start it, and it unlocks the disks BOUND_UKI unlocks. */
static int check_ukis(const tb_upgrade_options *o, const tb_sbdb *db, const tb_upgrade_staged *s, const char *bound_uki) {
        int r;

        for (size_t i = 0; i < s->n_ukis; i++) {
                r = tb_sbdb_check(db, s->ukis[i].pe);
                if (r < 0)
                        return r;
                r = tb_upgrade_pcrkey_check_installed(bound_uki, s->ukis[i].pe);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < o->n_luks_devices; j++) {
                        r = tb_upgrade_pcrkey_check_luks(o->luks_devices[j], s->ukis[i].pe);
                        if (r < 0)
                                return r;
                }
        }
        /* One scan for all of them: it opens every block device. */
        if (o->luks_scan)
                return tb_luks_foreach_tpm2_volume(luks_volume_cb, (void *)s);
        return 0;
}

/* ---- space ---- */

static int file_size(const char *path, uint64_t *ret) {
        struct stat st;

        if (stat(path, &st) < 0)
                return negative_errno();
        *ret = (uint64_t)st.st_size;
        return 0;
}

static int check_space(const char *esp, uint64_t need) {
        const char *fake = getenv("TRUSTBOOT_TEST_ESP_FREE");
        uint64_t avail;
        struct statvfs sv;

        if (fake)
                avail = strtoull(fake, NULL, 10);
        else if (statvfs(esp, &sv) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot get the free space", esp);
        else
                avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        if (avail < need)
                return REFUSE(-ENOSPC, "%s: %llu bytes free, the upgrade needs %llu", esp, (unsigned long long)avail,
                              (unsigned long long)need);
        return 0;
}

/* ---- writing ---- */

static int atomic_data(const char *dst, const tb_buf *b, tb_atomic_file *af) {
        int r = tb_atomic_open(dst, 0644, af);

        if (r < 0)
                return tb_log_errno(r, "%s: cannot create a temporary file", dst);
        r = tb_write_all(af->fd, b->data, b->len);
        if (r >= 0 && fsync(af->fd) < 0)
                r = negative_errno();
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", af->tmp_path);
        return 0;
}

static int commit(tb_atomic_file *af) {
        _cleanup_(freep) char *final = af->final_path ? strdup(af->final_path) : NULL;
        int r = tb_atomic_commit(af);

        if (r < 0)
                return tb_log_errno(r, "%s: cannot rename into place", final ? final : "?");
        return 0;
}

static void fault_point(const char *name) {
        const char *f = getenv("TRUSTBOOT_TEST_FAULT");

        if (f && strcmp(f, name) == 0)
                raise(SIGKILL);
}

/* Temporary files left by an upgrade that was killed: hidden, so systemd-boot never saw them. */
static void remove_stale(const char *esp, const char *sub) {
        _cleanup_(freep) char *dir = tb_path_join(esp, sub);
        DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp."))
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

static int files_equal(const char *a, const char *b) {
        _cleanup_(closep) int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
        uint8_t ba[65536], bb[sizeof(ba)];
        struct stat sa, sb;

        if (fa < 0 || fb < 0 || fstat(fa, &sa) < 0 || fstat(fb, &sb) < 0)
                return negative_errno();
        if (sa.st_size != sb.st_size)
                return 0;
        for (off_t off = 0; off < sa.st_size;) {
                size_t n = (size_t)MIN((uint64_t)(sa.st_size - off), sizeof(ba));
                int r = tb_read_full(fa, ba, n);
                if (r >= 0)
                        r = tb_read_full(fb, bb, n);
                if (r < 0)
                        return r;
                if (memcmp(ba, bb, n) != 0)
                        return 0;
                off += (off_t)n;
        }
        return 1;
}

/* One entry the upgrade writes: a UKI copied from uki_src (a staged UKI, or the installed active
 * one for its passive copy) and its entry, under hidden temporary names until committed. */
typedef struct entry_write {
        char *name;             /* "passive_x" */
        char *uki_src;
        char *efi_path;         /* ESP/EFI/trustboot/NAME.efi */
        char *conf_file;        /* NAME+3.conf */
        char *conf_path;        /* ESP/loader/entries/NAME+3.conf */
        tb_buf conf;
        tb_atomic_file efi_tmp, conf_tmp;
} entry_write;

typedef struct entry_writes {
        entry_write *w;
        size_t n;
} entry_writes;

static void entry_writes_done(entry_writes *ws) {
        for (size_t i = 0; i < ws->n; i++) {
                entry_write *e = &ws->w[i];
                tb_atomic_abort(&e->efi_tmp);
                tb_atomic_abort(&e->conf_tmp);
                free(e->name);
                free(e->uki_src);
                free(e->efi_path);
                free(e->conf_file);
                free(e->conf_path);
                tb_buf_free(&e->conf);
        }
        free(ws->w);
}

/* Adds the entry NAME, its UKI from UKI_SRC and its text CONF (a medium's or installed entry)
 * rewritten for NAME; *NEED grows by what it will occupy. */
static int entry_writes_add(entry_writes *ws, const char *esp, const char *name, const char *uki_src,
                            const tb_buf *conf, uint64_t *need) {
        _cleanup_(freep) char *efi_key = NULL;
        entry_write *grown = realloc(ws->w, (ws->n + 1) * sizeof(*grown)), *e;
        uint64_t sz = 0;
        int r;

        if (!grown)
                return tb_log_oom();
        ws->w = grown;
        e = &ws->w[ws->n++];
        *e = (entry_write){ .conf = TB_BUF_INIT, .efi_tmp = TB_ATOMIC_FILE_INIT, .conf_tmp = TB_ATOMIC_FILE_INIT };
        if (!(e->name = strdup(name)) || !(e->uki_src = strdup(uki_src)) ||
            asprintf(&efi_key, "/%s/%s.efi", TB_BOOT_EFI_DIR, name) < 0 || !(e->efi_path = tb_path_join(esp, efi_key + 1)) ||
            asprintf(&e->conf_file, "%s+%d.conf", name, TB_BOOT_TRIES) < 0 ||
            asprintf(&e->conf_path, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, e->conf_file) < 0)
                return tb_log_oom();
        r = tb_bootentries_conf_for((const char *)conf->data, conf->len, name, efi_key, &e->conf);
        if (r < 0)
                return r;
        r = file_size(uki_src, &sz);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot stat", uki_src);
        *need += sz + e->conf.len;
        return 0;
}

static int entry_write_prepare(entry_write *e) {
        int r = tb_atomic_copy(e->uki_src, e->efi_path, 0644, &e->efi_tmp);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot copy to %s", e->uki_src, e->efi_path);
        return atomic_data(e->conf_path, &e->conf, &e->conf_tmp);
}

/* Removes the installed entry files of NAME (any counter) but KEEP; with KEEP NULL, its UKI too,
 * after them, so that no entry ever names a missing UKI. */
static int remove_entry(const char *esp, const tb_bootentry_list *l, const char *name, const char *keep) {
        _cleanup_(freep) char *efi = NULL;

        for (size_t i = 0; i < l->n; i++) {
                _cleanup_(freep) char *path = NULL;
                if (strcmp(l->e[i].base, name) != 0 || (keep && strcmp(l->e[i].file, keep) == 0))
                        continue;
                if (asprintf(&path, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, l->e[i].file) < 0)
                        return tb_log_oom();
                if (unlink(path) < 0 && errno != ENOENT)
                        return tb_log_errno(negative_errno(), "%s: cannot remove", path);
                tb_fsync_parent(path);
        }
        if (keep)
                return 0;
        if (asprintf(&efi, "%s/%s/%s.efi", esp, TB_BOOT_EFI_DIR, name) < 0)
                return tb_log_oom();
        if (unlink(efi) < 0 && errno != ENOENT)
                return tb_log_errno(negative_errno(), "%s: cannot remove", efi);
        tb_fsync_parent(efi);
        return 0;
}

/* The UKI, then the entry naming it; the entry's files under another name (the counter) go
 * last: for a moment both exist and point at the same, complete UKI. */
static int entry_write_commit(const char *esp, const tb_bootentry_list *l, entry_write *e) {
        int r = commit(&e->efi_tmp);

        if (r >= 0)
                r = commit(&e->conf_tmp);
        return r < 0 ? r : remove_entry(esp, l, e->name, e->conf_file);
}

static char *role_name(tb_role role, const char *suffix) {
        char *s;

        return asprintf(&s, "%s%s", tb_role_to_string(role), suffix) < 0 ? NULL : s;
}

/* passive<s> ← installed active<s>, for every suffix the plan rotates. */
static int plan_passive_writes(const tb_upgrade_options *o, const tb_bootentry_list *l, const tb_upgrade_staged *s,
                               const tb_upgrade_plan *p, entry_writes *ws, uint64_t *need) {
        for (char **sfx = p->rotate; *sfx; sfx++) {
                _cleanup_(freep) char *active = role_name(TB_ROLE_ACTIVE, *sfx), *passive = role_name(TB_ROLE_PASSIVE, *sfx);
                _cleanup_(freep) char *active_uki = NULL, *passive_uki = NULL, *conf_path = NULL;
                _cleanup_(tb_buf_freep) tb_buf conf = TB_BUF_INIT;
                const tb_bootentry *ae, *pe;
                const tb_upgrade_staged_uki *u = tb_upgrade_staged_find(s, *sfx);
                int r;

                if (!active || !passive || asprintf(&active_uki, "%s/%s/%s.efi", o->esp, TB_BOOT_EFI_DIR, active) < 0 ||
                    asprintf(&passive_uki, "%s/%s/%s.efi", o->esp, TB_BOOT_EFI_DIR, passive) < 0)
                        return tb_log_oom();
                ae = tb_bootentry_list_find(l, active);
                pe = tb_bootentry_list_find(l, passive);
                /* An active UKI that already is the new one was put there by an earlier run of this
                 * upgrade (interrupted, or repeated): its passive copy is the previous one and
                 * stays, or the fallback would be the very UKI it falls back from. */
                if (u && pe && tb_path_exists(passive_uki) && files_equal(active_uki, u->path) > 0) {
                        tb_info("%s: already the new UKI; %s stays the fallback", active_uki, pe->file);
                        continue;
                }
                if (!ae)
                        return -ENOENT; /* the plan rotates only installed entries */
                if (asprintf(&conf_path, "%s/%s/%s", o->esp, TB_BOOT_ENTRIES_DIR, ae->file) < 0)
                        return tb_log_oom();
                r = tb_read_file(conf_path, CONF_MAX, &conf);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read", conf_path);
                r = entry_writes_add(ws, o->esp, passive, active_uki, &conf, need);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* active<s> ← the medium's norole<s>, the main entry last: its rename ends the upgrade (and a
 * crash before it leaves the main entry and its fallback as they were). The plan sorts the main
 * entry's "" first, hence the rotation by one. */
static int plan_active_writes(const tb_upgrade_options *o, const tb_upgrade_staged *s, entry_writes *ws,
                              uint64_t *need) {
        for (size_t k = 1; k <= s->n_ukis; k++) {
                const tb_upgrade_staged_uki *u = &s->ukis[k % s->n_ukis];
                _cleanup_(freep) char *active = role_name(TB_ROLE_ACTIVE, u->suffix);
                int r;

                if (!active)
                        return tb_log_oom();
                r = entry_writes_add(ws, o->esp, active, u->path, &u->conf, need);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* systemd-boot is replaced only by a newer one, and never installed where there was none (the
 * node boots some other way: nothing of ours to update). */
static int check_sdboot(const tb_upgrade_options *o, const tb_sbdb *db, const tb_upgrade_staged *s, const char *sd_path,
                        bool *ret_update) {
        _cleanup_(closep) int sd_fd = -1; /* declared before the tb_pe that reads it */
        _cleanup_(tb_pe_freep) tb_pe *nsd = NULL, *osd = NULL;
        _cleanup_(freep) char *sd_name = NULL;
        int r;

        *ret_update = false;
        if (!s->sdboot || !tb_path_exists(sd_path))
                return 0;
        if (asprintf(&sd_name, "%s:EFI/BOOT/BOOTX64.EFI", o->source) < 0)
                return tb_log_oom();
        sd_fd = open(s->sdboot, O_RDONLY | O_CLOEXEC);
        if (sd_fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", s->sdboot);
        r = tb_pe_open_fd(sd_fd, sd_name, &nsd);
        if (r < 0)
                return r;
        int nv = tb_pe_sdmagic_major(nsd, "systemd-boot");
        int ov = tb_pe_open(sd_path, &osd) < 0 ? -1 : tb_pe_sdmagic_major(osd, "systemd-boot");
        if (nv <= ov)
                return 0;
        r = tb_sbdb_check(db, nsd);
        if (r < 0)
                return r;
        tb_info("systemd-boot %d replaces %d", nv, ov);
        *ret_update = true;
        return 0;
}

/* What is installed, what the medium brings, and from that the entries to write and remove:
 * the whole active/passive family, or the one entry NAME. */
static int plan_upgrade(const tb_upgrade_options *o, const tb_bootentry_list *l, const char *name, bool family,
                        tb_upgrade_staged *s, tb_upgrade_plan *p) {
        static char *const main_only[] = { "", NULL };
        _cleanup_(tb_strv_freep) char **installed_ukis = NULL;
        _cleanup_(freep) char **installed_entries = NULL, *uki = NULL;
        int r;

        if (!family) {
                if (!tb_bootentry_list_find(l, name))
                        return REFUSE(-ENOENT, "%s: no entry \"%s\" installed", o->esp, name);
                if (asprintf(&uki, "%s/%s/%s.efi", o->esp, TB_BOOT_EFI_DIR, name) < 0)
                        return tb_log_oom();
                if (!tb_path_exists(uki))
                        return REFUSE(-ENOENT, "%s: no %s entry with /%s/%s.efi: not an installed node", o->esp, name,
                                      TB_BOOT_EFI_DIR, name);
                r = tb_upgrade_stage_open(o->source, o->workdir, o->registry, s);
                return r < 0 ? r : tb_upgrade_stage_ukis(s, main_only);
        }

        r = tb_bootentries_list_ukis(o->esp, &installed_ukis);
        if (r < 0)
                return r;
        installed_entries = calloc(l->n + 1, sizeof(char *));
        if (!installed_entries)
                return tb_log_oom();
        for (size_t i = 0; i < l->n; i++)
                installed_entries[i] = l->e[i].file;
        r = tb_upgrade_stage_open(o->source, o->workdir, o->registry, s);
        if (r < 0)
                return r;
        r = tb_upgrade_plan_make(&(tb_upgrade_plan_input){ .medium = o->source,
                                                           .medium_efi = s->efi_names,
                                                           .medium_conf = s->conf_names,
                                                           .esp = o->esp,
                                                           .installed_efi = installed_ukis,
                                                           .installed_conf = installed_entries },
                                 p);
        return r < 0 ? r : tb_upgrade_stage_ukis(s, p->install);
}

static int remove_dropped(const char *esp, const tb_bootentry_list *l, tb_role role, char *const *suffixes) {
        for (; suffixes && *suffixes; suffixes++) {
                _cleanup_(freep) char *name = role_name(role, *suffixes);
                int r = name ? remove_entry(esp, l, name, NULL) : tb_log_oom();
                if (r < 0)
                        return r;
                tb_info("%s: removed", name);
        }
        return 0;
}

int tb_upgrade_run(const tb_upgrade_options *o, tb_upgrade_result *ret) {
        _cleanup_(tb_upgrade_staged_done) tb_upgrade_staged s = { 0 };
        _cleanup_(tb_sbdb_freep) tb_sbdb *db = NULL;
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        _cleanup_(tb_upgrade_plan_done) tb_upgrade_plan p = { 0 };
        _cleanup_(entry_writes_done) entry_writes ws = { NULL, 0 };
        _cleanup_(tb_atomic_abortp) tb_atomic_file sd_efi = TB_ATOMIC_FILE_INIT, sd_conf = TB_ATOMIC_FILE_INIT;
        _cleanup_(freep) char *bound_uki = NULL, *sd_path = NULL, *loader_path = NULL;
        const char *name = !o->entry || strcmp(o->entry, "cos") == 0 ? tb_role_to_string(TB_ROLE_ACTIVE)
                           : strcmp(o->entry, "fallback") == 0        ? tb_role_to_string(TB_ROLE_PASSIVE)
                                                                      : o->entry;
        /* The active family rotates into passive; any other entry ("recovery", "active_x") is
         * replaced alone, as Kairos' --recovery and --boot-entry do. */
        bool family = strcmp(name, tb_role_to_string(TB_ROLE_ACTIVE)) == 0;
        bool update_sdboot = false;
        uint64_t need = SPACE_MARGIN, sz = 0;
        int r;

        *ret = (tb_upgrade_result){ 0 };
        if (o->entry && !tb_upgrade_entry_name_valid(o->entry))
                return REFUSE(-EINVAL, "%s: not an entry name", o->entry);

        /* 1. What is installed, what the medium brings, staged. */
        r = tb_bootentry_list_load(o->esp, &l);
        if (r < 0)
                return r;
        r = plan_upgrade(o, &l, name, family, &s, &p);
        if (r < 0)
                return r;

        /* 2. Everything the firmware and the TPM will check, before the ESP is touched. */
        if (asprintf(&bound_uki, "%s/%s/%s.efi", o->esp, TB_BOOT_EFI_DIR, tb_role_to_string(TB_ROLE_ACTIVE)) < 0)
                return tb_log_oom();
        if (!tb_path_exists(bound_uki)) {
                free(bound_uki);
                if (asprintf(&bound_uki, "%s/%s/%s.efi", o->esp, TB_BOOT_EFI_DIR, name) < 0)
                        return tb_log_oom();
        }
        r = tb_sbdb_load(o->efivar_dir, &db);
        if (r < 0)
                return r;
        r = check_ukis(o, db, &s, bound_uki);
        if (r < 0)
                return r;
        sd_path = tb_path_join(o->esp, "EFI/BOOT/BOOTX64.EFI");
        loader_path = tb_path_join(o->esp, "loader/loader.conf");
        if (!sd_path || !loader_path)
                return tb_log_oom();
        r = check_sdboot(o, db, &s, sd_path, &update_sdboot);
        if (r < 0)
                return r;

        /* 3. The entries to write, passive ones first, and room for all of them. */
        r = family ? plan_passive_writes(o, &l, &s, &p, &ws, &need) : 0;
        if (r >= 0)
                r = family ? plan_active_writes(o, &s, &ws, &need)
                           : entry_writes_add(&ws, o->esp, name, s.ukis[0].path, &s.ukis[0].conf, &need);
        if (r < 0)
                return r;
        if (update_sdboot && file_size(s.sdboot, &sz) >= 0)
                need += sz + s.loader_conf.len;
        r = check_space(o->esp, need);
        if (r < 0)
                return r;

        /* 4. Every new file under a hidden temporary name, complete and fsynced. */
        remove_stale(o->esp, TB_BOOT_EFI_DIR);
        remove_stale(o->esp, TB_BOOT_ENTRIES_DIR);
        for (size_t i = 0; i < ws.n && r >= 0; i++)
                r = entry_write_prepare(&ws.w[i]);
        if (r >= 0 && update_sdboot) {
                r = tb_atomic_copy(s.sdboot, sd_path, 0644, &sd_efi);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot copy to %s", s.sdboot, sd_path);
                if (s.loader_conf.len > 0)
                        r = atomic_data(loader_path, &s.loader_conf, &sd_conf);
        }
        if (r < 0)
                return r;

        /* 5. Renames: every passive ← old active while the actives still boot, then every active
         * ← new while the passives boot, the main active last. */
        for (size_t i = 0; i < ws.n; i++) {
                if (i == ws.n - 1)
                        fault_point("before-last-rename");
                r = entry_write_commit(o->esp, &l, &ws.w[i]);
                if (r < 0)
                        return r;
        }
        if (update_sdboot) {
                r = commit(&sd_efi);
                if (r >= 0 && s.loader_conf.len > 0)
                        r = commit(&sd_conf);
                if (r < 0)
                        return r;
                ret->sdboot_updated = true;
        }

        /* 6. What the new medium no longer has, now that nothing boots it: active<s> (its passive
         * copy stays the fallback), and passive<s> whose active<s> was already gone. */
        r = remove_dropped(o->esp, &l, TB_ROLE_ACTIVE, p.drop_active);
        if (r >= 0)
                r = remove_dropped(o->esp, &l, TB_ROLE_PASSIVE, p.drop_passive);
        if (r < 0)
                return r;

        ret->entry_file = strdup(ws.w[ws.n - 1].conf_file);
        if (!ret->entry_file)
                return tb_log_oom();
        if (family) {
                r = tb_efivar_write_string(o->efivar_dir, TB_LOADER_ENTRY_ONESHOT, &TB_GUID_LOADER, ret->entry_file);
                if (r < 0)
                        return r;
                ret->oneshot = true;
        }
        return 0;
}
