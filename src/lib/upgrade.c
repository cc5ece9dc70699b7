/* upgrade.c — A/B upgrade of an installed ESP (see upgrade.h). */
#include "upgrade.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bootentries.h"
#include "bootentry.h"
#include "codec.h"
#include "efivar.h"
#include "fileio.h"
#include "isoread.h"
#include "json.h"
#include "log.h"
#include "luks.h"
#include "mhash.h"
#include "ossl.h"
#include "pcr.h"
#include "pe.h"
#include "rootfs.h"
#include "sbdb.h"
#include "uki.h"

#define REFUSE(r, ...) (tb_err(__VA_ARGS__), (r))
#define CONF_MAX ((size_t)64 << 10)
/* FAT allocates in clusters and the directory entries take room too: keep a margin. */
#define SPACE_MARGIN ((uint64_t)256 << 10)

void tb_upgrade_result_done(tb_upgrade_result *r) {
        free(r->entry_file);
        r->entry_file = NULL;
}

/* ---- the source, staged outside the ESP so that what is checked is what is installed ---- */

typedef struct staged {
        char *dir;
        char *uki;      /* DIR/new.efi */
        tb_buf conf;    /* loader/entries/norole.conf */
        char *sdboot;   /* DIR/sdboot.efi, or NULL */
        tb_buf loader_conf;
} staged;

static void staged_done(staged *s) {
        if (s->dir)
                tb_rm_rf(s->dir);
        free(s->dir);
        free(s->uki);
        free(s->sdboot);
        tb_buf_free(&s->conf);
        tb_buf_free(&s->loader_conf);
}

static int copy_fd(int in, int out) {
        uint8_t buf[65536];

        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return 0;
                int r = tb_write_all(out, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
}

static int stage_file(tb_rootfs *fs, const char *source, const char *path, const char *dst, tb_buf *text) {
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
        r = copy_fd(in, out);
        if (r < 0)
                return tb_log_errno(r, "%s: %s: cannot copy to %s", source, path, dst);
        return 0;
}

static bool is_iso(const char *path) {
        char magic[5];
        _cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);

        return fd >= 0 && tb_pread_full(fd, magic, 5, 0x8001) >= 0 && memcmp(magic, "CD001", 5) == 0;
}

static int stage_source(const tb_upgrade_options *o, staged *s) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(freep) char *dir_source = NULL;
        const char *tmp = o->workdir ? o->workdir : getenv("TMPDIR");
        const char *source = o->source;
        tb_rootfs_options ro = { .workdir = o->workdir };
        int r;

        /* /var/tmp: the UKIs can be large for a tmpfs /tmp; a minimal system may have no /var. */
        if (!tmp || !*tmp)
                tmp = access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp";
        if (asprintf(&s->dir, "%s/trustboot-upgrade.XXXXXX", tmp) < 0)
                return -ENOMEM;
        if (!mkdtemp(s->dir)) {
                r = negative_errno();
                tb_log_errno(r, "%s: cannot create the staging directory", s->dir);
                free(s->dir);
                s->dir = NULL;
                return r;
        }
        s->uki = tb_path_join(s->dir, "new.efi");
        if (!s->uki)
                return -ENOMEM;

        /* An installable ISO: its ESP is the El Torito image /efiboot.img. */
        if (!strchr(source, ':') && is_iso(source)) {
                _cleanup_(freep) char *img = tb_path_join(s->dir, "efiboot.img"), *tree = tb_path_join(s->dir, "esp");
                if (!img || !tree)
                        return -ENOMEM;
                r = tb_isoread_extract(source, "/efiboot.img", img);
                if (r < 0)
                        return r;
                r = tb_isoread_fat_extract(img, tree);
                if (r < 0)
                        return r;
                if (asprintf(&dir_source, "dir:%s", tree) < 0)
                        return -ENOMEM;
                source = dir_source;
        }

        r = tb_rootfs_open(source, &ro, &fs);
        if (r < 0)
                return r;
        r = stage_file(fs, o->source, TB_BOOT_EFI_DIR "/" TB_BOOT_NOROLE ".efi", s->uki, NULL);
        if (r == -ENOENT)
                return REFUSE(r, "%s: no %s/%s.efi: not a trustboot medium", o->source, TB_BOOT_EFI_DIR, TB_BOOT_NOROLE);
        if (r < 0)
                return r;
        r = stage_file(fs, o->source, TB_BOOT_ENTRIES_DIR "/" TB_BOOT_NOROLE ".conf", NULL, &s->conf);
        if (r == -ENOENT)
                return REFUSE(r, "%s: no %s/%s.conf: not a trustboot medium", o->source, TB_BOOT_ENTRIES_DIR,
                              TB_BOOT_NOROLE);
        if (r < 0)
                return r;
        s->sdboot = tb_path_join(s->dir, "sdboot.efi");
        if (!s->sdboot)
                return -ENOMEM;
        r = stage_file(fs, o->source, "EFI/BOOT/BOOTX64.EFI", s->sdboot, NULL);
        if (r == -ENOENT) {
                free(s->sdboot);
                s->sdboot = NULL;
        } else if (r < 0)
                return r;
        r = stage_file(fs, o->source, "loader/loader.conf", NULL, &s->loader_conf);
        if (r < 0 && r != -ENOENT)
                return r;
        return 0;
}

