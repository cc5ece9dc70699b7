/* upgrade.c — A/B upgrade of an installed ESP (see upgrade.h). */
#include "node/upgrade.h"
#include "pe/sdmagic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/reboot.h>
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
#include "sb/sbexpiry.h"
#include "util/strset.h"
#include "medium/uki.h"
#include "node/upgrade-pcrkey.h"
#include "node/upgrade-plan.h"
#include "node/upgrade-stage.h"
#include "node/upgrade-steps.h"
#include "measure/mhash.h"
#include "util/codec.h"
#include "util/exec.h"
#include "util/testhook.h"

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

/* The staged UKIs with the policy of each one's own PCR 11, predicted once; how many volume
 * checks met a signed-policy binding. */
typedef struct uki_checks {
        const tb_upgrade_staged *s;
        uint8_t (*pol)[32];
        size_t n_bound;
} uki_checks;

static int luks_volume_cb(const char *device, const char *name, void *userdata) {
        uki_checks *c = userdata;

        (void)name;
        for (size_t i = 0; i < c->s->n_ukis; i++) {
                int r = tb_upgrade_pcrkey_check_luks(device, c->s->ukis[i].pe, c->pol[i]);
                if (r < 0)
                        return r;
                c->n_bound += (size_t)r;
        }
        return 0;
}

/* Every new UKI: the firmware would start it, and it unlocks the disks. The volumes' tokens say
 * which PCR keys unlock them (two during a PCR key rotation, issue 18); the PCR key of BOUND_UKI
 * (the installed one) decides only where no volume with a signed policy is found. */
