/* upgrade-stage.c — the new medium, staged (see upgrade-stage.h). */
#include "node/upgrade-stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "node/bootentries.h"
#include "util/fileio.h"
#include "medium/isoread.h"
#include "util/log.h"
#include "util/strset.h"

#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))
#define CONF_MAX ((size_t)64 << 10)

void tb_upgrade_staged_done(tb_upgrade_staged *s) {
        for (size_t i = 0; i < s->n_ukis; i++) {
                tb_pe_free(s->ukis[i].pe);
                if (s->ukis[i].fd >= 0)
                        close(s->ukis[i].fd);
                free(s->ukis[i].suffix);
                free(s->ukis[i].path);
                tb_buf_free(&s->ukis[i].conf);
        }
        free(s->ukis);
        for (size_t i = 0; i < s->n_confs; i++)
                tb_buf_free(&s->confs[i]);
        free(s->confs);
        tb_strv_free(s->conf_suffixes);
        tb_rootfs_free(s->fs);
        tb_strv_free(s->efi_names);
        tb_strv_free(s->conf_names);
        if (s->dir)
                tb_rm_rf(s->dir);
        free(s->dir);
        free(s->sdboot);
        tb_buf_free(&s->loader_conf);
}

static int stage_file(tb_upgrade_staged *s, const char *path, const char *dst, tb_buf *text) {
        tb_rootfs *fs = s->fs;
        const char *source = s->source;
        _cleanup_(closep) int in = -1, out = -1;
        int r;

        r = tb_rootfs_open_file(fs, path, &in);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return tb_log_errno(r, "%s: %s: cannot open", source, path);
        if (text) {
                struct stat st;
                if (fstat(in, &st) < 0)
                        return negative_errno();
                if ((size_t)st.st_size > CONF_MAX)
                        return REFUSE(-EFBIG, "%s: %s: larger than %zu bytes", source, path, CONF_MAX);
                r = tb_buf_reserve(text, (size_t)st.st_size);
                if (r >= 0)
                        r = tb_read_full(in, text->data, (size_t)st.st_size);
                if (r < 0)
                        return tb_log_errno(r, "%s: %s: cannot read", source, path);
                text->len = (size_t)st.st_size;
                return 0;
        }
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", dst);
        /* A UKI is hundreds of MiB, and the source may be a slow stick or a network mount. */
        tb_progress progress;
        tb_progress_begin(&progress, path);
        r = tb_copy_fd_limited(in, out, &progress, &s->staged, s->limit);
        tb_progress_end(&progress);
        if (r == -EFBIG) {
                (void)unlink(dst);
                return REFUSE(r, "%s: %s: more than the %llu bytes the ESP or the staging directory %s can take: "
                              "not staged", source, path, (unsigned long long)s->limit, s->dir);
        }
        if (r < 0)
                return tb_log_errno(r, "%s: %s: cannot copy to %s", source, path, dst);
        return 0;
}

static bool is_iso(const char *path) {
        char magic[5];
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);

        return fd >= 0 && tb_pread_full(fd, magic, 5, 0x8001) >= 0 && memcmp(magic, "CD001", 5) == 0;
}

/* Collects the medium's EFI/trustboot/norole* and loader/entries/norole* names; nothing else
 * of the tree is visited. */
static int list_norole(const tb_rootfs_entry *e, void *userdata) {
        tb_upgrade_staged *s = userdata;
        size_t dl = strlen(e->path) - strlen(e->name);

        if (S_ISDIR(e->st.st_mode))
                return strcmp(e->path, "EFI") == 0 || strcmp(e->path, "loader") == 0 ||
                                       strcmp(e->path, TB_BOOT_EFI_DIR) == 0 || strcmp(e->path, TB_BOOT_ENTRIES_DIR) == 0
                               ? 0
                               : TB_ROOTFS_SKIP;
        if (e->depth != 3 || strncmp(e->name, TB_BOOT_NOROLE, strlen(TB_BOOT_NOROLE)) != 0)
                return 0;
        if (s->n_efi_names + s->n_conf_names >= TB_UPGRADE_STAGE_MAX_NAMES)
                return REFUSE(-E2BIG, "%s: more than %d %s* files: not a medium", s->source, TB_UPGRADE_STAGE_MAX_NAMES,
                              TB_BOOT_NOROLE);
        if (dl == strlen(TB_BOOT_EFI_DIR) + 1 && strncmp(e->path, TB_BOOT_EFI_DIR "/", dl) == 0)
                return tb_strv_push(&s->efi_names, &s->n_efi_names, e->name);
        if (dl == strlen(TB_BOOT_ENTRIES_DIR) + 1 && strncmp(e->path, TB_BOOT_ENTRIES_DIR "/", dl) == 0)
                return tb_strv_push(&s->conf_names, &s->n_conf_names, e->name);
        return 0;
}