/* ---- the PCR key the disks are bound to ---- */

static int pe_pcrpkey(const tb_pe *pe, EVP_PKEY **ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        const tb_pe_section *s = tb_pe_find_section(pe, ".pcrpkey");
        int r;

        if (!s)
                return -ENOENT;
        r = tb_pe_section_read(pe, s, 64 << 10, &b);
        if (r < 0)
                return r;
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        if (!bio)
                return -ENOMEM;
        *ret = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!*ret) {
                tb_ossl_drain_errors(".pcrpkey");
                return -EBADMSG;
        }
        return 0;
}

/* Every entry of .pcrsig names KEY (pkfp) and its signature over the policy verifies with KEY:
 * what systemd-cryptsetup checks at unlock before it asks the TPM. */
static int check_pcrsig(const tb_pe *pe, EVP_PKEY *key) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        const tb_pe_section *s = tb_pe_find_section(pe, ".pcrsig");
        uint8_t fp[32];
        size_t n_checked = 0;
        int r;

        if (!s)
                return REFUSE(-EKEYREJECTED, "%s: no .pcrsig section: the disks would not unlock after reboot",
                              tb_pe_name(pe));
        r = tb_pe_section_read(pe, s, 1 << 20, &b);
        if (r < 0 || tb_buf_append_zero(&b, 1) < 0)
                return r < 0 ? r : -ENOMEM;
        root = json_tokener_parse((const char *)b.data);
        if (!root || !json_object_is_type(root, json_type_object))
                return REFUSE(-EBADMSG, "%s: .pcrsig is not a JSON object", tb_pe_name(pe));
        r = tb_pcr_pkfp(key, fp);
        if (r < 0)
                return r;
        json_object_object_foreach(root, bank_name, arr) {
                int bank = tb_bank_from_string(bank_name);
                if (bank < 0 || !json_object_is_type(arr, json_type_array))
                        return REFUSE(-EBADMSG, "%s: .pcrsig: unexpected member \"%s\"", tb_pe_name(pe), bank_name);
                for (size_t i = 0; i < json_object_array_length(arr); i++) {
                        struct json_object *e = json_object_array_get_idx(arr, i), *pkfp, *pol, *sig;
                        _cleanup_(tb_buf_freep) tb_buf sigb = TB_BUF_INIT;
                        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *c = EVP_MD_CTX_new();
                        EVP_PKEY_CTX *pctx = NULL;
                        uint8_t efp[32], epol[32];
                        const char *sigs;

                        if (!c)
                                return -ENOMEM;
                        if (!json_object_object_get_ex(e, "pkfp", &pkfp) || !json_object_object_get_ex(e, "pol", &pol) ||
                            !json_object_object_get_ex(e, "sig", &sig) ||
                            tb_hex_decode(json_object_get_string(pkfp), efp, 32) < 0 ||
                            tb_hex_decode(json_object_get_string(pol), epol, 32) < 0 ||
                            !(sigs = json_object_get_string(sig)) || tb_base64_decode(sigs, strlen(sigs), &sigb) < 0)
                                return REFUSE(-EBADMSG, "%s: .pcrsig: %s entry %zu is malformed", tb_pe_name(pe),
                                              bank_name, i);
                        if (memcmp(efp, fp, 32) != 0)
                                return REFUSE(-EKEYREJECTED,
                                              "%s: its PCR policy is signed by another key than the one the disks "
                                              "are bound to: the disks would not unlock after reboot",
                                              tb_pe_name(pe));
                        if (EVP_DigestVerifyInit(c, &pctx, tb_bank_md((enum tb_bank)bank), NULL, key) != 1 ||
                            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
                            EVP_DigestVerify(c, sigb.data, sigb.len, epol, 32) != 1) {
                                tb_ossl_drain_errors(".pcrsig");
                                return REFUSE(-EKEYREJECTED,
                                              "%s: .pcrsig %s entry %zu does not verify with the PCR key the disks "
                                              "are bound to: the disks would not unlock after reboot",
                                              tb_pe_name(pe), bank_name, i);
                        }
                        n_checked++;
                }
        }
        if (n_checked == 0)
                return REFUSE(-EKEYREJECTED, "%s: .pcrsig holds no signature: the disks would not unlock after reboot",
                              tb_pe_name(pe));
        return 0;
}