static int check_ukis(const tb_upgrade_options *o, const tb_sbdb *db, const tb_upgrade_staged *s, const char *bound_uki) {
        _cleanup_(freep) uint8_t (*pol)[32] = calloc(s->n_ukis + 1, 32);
        uki_checks c = { .s = s, .pol = pol };
        int r;

        if (!pol)
                return tb_log_oom();
        for (size_t i = 0; i < s->n_ukis; i++) {
                r = tb_sbdb_check(db, s->ukis[i].pe);
                if (r < 0)
                        return r;
                r = tb_upgrade_pcrkey_expect(s->ukis[i].pe, pol[i]);
                if (r < 0)
                        return r;
        }
        for (size_t j = 0; j < o->n_luks_devices; j++) {
                r = luks_volume_cb(o->luks_devices[j], NULL, &c);
                if (r < 0)
                        return r;
        }
        /* One scan for all of them: it opens every block device. */
        if (o->luks_scan) {
                r = tb_luks_foreach_tpm2_volume(luks_volume_cb, &c);
                if (r < 0)
                        return r;
        }
        if (c.n_bound > 0)
                return 0;
        for (size_t i = 0; i < s->n_ukis; i++) {
                r = tb_upgrade_pcrkey_check_installed(bound_uki, s->ukis[i].pe, pol[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- space ---- */

static int esp_free(const char *esp, uint64_t *ret_avail, uint64_t *ret_cluster) {
        struct statvfs sv;

        if (statvfs(esp, &sv) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot get the free space", esp);
        *ret_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
        *ret_cluster = sv.f_frsize ? sv.f_frsize : 512;
        (void)tb_testhook_free_space(ret_avail);
        return 0;
}

/* What the ESP holds in all: no staged file may be larger. */
static int esp_size(const char *esp, uint64_t *ret) {
        struct statvfs sv;

        if (statvfs(esp, &sv) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot get the file system's size", esp);
        *ret = (uint64_t)sv.f_blocks * sv.f_frsize;
        (void)tb_testhook_fs_size(ret);
        return 0;
}

/* ---- the ESP as an entry names it ---- */

/* ESP + an entry's efi key ("/EFI/trustboot/x.efi", or with '\'). */
static char *esp_path(const char *esp, const char *efi) {
        _cleanup_(freep) char *rel = efi ? strdup(efi + strspn(efi, "/\\")) : NULL;

        if (!rel)
                return NULL;
        for (char *c = rel; *c; c++)
                if (*c == '\\')
                        *c = '/';
        return tb_path_join(esp, rel);
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

/* Temporary files left by an upgrade of an older trustboot that was killed: hidden, so
 * systemd-boot never saw them. */
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

/* What the steps need to know about the ESP: every entry with the UKI it names, and every UKI
 * in EFI/trustboot with what it occupies. */
typedef struct esp_state {
        tb_upgrade_installed_entry *entries;
        size_t n_entries;
        char **complete;                  /* entry ids whose UKI is there (NULL-terminated) */
        tb_upgrade_installed_uki *ukis;
        char **uki_keys;                  /* the efi keys of ukis[] (owned) */
        size_t n_ukis;
} esp_state;

static void esp_state_done(esp_state *st) {
        free(st->entries);
        free(st->complete);
        free(st->ukis);
        tb_strv_free(st->uki_keys);
}

static int esp_state_load(const char *esp, const tb_bootentry_list *l, esp_state *st) {
        _cleanup_(tb_strv_freep) char **names = NULL;
        size_t n_complete = 0, n_keys = 0;
        int r;

        st->entries = calloc(l->n + 1, sizeof(*st->entries));
        st->complete = calloc(l->n + 1, sizeof(char *));
        if (!st->entries || !st->complete)
                return tb_log_oom();
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_(freep) char *path = l->e[i].efi ? esp_path(esp, l->e[i].efi) : NULL;
                st->entries[st->n_entries++] = (tb_upgrade_installed_entry){ .file = l->e[i].file,
                                                                             .base = l->e[i].base,
                                                                             .efi = l->e[i].efi };
                if (path && tb_path_exists(path))
                        st->complete[n_complete++] = l->e[i].file;
        }
        r = tb_bootentries_list_ukis(esp, &names);
        if (r < 0)
                return tb_log_errno(r, "%s/%s: cannot list", esp, TB_BOOT_EFI_DIR);
        for (char **n = names; n && *n; n++)
                n_keys++;
        st->ukis = calloc(n_keys + 1, sizeof(*st->ukis));
        if (!st->ukis)
                return tb_log_oom();
        for (char **n = names; n && *n; n++) {
                _cleanup_(freep) char *key = NULL, *path = NULL;
                struct stat sb;
                if (asprintf(&key, "/%s/%s", TB_BOOT_EFI_DIR, *n) < 0 || !(path = esp_path(esp, key)))
                        return tb_log_oom();
                if (stat(path, &sb) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot stat", path);
                r = tb_strv_push(&st->uki_keys, &st->n_ukis, key);
                if (r < 0)
                        return r;
                st->ukis[st->n_ukis - 1] = (tb_upgrade_installed_uki){ .bytes = (uint64_t)sb.st_blocks * 512 };
        }
        for (size_t i = 0; i < st->n_ukis; i++)
                st->ukis[i].efi = st->uki_keys[i];
        return 0;
}

/* The name a new UKI gets on the ESP: derived from its bytes, so that no entry can name it
 * before it is complete, an interrupted run finds it again, and the same UKI is stored once. */
static int new_uki_key(const tb_upgrade_staged_uki *u, char **ret) {
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        _cleanup_(closep) int fd = open(u->path, O_RDONLY | O_CLOEXEC);
        tb_digests d;
        char hex[65];
        int r;

        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", u->path);
        r = tb_mhash_new(TB_BANK_BIT(TB_BANK_SHA256), &h);
        if (r >= 0)
                r = tb_mhash_update_fd(h, fd);
        if (r >= 0)
                r = tb_mhash_final(h, &d, NULL);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot hash", u->path);
        tb_hex_encode(d.d[TB_BANK_SHA256], 32, hex);
        return asprintf(ret, "/%s/uki-%.16s.efi", TB_BOOT_EFI_DIR, hex) < 0 ? -ENOMEM : 0;
}

/* ---- carrying the steps out ---- */

static int sync_dir_of(const char *path) {
        int r = tb_fsync_parent(path);

        return r < 0 ? tb_log_errno(r, "%s: cannot sync its directory", path) : 0;
}

static int remove_file(const char *path) {
        if (unlink(path) < 0 && errno != ENOENT)
                return tb_log_errno(negative_errno(), "%s: cannot remove", path);
        return sync_dir_of(path);
}

/* A new file under its final name, which nothing names yet: created exclusively, complete and
 * synced with its directory before the step ends; a partial file of a failed write is removed. */
static int write_new(const char *path, int src_fd, const tb_buf *data) {
        _cleanup_(closep) int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        int r;

        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", path);
        if (src_fd >= 0) {
                tb_progress progress;
                tb_progress_begin(&progress, path);
                r = lseek(src_fd, 0, SEEK_SET) < 0 ? negative_errno() : tb_copy_fd(src_fd, fd, &progress);
                tb_progress_end(&progress);
        } else
                r = data ? tb_write_all(fd, data->data, data->len) : -EINVAL;
        /* A power loss here may keep any part of the unsynced file: a UKI nothing names yet, or an
         * entry under a name no other entry has. */
        tb_testhook_step("unsynced");
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0) {
                tb_log_errno(r, "%s: cannot write", path);
                (void)unlink(path);
                return r;
        }
        return sync_dir_of(path);
}

/* The text of every entry the steps write, made before the first step changes anything. */
static int entry_texts(const char *esp, const tb_upgrade_staged *s, const tb_upgrade_steps *steps, tb_buf *texts) {
        for (size_t i = 0; i < steps->n; i++) {
                const tb_upgrade_step *st = &steps->s[i];
                _cleanup_(tb_buf_freep) tb_buf src = TB_BUF_INIT;
                const tb_buf *conf = &src;
                int r;

                if (st->kind != TB_UPGRADE_WRITE_ENTRY)
                        continue;
                if (st->from) {
                        _cleanup_(freep) char *path = NULL;
                        if (asprintf(&path, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, st->from) < 0)
                                return tb_log_oom();
                        r = tb_read_file(path, CONF_MAX, &src);
                        if (r < 0)
                                return tb_log_errno(r, "%s: cannot read", path);
                } else {
                        conf = tb_upgrade_staged_conf(s, st->suffix);
                        if (!conf)
                                return -ENOENT;
                }
                r = tb_bootentries_conf_for((const char *)conf->data, conf->len, st->name, st->efi, &texts[i]);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot write an entry from it", st->from ? st->from : "norole.conf");
        }
        return 0;
}

static int step_run(const char *esp, const tb_upgrade_staged *s, const tb_upgrade_step *st, const tb_buf *text) {
        _cleanup_(freep) char *path = NULL, *what = NULL;
        const tb_upgrade_staged_uki *u;

        if (st->kind == TB_UPGRADE_REMOVE_ENTRY || st->kind == TB_UPGRADE_WRITE_ENTRY) {
                if (asprintf(&path, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, st->file) < 0)
                        return tb_log_oom();
        } else if (!(path = esp_path(esp, st->efi)))
                return tb_log_oom();
        if (asprintf(&what, "%s %s", st->kind == TB_UPGRADE_REMOVE_ENTRY ? "remove-entry"
                                     : st->kind == TB_UPGRADE_REMOVE_UKI ? "remove-uki"
                                     : st->kind == TB_UPGRADE_WRITE_UKI  ? "write-uki"
                                                                         : "write-entry",
                     st->file ? st->file : st->efi) < 0)
                return tb_log_oom();
        tb_testhook_step(what);
        switch (st->kind) {
        case TB_UPGRADE_REMOVE_ENTRY:
        case TB_UPGRADE_REMOVE_UKI:
                return remove_file(path);
        case TB_UPGRADE_WRITE_UKI:
                u = tb_upgrade_staged_find(s, st->suffix);
                return u ? write_new(path, u->fd, NULL) : -ENOENT;
        case TB_UPGRADE_WRITE_ENTRY:
                return write_new(path, -1, text);
        }
        return -EINVAL;
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
        /* Same version: replaced when it differs, re-signed after a db key rotation — the old
         * signature may be revoked in dbx next (issue 18); never by an older one. */
        if (nv < ov || (nv == ov && files_equal(s->sdboot, sd_path) != 0))
                return 0;
        r = tb_sbdb_check(db, nsd);
        if (r < 0)
                return r;
        tb_info("systemd-boot %d replaces %d%s", nv, ov, nv == ov ? " (signed differently)" : "");
        *ret_update = true;
        return 0;
}

/* What is installed, what the medium brings, and from that the entries to write and remove:
 * the whole active/passive family, or the one entry NAME. */
static int plan_upgrade(const tb_upgrade_options *o, const tb_bootentry_list *l, const esp_state *st, const char *name,
                        bool family, tb_upgrade_staged *s, tb_upgrade_plan *p) {
        static char *const main_only[] = { "", NULL };
        _cleanup_(freep) char **installed_entries = NULL;
        size_t n_profiles = 0;
        int r;

        if (!family) {
                const tb_bootentry *e = tb_bootentry_list_find(l, name);
                _cleanup_(freep) char *uki = e && e->efi ? esp_path(o->esp, e->efi) : NULL;
                if (!e)
                        return REFUSE(-ENOENT, "%s: no entry \"%s\" installed", o->esp, name);
                if (!uki || !tb_path_exists(uki))
                        return REFUSE(-ENOENT, "%s: %s names no UKI on the ESP: not an installed node", o->esp, e->file);
                r = tb_upgrade_stage_open(o->source, o->workdir, o->registry, s);
                if (r >= 0)
                        r = tb_upgrade_stage_ukis(s, main_only);
                /* The profile entries of norole.efi (a --cmd-lines-v2 medium) go with it. */
                for (char **c = s->conf_names; r >= 0 && c && *c; c++) {
                        _cleanup_(freep) char *base = NULL;
                        const char *sfx;

                        if (tb_loader_entry_parse_name(*c, &base, NULL, NULL) < 0 ||
                            strncmp(base, TB_BOOT_NOROLE, strlen(TB_BOOT_NOROLE)) != 0)
                                continue;
                        sfx = base + strlen(TB_BOOT_NOROLE);
                        if (tb_upgrade_profile_of(sfx, "") && tb_strv_push(&p->profiles, &n_profiles, sfx) < 0)
                                r = tb_log_oom();
                }
                return r < 0 ? r : tb_upgrade_stage_confs(s, p->profiles);
        }

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
                                                           .installed_conf = installed_entries,
                                                           .installed_complete = st->complete },
                                 p);
        if (r >= 0)
                r = tb_upgrade_stage_ukis(s, p->install);
        return r < 0 ? r : tb_upgrade_stage_confs(s, p->profiles);
}

/* The UKI the disks are bound to today: the main active entry's, else (an interrupted
 * upgrade) the passive one's, else the entry NAME's. */
static char *bound_uki(const char *esp, const tb_bootentry_list *l, const char *name) {
        const char *order[] = { tb_role_to_string(TB_ROLE_ACTIVE), tb_role_to_string(TB_ROLE_PASSIVE), name };

        for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
                const tb_bootentry *e = tb_bootentry_list_find(l, order[i]);
                _cleanup_(freep) char *path = e && e->efi ? esp_path(esp, e->efi) : NULL;
                if (path && tb_path_exists(path))
                        return TAKE_PTR(path);
        }
        return NULL;
}

typedef struct new_ukis {
        tb_upgrade_new_uki *n;
        char **keys;
        size_t n_keys;
} new_ukis;

static void new_ukis_done(new_ukis *nu) {
        free(nu->n);
        tb_strv_free(nu->keys);
}

/* Every staged UKI with its fresh name, and whether an earlier run already put it there. */
static int name_new_ukis(const char *esp, const tb_upgrade_staged *s, new_ukis *nu) {
        nu->n = calloc(s->n_ukis + 1, sizeof(*nu->n));
        if (!nu->n)
                return tb_log_oom();
        for (size_t i = 0; i < s->n_ukis; i++) {
                _cleanup_(freep) char *key = NULL, *path = NULL;
                struct stat sb;
                int r = new_uki_key(&s->ukis[i], &key);
                if (r < 0)
                        return r;
                if (!(path = esp_path(esp, key)) || tb_strv_push(&nu->keys, &nu->n_keys, key) < 0)
                        return tb_log_oom();
                if (stat(s->ukis[i].path, &sb) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot stat", s->ukis[i].path);
                nu->n[i] = (tb_upgrade_new_uki){ .suffix = s->ukis[i].suffix,
                                                 .bytes = (uint64_t)sb.st_size,
                                                 .present = tb_path_exists(path) && files_equal(path, s->ukis[i].path) > 0 };
        }
        for (size_t i = 0; i < s->n_ukis; i++)
                nu->n[i].efi = nu->keys[i];
        return 0;
}

/* What one written entry takes at most: the medium's longest plus new title, sort key and efi
 * lines, and never less than an installed entry rewritten for passive takes in practice. */
static size_t conf_bytes(const tb_upgrade_staged *s) {
        size_t m = 0;

        for (size_t i = 0; i < s->n_ukis; i++)
                m = MAX(m, s->ukis[i].conf.len);
        return MAX(m + 1024, (size_t)4096);
}

int tb_upgrade_run(const tb_upgrade_options *o, tb_upgrade_result *ret) {
        _cleanup_(tb_upgrade_staged_done) tb_upgrade_staged s = { .max_image_size = o->max_image_size };
        _cleanup_(tb_sbdb_freep) tb_sbdb *db = NULL;
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        _cleanup_(tb_upgrade_plan_done) tb_upgrade_plan p = { 0 };
        _cleanup_(tb_upgrade_steps_done) tb_upgrade_steps steps = { 0 };
        _cleanup_(esp_state_done) esp_state st = { 0 };
        _cleanup_(new_ukis_done) new_ukis nu = { 0 };
        _cleanup_(tb_atomic_abortp) tb_atomic_file sd_efi = TB_ATOMIC_FILE_INIT, sd_conf = TB_ATOMIC_FILE_INIT;
        _cleanup_(freep) char *bound = NULL, *sd_path = NULL, *loader_path = NULL;
        _cleanup_(freep) tb_buf *texts = NULL;
        const char *name = !o->entry || strcmp(o->entry, "cos") == 0 ? tb_role_to_string(TB_ROLE_ACTIVE)
                           : strcmp(o->entry, "fallback") == 0        ? tb_role_to_string(TB_ROLE_PASSIVE)
                                                                      : o->entry;
        /* The active family rotates into passive; any other entry ("recovery", "active_x") is
         * replaced alone, as Kairos' --recovery and --boot-entry do. */
        bool family = strcmp(name, tb_role_to_string(TB_ROLE_ACTIVE)) == 0;
        bool update_sdboot = false;
        uint64_t avail = 0, cluster = 512, sd_bytes = 0, need;
        int r;

        *ret = (tb_upgrade_result){ 0 };
        if (o->entry && !tb_upgrade_entry_name_valid(o->entry))
                return REFUSE(-EINVAL, "%s: not an entry name", o->entry);

        /* 1. What is installed, what the medium brings, staged. */
        r = tb_bootentry_list_load(o->esp, &l);
        if (r >= 0)
                r = esp_state_load(o->esp, &l, &st);
        if (r >= 0)
                r = esp_size(o->esp, &s.limit);
        if (r >= 0)
                r = plan_upgrade(o, &l, &st, name, family, &s, &p);
        if (r < 0)
                return r;

        /* 2. Everything the firmware and the TPM will check, before the ESP is touched. */
        bound = bound_uki(o->esp, &l, name);
        if (!bound)
                return REFUSE(-ENOENT, "%s: no installed UKI to take the PCR key from: not an installed node", o->esp);
        r = tb_sbdb_load(o->efivar_dir, &db);
        if (r < 0)
                return r;
        r = check_ukis(o, db, &s, bound);
        if (r < 0)
                return r;
        sd_path = tb_path_join(o->esp, "EFI/BOOT/BOOTX64.EFI");
        loader_path = tb_path_join(o->esp, "loader/loader.conf");
        if (!sd_path || !loader_path)
                return tb_log_oom();
        r = check_sdboot(o, db, &s, sd_path, &update_sdboot);
        if (r < 0)
                return r;

        /* 3. The steps, in the order that keeps a complete entry bootable, and room for their peak. */
        r = name_new_ukis(o->esp, &s, &nu);
        if (r < 0)
                return r;
        r = esp_free(o->esp, &avail, &cluster);
        if (r < 0)
                return r;
        r = tb_upgrade_steps_make(&(tb_upgrade_steps_input){ .plan = family ? &p : NULL,
                                                             .name = name,
                                                             .profiles = p.profiles,
                                                             .entries = st.entries,
                                                             .n_entries = st.n_entries,
                                                             .ukis = st.ukis,
                                                             .n_ukis = st.n_ukis,
                                                             .news = nu.n,
                                                             .n_news = s.n_ukis,
                                                             .entry_bytes = conf_bytes(&s),
                                                             .cluster = cluster },
                                  &steps);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot plan the upgrade", o->esp);
        if (update_sdboot && tb_path_exists(s.sdboot)) {
                struct stat sb;
                if (stat(s.sdboot, &sb) == 0)
                        sd_bytes = (uint64_t)sb.st_size + s.loader_conf.len + 2 * cluster;
        }
        need = steps.peak + sd_bytes + SPACE_MARGIN;
        if (avail < need)
                return REFUSE(-ENOSPC,
                              "%s: %llu bytes free, the upgrade needs %llu at its peak (%llu written in all, %llu "
                              "of it in room freed first by removing the old fallback, plus a margin of %llu)",
                              o->esp, (unsigned long long)avail, (unsigned long long)need,
                              (unsigned long long)(steps.written + sd_bytes), (unsigned long long)steps.credited,
                              (unsigned long long)SPACE_MARGIN);
        texts = calloc(steps.n + 1, sizeof(*texts));
        if (!texts)
                return tb_log_oom();
        for (size_t i = 0; i < steps.n; i++)
                texts[i] = (tb_buf)TB_BUF_INIT;
        r = entry_texts(o->esp, &s, &steps, texts);
        if (r >= 0 && update_sdboot) {
                /* systemd-boot keeps its path: written beside it, renamed over it (as bootctl
                 * update does), after the entries, each of which it can boot. */
                r = tb_atomic_copy(s.sdboot, sd_path, 0644, &sd_efi);
                if (r < 0)
                        tb_log_errno(r, "%s: cannot copy to %s", s.sdboot, sd_path);
                else if (s.loader_conf.len > 0) {
                        r = tb_atomic_open(loader_path, 0644, &sd_conf);
                        if (r >= 0)
                                r = tb_write_all(sd_conf.fd, s.loader_conf.data, s.loader_conf.len);
                        if (r >= 0 && fsync(sd_conf.fd) < 0)
                                r = negative_errno();
                        if (r < 0)
                                tb_log_errno(r, "%s: cannot write", loader_path);
                }
        }
        if (r < 0) {
                for (size_t i = 0; i < steps.n; i++)
                        tb_buf_free(&texts[i]);
                return r;
        }

        /* Warnings only (firmware ignores certificate times), once every check passed (a refusal
         * stays one line): the keys in use, with the date. */
        for (size_t i = 0; i < s.n_ukis; i++)
                (void)tb_sb_warn_image_expiry(s.ukis[i].pe);
        (void)tb_sb_warn_enrolled_expiry(o->efivar_dir);

        /* 4. The steps. */
        remove_stale(o->esp, TB_BOOT_EFI_DIR);
        remove_stale(o->esp, TB_BOOT_ENTRIES_DIR);
        for (size_t i = 0; i < steps.n && r >= 0; i++)
                r = step_run(o->esp, &s, &steps.s[i], &texts[i]);
        for (size_t i = 0; i < steps.n; i++)
                tb_buf_free(&texts[i]);
        if (r < 0)
                return r;
        if (update_sdboot) {
                tb_testhook_step("replace-sdboot");
                r = tb_atomic_commit(&sd_efi);
                if (r >= 0 && s.loader_conf.len > 0)
                        r = tb_atomic_commit(&sd_conf);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot replace", sd_path);
                ret->sdboot_updated = true;
        }

        /* 5. The next boot: the new entry, once; counted, so a failing UKI falls back. */
        for (size_t i = steps.n; i > 0; i--)
                if (steps.s[i - 1].kind == TB_UPGRADE_WRITE_ENTRY && strcmp(steps.s[i - 1].name, name) == 0) {
                        ret->entry_file = strdup(steps.s[i - 1].file);
                        if (!ret->entry_file)
                                return tb_log_oom();
                        break;
                }
        if (!ret->entry_file) {
                /* Nothing to write: an earlier run installed this medium already. */
                const tb_bootentry *e = tb_bootentry_list_find(&l, name);
                if (!e || !(ret->entry_file = strdup(e->file)))
                        return tb_log_oom();
                tb_info("%s: %s already boots this medium's UKI", o->esp, e->file);
        }
        if (family) {
                tb_testhook_step("set-oneshot");
                /* The id the running systemd-boot gives the entry (node/bootentry.h), not always its name. */
                r = tb_bootentry_select_next(o->efivar_dir, o->esp, ret->entry_file, NULL);
                if (r < 0)
                        return r;
                ret->oneshot = true;
        }
        return 0;
}

void tb_upgrade_print_result(const tb_upgrade_result *r, FILE *out) {
        fprintf(out, "%s%s\n", r->entry_file, r->oneshot ? " (next boot)" : "");
        if (r->sdboot_updated)
                tb_info("systemd-boot and loader.conf updated");
}

/* Under systemd the service manager stops everything in order; without it (a minimal init, an
 * initrd shell) there is nobody to ask, so the file systems are synced and the kernel reboots. */
static int reboot_now(void) {
        if (access("/run/systemd/system", F_OK) == 0) {
                const char *const argv_reboot[] = { "systemctl", "reboot", NULL };
                return tb_exec_checked(argv_reboot, NULL);
        }
        tb_info("no systemd: syncing and rebooting now");
        sync();
        if (reboot(RB_AUTOBOOT) < 0)
                return tb_log_errno(negative_errno(), "cannot reboot");
        return 0;
}

int tb_upgrade_command(const tb_upgrade_options *o, bool reboot, FILE *out) {
        _cleanup_(tb_upgrade_result_done) tb_upgrade_result res = {};
        int r;

        r = tb_upgrade_run(o, &res);
        if (r < 0)
                return r;
        tb_upgrade_print_result(&res, out);
        return reboot ? reboot_now() : 0;
}