/* Opens the source (an ISO's ESP image extracted first) and lists its norole* files. */
int tb_upgrade_stage_open(const char *source, const char *workdir, const tb_registry_options *registry,
                          tb_upgrade_staged *s) {
        _cleanup_(freep) char *dir_source = NULL;
        tb_rootfs_options ro = { .workdir = workdir, .registry = registry, /* registry: oci:REF, docker://REF, REF */
                                 .max_image_size = s->max_image_size };
        int r;

        s->source = source;
        r = tb_workdir_create(workdir, "trustboot-upgrade", &s->dir);
        if (r < 0)
                return r;

        /* Never more than the staging file system has free, less a reserve for everything else. */
        struct statvfs sv;
        if (statvfs(s->dir, &sv) == 0) {
                uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize, reserve = (uint64_t)64 << 20;
                avail = avail > reserve ? avail - reserve : 0;
                if (!s->limit || avail < s->limit)
                        s->limit = avail;
        }

        /* An installable ISO: its ESP is the El Torito image /efiboot.img. */
        if (!strchr(source, ':') && is_iso(source)) {
                _cleanup_(freep) char *img = tb_path_join(s->dir, "efiboot.img"), *tree = tb_path_join(s->dir, "esp");
                if (!img || !tree)
                        return tb_log_oom();
                r = tb_isoread_extract(source, "/efiboot.img", img);
                if (r < 0)
                        return r;
                r = tb_isoread_fat_extract(img, tree);
                if (r < 0)
                        return r;
                if (asprintf(&dir_source, "dir:%s", tree) < 0)
                        return tb_log_oom();
                source = dir_source;
        }

        r = tb_rootfs_open(source, &ro, &s->fs);
        if (r < 0)
                return r;
        return tb_rootfs_walk(s->fs, list_norole, s);
}

/* Copies norole<suffix>.efi and reads its entry for every suffix in SUFFIXES, then systemd-boot
 * and loader.conf. */
int tb_upgrade_stage_ukis(tb_upgrade_staged *s, char *const *suffixes) {
        int r;

        for (; *suffixes; suffixes++) {
                _cleanup_(freep) char *efi = NULL, *conf = NULL, *pe_name = NULL;
                tb_upgrade_staged_uki *grown = realloc(s->ukis, (s->n_ukis + 1) * sizeof(*grown)), *u;

                if (!grown)
                        return tb_log_oom();
                s->ukis = grown;
                u = &s->ukis[s->n_ukis++];
                *u = (tb_upgrade_staged_uki){ .fd = -1, .conf = TB_BUF_INIT };
                if (!(u->suffix = strdup(*suffixes)) ||
                    asprintf(&efi, "%s/%s%s.efi", TB_BOOT_EFI_DIR, TB_BOOT_NOROLE, *suffixes) < 0 ||
                    asprintf(&conf, "%s/%s%s.conf", TB_BOOT_ENTRIES_DIR, TB_BOOT_NOROLE, *suffixes) < 0 ||
                    asprintf(&u->path, "%s/%s%s.efi", s->dir, TB_BOOT_NOROLE, *suffixes) < 0 ||
                    asprintf(&pe_name, "%s:%s", s->source, efi) < 0)
                        return tb_log_oom();
                r = stage_file(s, efi, u->path, NULL);
                if (r >= 0)
                        r = stage_file(s, conf, NULL, &u->conf);
                if (r == -ENOENT)
                        return REFUSE(r, "%s: no %s or %s: not a trustboot medium", s->source, efi, conf);
                if (r < 0)
                        return r;
                u->fd = open(u->path, O_RDONLY | O_CLOEXEC);
                if (u->fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open", u->path);
                r = tb_pe_open_fd(u->fd, pe_name, &u->pe);
                if (r < 0)
                        return r;
        }

        s->sdboot = tb_path_join(s->dir, "sdboot.efi");
        if (!s->sdboot)
                return tb_log_oom();
        r = stage_file(s, "EFI/BOOT/BOOTX64.EFI", s->sdboot, NULL);
        if (r == -ENOENT) {
                free(s->sdboot);
                s->sdboot = NULL;
        } else if (r < 0)
                return r;
        r = stage_file(s, "loader/loader.conf", NULL, &s->loader_conf);
        if (r < 0 && r != -ENOENT)
                return r;
        return 0;
}

int tb_upgrade_stage_confs(tb_upgrade_staged *s, char *const *suffixes) {
        for (; suffixes && *suffixes; suffixes++) {
                _cleanup_(freep) char *conf = NULL;
                size_t n = s->n_confs;
                tb_buf *grown = realloc(s->confs, (n + 1) * sizeof(*grown)), *text;
                int r;

                if (!grown)
                        return tb_log_oom();
                s->confs = grown;
                text = &grown[n];
                *text = (tb_buf)TB_BUF_INIT;
                /* conf_suffixes and confs grow together: the push counts n up to n + 1. */
                if (asprintf(&conf, "%s/%s%s.conf", TB_BOOT_ENTRIES_DIR, TB_BOOT_NOROLE, *suffixes) < 0 ||
                    tb_strv_push(&s->conf_suffixes, &n, *suffixes) < 0)
                        return tb_log_oom();
                s->n_confs = n;
                r = stage_file(s, conf, NULL, text);
                if (r == -ENOENT)
                        return REFUSE(r, "%s: no %s: not a trustboot medium", s->source, conf);
                if (r < 0)
                        return r;
        }
        return 0;
}

const tb_buf *tb_upgrade_staged_conf(const tb_upgrade_staged *s, const char *suffix) {
        const tb_upgrade_staged_uki *u = tb_upgrade_staged_find(s, suffix);

        if (u)
                return &u->conf;
        for (size_t i = 0; i < s->n_confs; i++)
                if (strcmp(s->conf_suffixes[i], suffix) == 0)
                        return &s->confs[i];
        return NULL;
}

const tb_upgrade_staged_uki *tb_upgrade_staged_find(const tb_upgrade_staged *s, const char *suffix) {
        for (size_t i = 0; i < s->n_ukis; i++)
                if (strcmp(s->ukis[i].suffix, suffix) == 0)
                        return &s->ukis[i];
        return NULL;
}