static int check_pcr_key(const char *installed_path, const tb_pe *new_pe) {
        _cleanup_(tb_pe_freep) tb_pe *old = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *bound = NULL, *offered = NULL;
        int r;

        r = tb_pe_open(installed_path, &old);
        if (r < 0)
                return r;
        r = pe_pcrpkey(old, &bound);
        if (r == -ENOENT) {
                /* Nothing bound to a signed policy (no .pcrpkey): nothing to keep unlocking. */
                tb_info("%s: no .pcrpkey: only the encrypted volumes decide the PCR key", installed_path);
                return 0;
        }
        if (r < 0)
                return REFUSE(r, "%s: unreadable .pcrpkey", installed_path);
        r = pe_pcrpkey(new_pe, &offered);
        if (r < 0)
                return REFUSE(-EKEYREJECTED, "%s: no readable .pcrpkey: the disks would not unlock after reboot",
                              tb_pe_name(new_pe));
        if (EVP_PKEY_eq(bound, offered) != 1)
                return REFUSE(-EKEYREJECTED,
                              "%s: its PCR public key differs from the installed %s's, to which the disks are "
                              "bound: the disks would not unlock after reboot", tb_pe_name(new_pe), installed_path);
        return check_pcrsig(new_pe, bound);
}

static int check_luks_device(const char *device, const tb_pe *new_pe) {
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *bound = NULL, *offered = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        int r;

        r = tb_luks_tpm2_pcr_pubkey(device, &pem);
        if (r < 0)
                return r;
        if (r == 0) {
                tb_debug("%s: no signed PCR policy: any UKI unlocks it as far as PCR 11 goes", device);
                return 0;
        }
        bio = BIO_new_mem_buf(pem.data, (int)pem.len);
        if (!bio)
                return -ENOMEM;
        bound = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        if (!bound) {
                tb_ossl_drain_errors("token public key");
                return REFUSE(-EBADMSG, "%s: the systemd-tpm2 token's tpm2_pubkey is not a public key", device);
        }
        if (pe_pcrpkey(new_pe, &offered) < 0 || EVP_PKEY_eq(bound, offered) != 1)
                return REFUSE(-EKEYREJECTED,
                              "%s: its PCR public key is not the one %s is bound to: the disks would not unlock "
                              "after reboot", tb_pe_name(new_pe), device);
        return check_pcrsig(new_pe, bound);
}

static int luks_volume_cb(const char *device, const char *name, void *userdata) {
        (void)name;
        return check_luks_device(device, userdata);
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

static int atomic_copy(const char *src, const char *dst, tb_atomic_file *af) {
        _cleanup_(closep) int in = open(src, O_RDONLY | O_CLOEXEC);
        int r;

        if (in < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", src);
        r = tb_atomic_open(dst, 0644, af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create a temporary file", dst);
        r = copy_fd(in, af->fd);
        if (r >= 0 && fsync(af->fd) < 0)
                r = negative_errno();
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", af->tmp_path);
        return 0;
}

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

typedef struct plan {
        const char *name;       /* "active", "recovery", … */
        char *efi_path;         /* ESP/EFI/trustboot/NAME.efi */
        char *efi_key;          /* "/EFI/trustboot/NAME.efi" */
        char *old_conf;         /* current entry file name, or NULL */
        char *new_conf;         /* NAME+3.conf */
} plan;

static void plan_done(plan *p) {
        free(p->efi_path);
        free(p->efi_key);
        free(p->old_conf);
        free(p->new_conf);
}

static int plan_make(const char *esp, const tb_bootentry_list *l, const char *name, plan *p) {
        const tb_bootentry *e = tb_bootentry_list_find(l, name);

        p->name = name;
        if (e && !(p->old_conf = strdup(e->file)))
                return -ENOMEM;
        if (asprintf(&p->efi_key, "/%s/%s.efi", TB_BOOT_EFI_DIR, name) < 0 ||
            asprintf(&p->new_conf, "%s+%d.conf", name, TB_BOOT_TRIES) < 0 ||
            !(p->efi_path = tb_path_join(esp, p->efi_key + 1)))
                return -ENOMEM;
        return 0;
}

static int entry_path(const char *esp, const char *file, char **ret) {
        if (asprintf(ret, "%s/%s/%s", esp, TB_BOOT_ENTRIES_DIR, file) < 0)
                return -ENOMEM;
        return 0;
}

/* Renames the new conf into place, then removes the old one if it had another name (the
 * counter): for a moment both exist and point at the same, complete UKI. */
static int commit_conf(const char *esp, tb_atomic_file *af, const plan *p) {
        _cleanup_(freep) char *old = NULL;
        int r = commit(af);

        if (r < 0)
                return r;
        if (!p->old_conf || strcmp(p->old_conf, p->new_conf) == 0)
                return 0;
        r = entry_path(esp, p->old_conf, &old);
        if (r < 0)
                return r;
        if (unlink(old) < 0 && errno != ENOENT)
                return tb_log_errno(negative_errno(), "%s: cannot remove", old);
        return tb_fsync_parent(old);
}

int tb_upgrade_run(const tb_upgrade_options *o, tb_upgrade_result *ret) {
        _cleanup_(staged_done) staged s = { 0 };
        _cleanup_(tb_sbdb_freep) tb_sbdb *db = NULL;
        _cleanup_(closep) int uki_fd = -1, sd_fd = -1; /* declared before the tb_pe that reads them */
        _cleanup_(tb_pe_freep) tb_pe *new_pe = NULL;
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list l = { NULL, 0 };
        _cleanup_(plan_done) plan target = { 0 }, passive = { 0 };
        _cleanup_(tb_atomic_abortp) tb_atomic_file t_efi = TB_ATOMIC_FILE_INIT, t_conf = TB_ATOMIC_FILE_INIT,
                                                   p_efi = TB_ATOMIC_FILE_INIT, p_conf = TB_ATOMIC_FILE_INIT,
                                                   sd_efi = TB_ATOMIC_FILE_INIT, sd_conf = TB_ATOMIC_FILE_INIT;
        _cleanup_(tb_buf_freep) tb_buf conf = TB_BUF_INIT, pconf = TB_BUF_INIT, old_active_conf = TB_BUF_INIT;
        _cleanup_(freep) char *active_efi = NULL, *sd_path = NULL, *loader_path = NULL, *old_active_path = NULL;
        const char *name = !o->entry || strcmp(o->entry, "cos") == 0 ? tb_role_to_string(TB_ROLE_ACTIVE)
                           : strcmp(o->entry, "fallback") == 0        ? tb_role_to_string(TB_ROLE_PASSIVE)
                                                                      : o->entry;
        /* Only the active entry rotates into passive; "active_x" is an entry of its own. */
        bool rotate = strcmp(name, tb_role_to_string(TB_ROLE_ACTIVE)) == 0;
        bool update_sdboot = false;
        uint64_t need = SPACE_MARGIN, sz;
        int r;

        *ret = (tb_upgrade_result){ 0 };
        if (o->entry && (strchr(o->entry, '/') || o->entry[0] == '.' || strchr(o->entry, '+')))
                return REFUSE(-EINVAL, "%s: not an entry name", o->entry);

        /* 1. What is installed. */
        r = tb_bootentry_list_load(o->esp, &l);
        if (r < 0)
                return r;
        r = plan_make(o->esp, &l, name, &target);
        if (r < 0)
                return r;
        if (!target.old_conf && o->entry)
                return REFUSE(-ENOENT, "%s: no entry \"%s\" installed", o->esp, name);
        if (!target.old_conf || !tb_path_exists(target.efi_path))
                return REFUSE(-ENOENT, "%s: no %s entry with %s: not an installed node", o->esp, name,
                              target.efi_key);
        active_efi = tb_path_join(o->esp, TB_BOOT_EFI_DIR "/active.efi");
        if (!active_efi)
                return -ENOMEM;
        if (rotate) {
                r = plan_make(o->esp, &l, tb_role_to_string(TB_ROLE_PASSIVE), &passive);
                if (r < 0)
                        return r;
        }

        /* 2. The new medium, staged. */
        r = stage_source(o, &s);
        if (r < 0)
                return r;

        /* 3. Everything the firmware and the TPM will check, before the ESP is touched. */
        r = tb_sbdb_load(o->efivar_dir, &db);
        if (r < 0)
                return r;
        _cleanup_(freep) char *uki_name = NULL;
        if (asprintf(&uki_name, "%s:%s/%s.efi", o->source, TB_BOOT_EFI_DIR, TB_BOOT_NOROLE) < 0)
                return -ENOMEM;
        uki_fd = open(s.uki, O_RDONLY | O_CLOEXEC);
        if (uki_fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", s.uki);
        r = tb_pe_open_fd(uki_fd, uki_name, &new_pe);
        if (r < 0)
                return r;
        r = tb_sbdb_check(db, new_pe);
        if (r < 0)
                return r;
        r = check_pcr_key(tb_path_exists(active_efi) ? active_efi : target.efi_path, new_pe);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n_luks_devices; i++) {
                r = check_luks_device(o->luks_devices[i], new_pe);
                if (r < 0)
                        return r;
        }
        if (o->luks_scan) {
                r = tb_luks_foreach_tpm2_volume(luks_volume_cb, new_pe);
                if (r < 0)
                        return r;
        }
        sd_path = tb_path_join(o->esp, "EFI/BOOT/BOOTX64.EFI");
        loader_path = tb_path_join(o->esp, "loader/loader.conf");
        if (!sd_path || !loader_path)
                return -ENOMEM;
        /* systemd-boot is replaced only by a newer one, and never installed where there was none
         * (the node boots some other way: nothing of ours to update). */
        if (s.sdboot && tb_path_exists(sd_path)) {
                _cleanup_(tb_pe_freep) tb_pe *nsd = NULL, *osd = NULL;
                _cleanup_(freep) char *sd_name = NULL;
                if (asprintf(&sd_name, "%s:EFI/BOOT/BOOTX64.EFI", o->source) < 0)
                        return -ENOMEM;
                sd_fd = open(s.sdboot, O_RDONLY | O_CLOEXEC);
                if (sd_fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open", s.sdboot);
                r = tb_pe_open_fd(sd_fd, sd_name, &nsd);
                if (r < 0)
                        return r;
                int nv = tb_uki_sdmagic_major(nsd, "systemd-boot");
                int ov = tb_pe_open(sd_path, &osd) < 0 ? -1 : tb_uki_sdmagic_major(osd, "systemd-boot");
                if (nv > ov) {
                        r = tb_sbdb_check(db, nsd);
                        if (r < 0)
                                return r;
                        update_sdboot = true;
                        tb_info("systemd-boot %d replaces %d", nv, ov);
                }
        }

        r = tb_bootentry_conf_for((const char *)s.conf.data, s.conf.len, name, target.efi_key, &conf);
        if (r < 0)
                return r;
        if (file_size(s.uki, &sz) >= 0)
                need += sz + conf.len;
        if (rotate) {
                r = entry_path(o->esp, target.old_conf, &old_active_path);
                if (r < 0)
                        return r;
                r = tb_read_file(old_active_path, CONF_MAX, &old_active_conf);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read", old_active_path);
                r = tb_bootentry_conf_for((const char *)old_active_conf.data, old_active_conf.len, passive.name,
                                          passive.efi_key, &pconf);
                if (r < 0)
                        return r;
                if (file_size(target.efi_path, &sz) >= 0)
                        need += sz + pconf.len;
        }
        if (update_sdboot && file_size(s.sdboot, &sz) >= 0)
                need += sz + s.loader_conf.len;
        r = check_space(o->esp, need);
        if (r < 0)
                return r;

        /* 4. Every new file under a hidden temporary name, complete and fsynced. */
        remove_stale(o->esp, TB_BOOT_EFI_DIR);
        remove_stale(o->esp, TB_BOOT_ENTRIES_DIR);
        _cleanup_(freep) char *t_conf_path = NULL, *p_conf_path = NULL;
        if (entry_path(o->esp, target.new_conf, &t_conf_path) < 0)
                return -ENOMEM;
        r = atomic_copy(s.uki, target.efi_path, &t_efi);
        if (r >= 0)
                r = atomic_data(t_conf_path, &conf, &t_conf);
        if (r >= 0 && rotate) {
                if (entry_path(o->esp, passive.new_conf, &p_conf_path) < 0)
                        return -ENOMEM;
                r = atomic_copy(target.efi_path, passive.efi_path, &p_efi);
                if (r >= 0)
                        r = atomic_data(p_conf_path, &pconf, &p_conf);
        }
        if (r >= 0 && update_sdboot) {
                r = atomic_copy(s.sdboot, sd_path, &sd_efi);
                if (r >= 0 && s.loader_conf.len > 0)
                        r = atomic_data(loader_path, &s.loader_conf, &sd_conf);
        }
        if (r < 0)
                return r;

        /* 5. Renames: passive ← old active while active still boots, then active ← new while
         * passive boots. */
        if (rotate) {
                r = commit(&p_efi);
                if (r >= 0)
                        r = commit_conf(o->esp, &p_conf, &passive);
                if (r < 0)
                        return r;
        }
        fault_point("before-last-rename");
        r = commit(&t_efi);
        if (r >= 0)
                r = commit_conf(o->esp, &t_conf, &target);
        if (r < 0)
                return r;
        if (update_sdboot) {
                r = commit(&sd_efi);
                if (r >= 0 && s.loader_conf.len > 0)
                        r = commit(&sd_conf);
                if (r < 0)
                        return r;
                ret->sdboot_updated = true;
        }

        ret->entry_file = strdup(target.new_conf);
        if (!ret->entry_file)
                return -ENOMEM;
        if (rotate) {
                r = tb_efivar_write_string(o->efivar_dir, "LoaderEntryOneShot", &TB_GUID_LOADER, target.new_conf);
                if (r < 0)
                        return r;
                ret->oneshot = true;
        }
        return 0;
}
