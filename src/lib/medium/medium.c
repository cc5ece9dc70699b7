#include "medium/medium.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pe/authenticode.h"
#include "config.h"
#include "medium/container.h"
#include "medium/fatimg.h"
#include "util/fileio.h"
#include "medium/iso.h"
#include "util/json.h"
#include "util/log.h"
#include "measure/mhash.h"
#include "util/ossl.h"
#include "measure/pcr.h"
#include "pe/pe.h"
#include "util/progress.h"
#include "rootfs/rootfs.h"
#include "pe/signer.h"
#include "medium/uki.h"
#include "sb/keyset.h"
#include "pe/sdmagic.h"

#define DEFAULT_CMDLINE "console=tty1 console=ttyS0 panic=5"
#define INSTALL_MODE "install-mode"
#define ENTRY_BASE "norole"
#define UKI_DIR "EFI/trustboot"
#define OSREL_MAX ((size_t)64 * 1024)
#define PCRSIG_BOUND ((size_t)64 * 1024) /* a .pcrsig JSON: every bank, phase and RSA-16384 fits */

int tb_medium_type_from_string(const char *s, tb_medium_type *ret) {
        static const char *const names[] = { [TB_MEDIUM_UKI] = "uki", [TB_MEDIUM_ISO] = "iso",
                                             [TB_MEDIUM_CONTAINER] = "container" };

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strcmp(s, names[i]) == 0) {
                        *ret = (tb_medium_type)i;
                        return 0;
                }
        return -EINVAL;
}

void tb_medium_options_init(tb_medium_options *o) {
        *o = (tb_medium_options){
                .type = TB_MEDIUM_UKI,
                .output_dir = ".",
                .branding = "trustboot",
                .cmdline = DEFAULT_CMDLINE,
                .enroll = TB_ENROLL_IF_SAFE,
                .banks = TB_BANK_BIT(TB_BANK_SHA256),
                .compression = TB_INITRD_ZSTD,
                .compression_level = -1,
                .efi_size_warn = (uint64_t)1024 << 20,
        };
}

int tb_medium_entry_name(const char *base, const char *args, char **ret) {
        size_t bl = strlen(base), n = bl;
        char *s;
        bool in_run = false;

        while (*args == ' ')
                args++;
        s = malloc(bl + 1 + strlen(args) + 1);
        if (!s)
                return tb_log_oom();
        memcpy(s, base, bl);
        if (*args)
                s[n++] = '_';
        for (const char *p = args; *p; p++) {
                bool ok = isalnum((unsigned char)*p) || strchr("._-", *p);

                if (ok)
                        s[n++] = (char)tolower((unsigned char)*p);
                else if (!in_run)
                        s[n++] = '_';
                in_run = !ok;
        }
        while (n > bl && s[n - 1] == '_')
                n--;
        s[n] = '\0';
        *ret = s;
        return 0;
}

/* ---- entries ---- */

typedef struct entry {
        char *name;    /* file name without .efi/.conf */
        char *title;
        char *cmdline; /* the whole command line */
        char *extra;   /* only what this entry adds to the base, for the "cmdline" key */
        char *profile; /* --cmd-lines-v2: its .profile text (entry N is profile N of the one UKI) */
} entry;

/* One UKI, assembled (headers laid out, sources named) but not written: its size is known, so
 * the output can be laid out before the UKI is signed straight into its place. */
typedef struct uki_job {
        struct build *b;
        const entry *e;
        char *esp_path;
        tb_pe *pe;
        tb_buf sig_json; /* .pcrsig: the pe refers to it */
        tb_buf *profile_sig; /* --cmd-lines-v2: every profile's .pcrsig */
        tb_uki_profile *profiles;
        uint64_t size;   /* predicted, checked when written */
        uint64_t off;    /* where it was written, in the fd given to the producer */
        int fd;
} uki_job;

/* One per build: its fields are grouped by meaning, not packed. */
typedef struct build { /* NOLINT(clang-analyzer-optin.performance.Padding) */
        const tb_medium_options *o;
        tb_signer sb;
        EVP_PKEY *pcr_key;
        tb_buf pcrpkey;
        tb_rootfs *fs;
        int kernel_fd;
        char kernel_path[64];
        tb_buf osrel;
        char uname[128];
        char version[128]; /* VERSION_ID, for entries */
        char *base_name;   /* output name */
        char *work;        /* private work directory inside the output directory */
        bool created_outdir;
        char stub_path[PATH_MAX], sdboot_path[PATH_MAX];
        int stub_fd, sdboot_fd;
        int sdboot_major;
        tb_pcr11 *pcr;
        tb_buf sbat;       /* the UKIs' merged .sbat */
        const char *init;  /* the /init symlink's target, or NULL: the image's own /init */
        bool no_init;      /* neither trustboot nor an /init in the image */
        entry entries[1 + 2 * TB_MEDIUM_MAX_EXTRA];
        size_t n_entries;
        tb_esp *esp;
        tb_enroll enroll;
        uki_job jobs[1 + 2 * TB_MEDIUM_MAX_EXTRA];
        size_t n_jobs;
        bool defer_verify; /* -t iso: verify when everything around the UKIs is written too */
        tb_fat *fat;
        tb_fat_options fat_options;
        /* The initrd is compressed straight into its place in the output: into the first UKI
         * of the FAT inside the ISO, into the first UKI of the container's layer, or into the file
         * that becomes the first UKI of the tree.
         * Its place is laid out first, from a provisional build of the UKIs (sizes bounded). */
        bool provisional;
        bool sdboot_done;
        tb_atomic_file out;     /* -t iso/container: the output, open from the start */
        char *out_path;
        char *container_tag;    /* -t container: "name:latest" */
        uint64_t esp_off;       /* -t iso: where the ESP starts in the output */
        uint64_t initrd_bound;  /* -t iso: what the initrd cannot exceed (the layout counts on it) */
        int initrd_fd;          /* the file holding the initrd in place: the output or a UKI file */
        char initrd_src[64];    /* /proc/self/fd/N of it: every UKI reads its .initrd from there */
        char *prepared_path;    /* -t uki: that file in the work directory */
        uint64_t initrd_off;    /* where the initrd starts in that file */
        uint64_t initrd_size;
        size_t prepared;        /* the job whose UKI holds the initrd in place */
        uint64_t prepared_base; /* where that UKI starts in that file */
        tb_digests initrd_digests; /* of the compressed stream, as PCR 11 measures it */
} build;

static void free_jobs(build *b) {
        for (size_t i = 0; i < b->n_jobs; i++) {
                tb_pe_free(b->jobs[i].pe);
                tb_buf_free(&b->jobs[i].sig_json);
                for (size_t j = 0; b->jobs[i].profile_sig && j < b->n_entries; j++)
                        tb_buf_free(&b->jobs[i].profile_sig[j]);
                free(b->jobs[i].profile_sig);
                free(b->jobs[i].profiles);
                free(b->jobs[i].esp_path);
                b->jobs[i] = (uki_job){};
        }
        b->n_jobs = 0;
        if (b->fat)
                tb_fat_free(b->fat);
        b->fat = NULL;
        if (b->esp)
                tb_esp_free(b->esp);
        b->esp = NULL;
}

static void build_done(build *b) {
        free_jobs(b);
        tb_atomic_abort(&b->out);
        free(b->out_path);
        free(b->container_tag);
        free(b->prepared_path);
        if (b->initrd_fd >= 0)
                close(b->initrd_fd);
        for (size_t i = 0; i < b->n_entries; i++) {
                free(b->entries[i].name);
                free(b->entries[i].title);
                free(b->entries[i].cmdline);
                free(b->entries[i].extra);
                free(b->entries[i].profile);
        }
        tb_signer_done(&b->sb);
        EVP_PKEY_free(b->pcr_key);
        tb_buf_free(&b->pcrpkey);
        tb_buf_free(&b->osrel);
        tb_buf_free(&b->sbat);
        if (b->kernel_fd >= 0)
                close(b->kernel_fd);
        if (b->stub_fd >= 0)
                close(b->stub_fd);
        if (b->sdboot_fd >= 0)
                close(b->sdboot_fd);
        if (b->fs)
                tb_rootfs_free(b->fs);
        if (b->pcr)
                tb_pcr11_free(b->pcr);
        if (b->work) {
                tb_rm_rf(b->work); /* holds only what we made */
                free(b->work);
        }
        if (b->created_outdir)
                (void)rmdir(b->o->output_dir); /* only if we made it and it stayed empty */
        free(b->base_name);
}

static int add_entry(build *b, const char *name_base, const char *name_args, const char *title,
                     const char *extra) {
        entry *e = &b->entries[b->n_entries];
        const char *sep = *extra ? " " : "";
        int r;

        r = tb_medium_entry_name(name_base, name_args, &e->name);
        if (r < 0)
                return r;
        e->title = strdup(title);
        e->extra = strdup(extra);
        if (!e->title || !e->extra || asprintf(&e->cmdline, "%s %s%s%s", b->o->cmdline, INSTALL_MODE, sep, extra) < 0)
                return tb_log_oom();
        for (size_t i = 0; i < b->n_entries; i++)
                if (strcmp(b->entries[i].name, e->name) == 0) {
                        tb_err("two entries would both be named '%s'", e->name);
                        b->n_entries++; /* so that it is freed */
                        return -EEXIST;
                }
        b->n_entries++;
        return 0;
}

/* --cmd-lines-v2 (AuroraBoot): the entries become the profiles of one UKI named after the first;
 * entry N's file is NAME-profileN.conf, as AuroraBoot names them. A -c entry is titled with what it
 * adds, as AuroraBoot does. .profile: "ID=profile-N" and the entry's title. */
static int plan_profiles(build *b) {
        for (size_t i = 0; i < b->n_entries; i++) {
                entry *e = &b->entries[i];

                if (i > 0) {
                        _cleanup_(freep) char *name = NULL, *title = NULL;

                        if (asprintf(&name, "%s-profile%zu", b->entries[0].name, i) < 0)
                                return tb_log_oom();
                        if (strcmp(e->title, b->o->branding) == 0 &&
                            asprintf(&title, "%s (%s)", e->title, e->extra) < 0)
                                return tb_log_oom();
                        free(e->name);
                        e->name = TAKE_PTR(name);
                        if (title) {
                                free(e->title);
                                e->title = TAKE_PTR(title);
                        }
                }
                if (asprintf(&e->profile, "ID=profile-%zu\nTITLE=%s\n", i, e->title) < 0)
                        return tb_log_oom();
        }
        return 0;
}

/* The Kairos entry set: the default entry, one per -c, one per -s (shared/research/kairos.md §2.4). */
static int plan_entries(build *b) {
        const tb_medium_options *o = b->o;
        int r;

        r = add_entry(b, ENTRY_BASE, "", o->branding, o->extend_cmdline ? o->extend_cmdline : "");
        for (size_t i = 0; r >= 0 && i < o->n_extra; i++) {
                _cleanup_(freep) char *args = NULL;

                if (asprintf(&args, "%s %s", INSTALL_MODE, o->extra_cmdlines[i]) < 0)
                        return tb_log_oom();
                r = add_entry(b, ENTRY_BASE, args, o->branding, o->extra_cmdlines[i]);
        }
        for (size_t i = 0; r >= 0 && i < o->n_single; i++) {
                const char *s = o->single_cmdlines[i], *colon = strchr(s, ':');

                if (colon) {
                        _cleanup_(freep) char *t = strndup(s, (size_t)(colon - s)), *title = NULL, *name = NULL;

                        if (!t)
                                return tb_log_oom();
                        for (char *p = t; *p; p++)
                                *p = *p == ' ' ? '_' : (char)tolower((unsigned char)*p);
                        if (asprintf(&title, "%s (%.*s)", o->branding, (int)(colon - s), s) < 0)
                                return tb_log_oom();
                        /* The title becomes the whole name (lower case, spaces as '_'). */
                        r = tb_medium_entry_name(t, "", &name);
                        if (r >= 0)
                                r = add_entry(b, name, "", title, colon + 1 + strspn(colon + 1, " "));
                } else
                        r = add_entry(b, "single_entry", s, o->branding, s);
        }
        if (r >= 0 && o->cmd_lines_v2)
                r = plan_profiles(b);
        return r;
}

/* ---- inputs ---- */

static int load_keys(build *b) {
        const tb_medium_options *o = b->o;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        char *p;
        long n;
        int r;

        r = tb_signer_load(o->sb_key, o->sb_cert, &b->sb);
        if (r < 0)
                return r;
        r = tb_private_key_load(o->pcr_key, &b->pcr_key);
        if (r < 0)
                return r;
        if (tb_pcr_check_key(b->pcr_key) < 0) {
                _cleanup_(freep) char *shown = tb_key_display_name(o->pcr_key);
                tb_err("%s: not an RSA key; systemd verifies PCR policy signatures with RSA only",
                       shown ? shown : "PCR key");
                return -EKEYREJECTED;
        }
        /* .pcrpkey: the public half as a PEM "PUBLIC KEY", as systemd-measure/ukify embed it. */
        bio = BIO_new(BIO_s_mem());
        if (!bio || PEM_write_bio_PUBKEY(bio, b->pcr_key) != 1)
                return -EIO;
        n = BIO_get_mem_data(bio, &p);
        r = tb_buf_append(&b->pcrpkey, p, (size_t)n);
        if (r < 0)
                return r;
        if (o->public_keys)
                for (const char *const *k = tb_keyset_auth_files; *k; k++) {
                        _cleanup_(freep) char *path = tb_path_join(o->public_keys, *k);

                        if (!path)
                                return tb_log_oom();
                        if (access(path, R_OK) < 0)
                                return tb_log_errno(negative_errno(), "%s: cannot read the enrollment key", path);
                }
        return 0;
}

/* An EFI binary from a file, or with --sdboot-in-source from the root file system. */
static int open_efi(build *b, const char *given, const char *installed_name, char path[PATH_MAX], int *fd) {
        if (given) {
                snprintf(path, PATH_MAX, "%s", given);
                return 0;
        }
        if (b->o->sdboot_in_source) {
                _cleanup_(freep) char *rel = NULL;
                int r;

                if (asprintf(&rel, "usr/lib/systemd/boot/efi/%s", installed_name) < 0)
                        return tb_log_oom();
                r = tb_rootfs_open_file(b->fs, rel, fd);
                if (r < 0)
                        return tb_log_errno(r, "%s: not found in the root file system (--sdboot-in-source)", rel);
                snprintf(path, PATH_MAX, "/proc/self/fd/%d", *fd);
                return 0;
        }
        snprintf(path, PATH_MAX, "%s/%s", getenv("TRUSTBOOT_EFI_DIR") ?: TB_SDBOOT_EFI_DIR, installed_name);
        return 0;
}

static int check_efi_binaries(build *b) {
        _cleanup_(tb_pe_freep) tb_pe *stub = NULL, *sdboot = NULL;
        int gen, r;

        r = open_efi(b, b->o->stub, "linuxx64.efi.stub", b->stub_path, &b->stub_fd);
        if (r >= 0)
                r = open_efi(b, b->o->sdboot, "systemd-bootx64.efi", b->sdboot_path, &b->sdboot_fd);
        if (r < 0)
                return r;
        r = tb_pe_open(b->stub_path, &stub);
        if (r < 0)
                return r;
        if (tb_pe_sdmagic_major(stub, "systemd-stub") < 0 || tb_pe_get_info(stub)->machine != TB_PE_MACHINE_AMD64) {
                tb_err("%s: not a supported systemd-stub (x86-64, systemd 252 or later)", b->stub_path);
                return -EBADMSG;
        }
        /* Never sign a policy for a PCR 11 value the stub will not produce: a stub newer than the
         * generations trustboot knows is refused unless the user names the one it follows. */
        gen = tb_stub_gen_resolve(stub, b->o->stub_gen, "--stub-generation");
        if (gen < 0)
                return gen;
        if (b->o->cmd_lines_v2 && gen < TB_STUB_257)
                return tb_fail(-EOPNOTSUPP, "%s: --cmd-lines-v2: a systemd-stub %d cannot boot a multi-profile UKI "
                               "(it needs 257 or later)", b->stub_path, tb_stub_version_from_pe(stub));
        r = tb_pcr11_new(b->o->banks, (enum tb_stub_gen)gen, &b->pcr);
        if (r < 0)
                return r;
        /* The stub's own sections first; its .sbat, measured by 254+ stubs, is then the merged one. */
        r = tb_pcr11_set_from_pe(b->pcr, stub);
        if (r < 0)
                return r;
        r = tb_uki_sbat(stub, b->kernel_fd, b->o->sbat, b->o->n_sbat, &b->sbat);
        if (r < 0)
                return r;
        r = tb_pcr11_set_section_data(b->pcr, TB_UKI_SBAT, b->sbat.data, b->sbat.len);
        if (r < 0)
                return r;

        r = tb_pe_open(b->sdboot_path, &sdboot);
        if (r < 0)
                return r;
        b->sdboot_major = tb_pe_sdmagic_major(sdboot, "systemd-boot");
        if (b->sdboot_major < 252 || tb_pe_get_info(sdboot)->machine != TB_PE_MACHINE_AMD64) {
                tb_err("%s: not a supported systemd-boot (x86-64, systemd 252 or later)", b->sdboot_path);
                return -EBADMSG;
        }
        b->enroll = b->o->enroll;
        if (b->enroll == TB_ENROLL_IF_SAFE && b->sdboot_major < 253) {
                if (b->o->enroll_given)
                        tb_warn("systemd-boot %d does not know 'secure-boot-enroll if-safe'; using 'manual'",
                                b->sdboot_major);
                else
                        tb_debug("systemd-boot %d: secure-boot-enroll defaults to 'manual' (if-safe needs 253)",
                                b->sdboot_major);
                b->enroll = TB_ENROLL_MANUAL;
        }
        return 0;
}

/* KEY=value from os-release, unquoted; "" when absent. */
static void osrel_value(const tb_buf *osrel, const char *key, char *out, size_t size) {
        size_t kl = strlen(key);
        const char *p = (const char *)osrel->data, *end = p + osrel->len;

        out[0] = '\0';
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

                if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
                        const char *v = p + kl + 1;
                        size_t vl = len - kl - 1;

                        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
                                v++;
                                vl -= 2;
                        }
                        snprintf(out, size, "%.*s", (int)vl, v);
                        return;
                }
                p += len + 1;
        }
}

static int read_rootfs_inputs(build *b) {
        _cleanup_(freep) char *kernel = NULL;
        _cleanup_(closep) int fd = -1;
        tb_rootfs_options ro = { .overlays = b->o->overlays, .n_overlays = b->o->n_overlays,
                                 .registry = &b->o->registry, .max_image_size = b->o->max_image_size,
                                 .summary = b->o->pull_summary };
        char id[64], ver[64];
        int r;

        r = tb_rootfs_open(b->o->source, &ro, &b->fs);
        if (r < 0)
                return r;
        r = tb_rootfs_open_file(b->fs, "etc/os-release", &fd);
        if (r < 0)
                r = tb_rootfs_open_file(b->fs, "usr/lib/os-release", &fd);
        if (r < 0)
                return tb_log_errno(r, "%s: no /etc/os-release or /usr/lib/os-release", b->o->source);
        {
                char proc[64];

                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                r = tb_read_file(proc, OSREL_MAX, &b->osrel);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read os-release", b->o->source);
        }
        r = tb_rootfs_find_kernel(b->fs, &kernel, &b->kernel_fd);
        if (r < 0)
                return r;
        snprintf(b->kernel_path, sizeof(b->kernel_path), "/proc/self/fd/%d", b->kernel_fd);
        r = tb_uki_kernel_release(b->kernel_fd, b->uname, sizeof(b->uname));
        if (r == -ENODATA) {
                /* Normal for non-x86 kernels; Kairos leaves .uname out then, too. */
                tb_debug("%s: no kernel release in the image header, leaving out .uname", kernel);
                b->uname[0] = '\0';
        } else if (r < 0)
                return tb_log_errno(r, "%s: cannot read the kernel", kernel);

        osrel_value(&b->osrel, "VERSION_ID", b->version, sizeof(b->version));
        if (b->o->name)
                b->base_name = strdup(b->o->name);
        else {
                osrel_value(&b->osrel, "ID", id, sizeof(id));
                osrel_value(&b->osrel, "VERSION_ID", ver, sizeof(ver));
                if (asprintf(&b->base_name, "%s%s%s-uki", *id ? id : "linux", *ver ? "-" : "", ver) < 0)
                        b->base_name = NULL;
        }
        return b->base_name ? 0 : tb_log_oom();
}

/* Whether PATH (absolute or not) is an executable file of the tree, symlinks resolved inside it. */
static int rootfs_executable(build *b, const char *path) {
        _cleanup_(closep) int fd = -1;
        struct stat st;
        int r;

        while (*path == '/')
                path++;
        r = tb_rootfs_open_file(b->fs, path, &fd);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        return (st.st_mode & 0111) ? 0 : -EACCES;
}

/* The seed builds with no init flag: an image that carries trustboot (the package installs
 * /usr/bin/trustboot) gets it as /init, which installs and unlocks; --init PATH overrides and
 * must name an executable of the image. Checked before anything is built. */
static int choose_init(build *b) {
        static const char trustboot[] = "/usr/bin/trustboot";
        int r;

        if (b->o->init) {
                r = rootfs_executable(b, b->o->init);
                if (r < 0) {
                        tb_err("%s: --init %s: %s in the image", b->o->source, b->o->init,
                               r == -EACCES ? "not executable" : r == -EISDIR ? "not a file" : "no such file");
                        return -ENOENT;
                }
                b->init = b->o->init;
        } else if (rootfs_executable(b, trustboot) == 0) {
                tb_info("/init: %s (the image carries trustboot; --init PATH overrides)", trustboot);
                b->init = trustboot;
        } else
                b->no_init = rootfs_executable(b, "init") < 0; /* warned once the medium is built */
        return 0;
}

/* ---- the work ---- */

typedef struct initrd_sink {
        tb_mhash *h;
        tb_progress progress;
} initrd_sink;

static int initrd_sink_fn(const void *data, size_t len, void *userdata) {
        initrd_sink *s = userdata;

        tb_progress_add(&s->progress, len);
        return tb_mhash_update(s->h, data, len);
}

/* The initrd's options as the user chose them (EXCLUDE holds the compiled patterns). */
static int initrd_options(build *b, tb_initrd_options *io, tb_exclude **exclude) {
        int r;

        r = tb_initrd_options_init(io);
        if (r < 0)
                return r;
        io->compression = b->o->compression;
        io->level = b->o->compression_level;
        if (b->o->epoch < 0 || b->o->epoch > (int64_t)UINT32_MAX)
                return tb_fail(-ERANGE, "SOURCE_DATE_EPOCH=%" PRId64 ": beyond the initrd's 32-bit timestamps",
                               b->o->epoch);
        io->mtime = (uint64_t)b->o->epoch;
        io->init = b->init;
        r = tb_exclude_from_options(b->fs, b->o->excludes, b->o->n_excludes, b->o->slim, exclude);
        if (r < 0)
                return r;
        io->exclude = *exclude;
        return 0;
}

/* Compresses the initrd into its place (laid out by layout_initrd()), hashing it for PCR 11 in
 * the same pass. */
static int make_initrd(build *b) {
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        _cleanup_(tb_exclude_freep) tb_exclude *exclude = NULL;
        tb_initrd_options io;
        tb_initrd_stats stats = {};
        initrd_sink sink;
        tb_digests d;
        struct timespec t0, t1;
        int r;

        r = initrd_options(b, &io, &exclude);
        if (r < 0)
                return r;
        /* Every PCR bank's digest of the initrd is computed while it is written. */
        r = tb_mhash_new(tb_pcr11_banks(b->pcr), &h);
        if (r < 0)
                return r;
        sink.h = h;
        io.sink = initrd_sink_fn;
        io.sink_userdata = &sink;
        if (lseek(b->initrd_fd, (off_t)b->initrd_off, SEEK_SET) < 0)
                return tb_log_errno(negative_errno(), "cannot write the initrd");
        tb_info("building the initrd from %s (%s)…", b->o->source, tb_initrd_compression_to_string(io.compression));
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tb_progress_begin(&sink.progress, "initrd (compressed)");
        r = tb_initrd_write(b->fs, b->initrd_fd, &io, &stats);
        tb_progress_end(&sink.progress);
        if (r < 0)
                return r;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (exclude)
                tb_info("initrd: %llu entries excluded", (unsigned long long)stats.excluded);
        tb_info("initrd: %llu entries, %.1f MiB → %.1f MiB in %.1f s", (unsigned long long)stats.entries,
                (double)stats.bytes_in / (1 << 20), (double)stats.bytes_out / (1 << 20),
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        if (b->initrd_bound && stats.bytes_out > b->initrd_bound) {
                tb_err("%s: the initrd came out larger (%llu bytes) than the tree allowed when it was laid out "
                       "(%llu): did it change during the build?", b->o->source, (unsigned long long)stats.bytes_out,
                       (unsigned long long)b->initrd_bound);
                return -EBUSY;
        }
        b->initrd_size = stats.bytes_out;
        r = tb_mhash_final(h, &d, NULL);
        if (r < 0)
                return r;
        b->initrd_digests = d;
        return tb_pcr11_set_section(b->pcr, TB_UKI_INITRD, &d, stats.bytes_out);
}

static int measure_common_sections(build *b) {
        int r;

        if (lseek(b->kernel_fd, 0, SEEK_SET) < 0)
                return negative_errno();
        r = tb_pcr11_set_section_fd(b->pcr, TB_UKI_LINUX, b->kernel_fd);
        if (r < 0)
                return r;
        r = tb_pcr11_set_section_data(b->pcr, TB_UKI_OSREL, b->osrel.data, b->osrel.len);
        if (r >= 0 && b->uname[0])
                r = tb_pcr11_set_section_data(b->pcr, TB_UKI_UNAME, b->uname, strlen(b->uname));
        if (r >= 0)
                r = tb_pcr11_set_section_data(b->pcr, TB_UKI_PCRPKEY, b->pcrpkey.data, b->pcrpkey.len);
        if (r >= 0 && b->o->splash) {
                _cleanup_(closep) int fd = open(b->o->splash, O_RDONLY | O_CLOEXEC);

                if (fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot read the splash image", b->o->splash);
                r = tb_pcr11_set_section_fd(b->pcr, TB_UKI_SPLASH, fd);
        }
        return r;
}

static int file_source(const char *path, tb_pe_source *ret) {
        struct stat st;

        if (stat(path, &st) < 0)
                return negative_errno();
        *ret = (tb_pe_source){ .path = path, .size = (uint64_t)st.st_size };
        return 0;
}

/* The .pcrsig for what b->pcr holds now: systemd-measure's default phases, as systemd-stub and
 * systemd-pcrphase extend them, in every bank. */
static int sign_pcr(build *b, tb_buf *out) {
        _cleanup_(json_object_putp) struct json_object *sig = NULL;
        _cleanup_(tb_strv_freep) char **phases = NULL;
        size_t n_phases;
        int r;

        r = tb_pcr_phase_list(NULL, 0, &phases, &n_phases);
        if (r < 0)
                return r;
        r = tb_pcr11_sign(b->pcr, phases, n_phases, b->pcr_key, NULL, &sig);
        if (r < 0)
                return tb_log_errno(r, "cannot sign the PCR policy with the PCR key");
        return tb_json_format(sig, TB_JSON_SHORT, out);
}

/* --cmd-lines-v2: every entry a profile; profile N is measured as the stub measures it when booted
 * with "@N" — the base sections, profile 0's command line unless N brings its own, and N's
 * .profile — and its .pcrsig signs that. */
static int prepare_profiles(build *b, uki_job *job) {
        int r;

        job->profile_sig = calloc(b->n_entries, sizeof(tb_buf));
        job->profiles = calloc(b->n_entries, sizeof(tb_uki_profile));
        if (!job->profile_sig || !job->profiles)
                return tb_log_oom();
        for (size_t i = 0; i < b->n_entries; i++) {
                const entry *e = &b->entries[i];
                tb_uki_profile *p = &job->profiles[i];

                if (b->provisional) /* for the layout only: no larger than this */
                        r = tb_buf_append_zero(&job->profile_sig[i], PCRSIG_BOUND);
                else {
                        r = tb_pcr11_set_section_data(b->pcr, TB_UKI_CMDLINE, e->cmdline, strlen(e->cmdline));
                        if (r >= 0)
                                r = tb_pcr11_set_section_data(b->pcr, TB_UKI_PROFILE, e->profile, strlen(e->profile));
                        if (r >= 0)
                                r = sign_pcr(b, &job->profile_sig[i]);
                }
                if (r < 0)
                        return r;
                p->profile = (tb_pe_source){ .data = e->profile, .size = strlen(e->profile) };
                p->pcrsig = (tb_pe_source){ .data = job->profile_sig[i].data, .size = job->profile_sig[i].len };
                if (i > 0)
                        p->cmdline = (tb_pe_source){ .data = e->cmdline, .size = strlen(e->cmdline) };
        }
        return 0;
}

static int prepare_uki(build *b, const entry *e, uki_job *job) {
        tb_uki_parts parts = { .stub_path = b->stub_path };
        int r;

        if (b->o->cmd_lines_v2) {
                r = prepare_profiles(b, job);
                parts.profiles = job->profiles;
                parts.n_profiles = b->n_entries;
        } else if (b->provisional) {
                /* For the layout only: the initrd's size bounded, a signature no larger than this. */
                r = tb_buf_append_zero(&job->sig_json, PCRSIG_BOUND);
        } else {
                r = tb_pcr11_set_section_data(b->pcr, TB_UKI_CMDLINE, e->cmdline, strlen(e->cmdline));
                if (r >= 0)
                        r = sign_pcr(b, &job->sig_json);
        }
        if (r < 0)
                return r;
        if (b->provisional)
                parts.initrd = (tb_pe_source){ .path = "/dev/null", .size = b->initrd_size };
        else /* from where it lies in the output (page cache): every UKI reads it there */
                parts.initrd = (tb_pe_source){ .path = b->initrd_src, .offset = b->initrd_off, .size = b->initrd_size };

        parts.osrel = (tb_pe_source){ .data = b->osrel.data, .size = b->osrel.len };
        parts.cmdline = (tb_pe_source){ .data = e->cmdline, .size = strlen(e->cmdline) };
        parts.uname = (tb_pe_source){ .data = b->uname, .size = strlen(b->uname) };
        parts.pcrpkey = (tb_pe_source){ .data = b->pcrpkey.data, .size = b->pcrpkey.len };
        parts.pcrsig = (tb_pe_source){ .data = job->sig_json.data, .size = job->sig_json.len };
        parts.sbat = (tb_pe_source){ .data = b->sbat.data, .size = b->sbat.len };
        if ((r = file_source(b->kernel_path, &parts.linux_image)) < 0)
                return tb_log_errno(r, "cannot read the kernel");
        if (b->o->splash && (r = file_source(b->o->splash, &parts.splash)) < 0)
                return tb_log_errno(r, "%s: cannot read", b->o->splash);
        r = tb_uki_assemble(&parts, &job->pe);
        if (r < 0)
                return r;
        r = tb_authenticode_signed_size(job->pe, &b->sb, &job->size);
        if (r < 0)
                return r;
        job->b = b;
        job->e = e;
        job->fd = -1;
        return 0;
}

/* AuroraBoot's --efi-size-warn, and a hard limit: systemd-boot fails to load UKIs above 2 GiB
 * (systemd#31452), whatever the user's threshold. */
static void warn_size(const build *b, const uki_job *job) {
        double mib = (double)job->size / (1 << 20);

        if (job->size > ((uint64_t)2 << 30))
                tb_warn("%s: %.0f MiB: systemd-boot cannot load a UKI above 2 GiB (systemd#31452); "
                        "make the initrd smaller (--slim, --exclude; see trustboot initrd --report)", job->esp_path, mib);
        else if (b->o->efi_size_warn && job->size > b->o->efi_size_warn)
                tb_warn("%s: %.0f MiB, more than --efi-size-warn %llu MiB: every boot loads and unpacks all of it "
                        "(see trustboot initrd --report)", job->esp_path, mib,
                        (unsigned long long)(b->o->efi_size_warn >> 20));
}

static int sign_sdboot(build *b, const char *out_path) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(closep) int fd = -1;
        int r;

        r = tb_pe_open(b->sdboot_path, &pe);
        if (r < 0)
                return r;
        fd = open(out_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", out_path);
        return tb_authenticode_sign(pe, &b->sb, fd, out_path);
}

/* Every EFI binary must verify against the db certificate before we say we are done. */
static int verify_efi(build *b, const char *path) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        int r;

        r = tb_pe_open(path, &pe);
        if (r < 0)
                return r;
        r = tb_authenticode_verify(pe, b->sb.cert);
        if (r <= 0) {
                tb_err("%s: does not verify against %s after signing", path, b->o->sb_cert);
                return -EBADMSG;
        }
        return 0;
}

/* The same for a UKI where it was written in the output: its bytes are read back from the page
 * cache (they were just written) through the strict PE parser, the image hash is computed again
 * from those bytes, and the signature checked against the certificate. So a UKI damaged by any
 * later write around it (FAT tables, directories, ISO metadata), a misplaced or short write, or
 * a key that does not match the certificate fails here, before the output is renamed into place. */
static int verify_uki(const uki_job *job) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        int r;

        r = tb_pe_open_fd_range(job->fd, job->off, job->size, job->esp_path, &pe);
        if (r >= 0)
                r = tb_authenticode_verify(pe, job->b->sb.cert);
        if (r <= 0) {
                tb_err("%s: does not verify against %s after signing", job->esp_path, job->b->o->sb_cert);
                return -EBADMSG;
        }
        return 0;
}

/* The initrd was in place before the UKI around it was signed (and every other UKI copied it
 * from there): the signature covers whatever those bytes were then. So the bytes that are in
 * the output now must also be the initrd that was compressed and measured for PCR 11 (the
 * digest of the stream, taken while it was written): one hash over the range, from the page
 * cache. A write that strayed into it at any time fails here. */
static int verify_initrd_in_place(const build *b) {
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        _cleanup_(freep) uint8_t *buf = malloc(1u << 20);
        tb_digests d = {};
        unsigned bank = 0;
        int r;

        while (!(b->initrd_digests.banks & TB_BANK_BIT(bank)))
                bank++; /* one bank is enough */
        r = buf ? tb_mhash_new(TB_BANK_BIT(bank), &h) : -ENOMEM;
        for (uint64_t off = 0; r >= 0 && off < b->initrd_size;) {
                size_t n = (size_t)MIN(b->initrd_size - off, (uint64_t)(1u << 20));

                r = tb_pread_full(b->initrd_fd, buf, n, (off_t)(b->initrd_off + off));
                if (r >= 0)
                        r = tb_mhash_update(h, buf, n);
                off += n;
        }
        if (r >= 0)
                r = tb_mhash_final(h, &d, NULL);
        if (r < 0)
                return tb_log_errno(r, "cannot read back the initrd");
        if (memcmp(d.d[bank], b->initrd_digests.d[bank], tb_bank_size(bank)) != 0) {
                tb_err("%s: the initrd in the output is not the one that was built and measured",
                       b->jobs[b->prepared].esp_path);
                return -EBADMSG;
        }
        return 0;
}

typedef struct initrd_check {
        const build *b;
        int r;
} initrd_check;

static void *initrd_check_thread(void *userdata) {
        initrd_check *c = userdata;

        c->r = verify_initrd_in_place(c->b);
        return NULL;
}

/* The UKIs' checks JOBS[0..N) and the initrd's, side by side: both only read the page cache and
 * hash, and they come after the compression, when the other core has nothing to do. */
static int verify_outputs(const build *b, const uki_job *jobs, size_t n, bool initrd) {
        initrd_check c = { .b = b };
        pthread_t t;
        bool threaded = false;
        int r = 0;

        if (initrd)
                threaded = pthread_create(&t, NULL, initrd_check_thread, &c) == 0;
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = verify_uki(&jobs[i]);
        if (threaded)
                pthread_join(t, NULL);
        else if (initrd)
                c.r = verify_initrd_in_place(b);
        return r < 0 ? r : c.r;
}

/* tb_esp_write_fn: signs the UKI straight into its place (a FAT cluster run inside the ISO, or
 * the file of the ESP tree), hashing and checksumming while it is written. */
static int write_uki(int fd, uint64_t off, void *userdata) {
        uki_job *job = userdata;
        build *b = job->b;
        uint64_t size, keep_len = 0;
        struct stat st, in;
        int r;

        if (job == &b->jobs[b->prepared]) {
                /* The UKI that holds the initrd in place: where the layout put it, its initrd is
                 * hashed from there and not written again. Anywhere else (a writer that copies
                 * a prepared file elsewhere: none of build-uki's) it is written whole. */
                if (fstat(fd, &st) < 0 || fstat(b->initrd_fd, &in) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot write", job->esp_path);
                if (st.st_dev == in.st_dev && st.st_ino == in.st_ino) {
                        const tb_pe_section *sec = tb_pe_find_section(job->pe, ".initrd");

                        /* The real UKI must put .initrd where the provisional one did (every
                         * section before it has its final size in both). */
                        if (!sec || sec->raw_offset != b->initrd_off - b->prepared_base) {
                                tb_err("%s: its .initrd moved from where it was laid out", job->esp_path);
                                return -EIO;
                        }
                        if (off != b->prepared_base) {
                                tb_err("%s: laid out at %llu, written at %llu: the layout moved", job->esp_path,
                                       (unsigned long long)b->prepared_base, (unsigned long long)off);
                                return -EIO;
                        }
                        keep_len = b->initrd_size;
                }
        }
        r = tb_authenticode_sign_around(job->pe, &b->sb, fd, off, b->initrd_off - b->prepared_base, keep_len,
                                        job->esp_path, &size);
        if (r < 0)
                return r;
        if (size != job->size) {
                tb_err("%s: the signature's size differs from the one laid out (%llu, not %llu bytes)", job->esp_path,
                       (unsigned long long)size, (unsigned long long)job->size);
                return -EMSGSIZE;
        }
        job->fd = fd;
        job->off = off;
        if (b->defer_verify)
                return 0;
        return verify_outputs(b, job, 1, job == &b->jobs[b->prepared]);
}

static int add_esp_file(build *b, const char *esp_path, const char *file) {
        int r = tb_esp_add_file(b->esp, esp_path, file);

        return r < 0 ? tb_log_errno(r, "ESP: cannot add %s", esp_path) : 0;
}

static int assemble_esp(build *b) {
        _cleanup_(tb_buf_freep) tb_buf conf = TB_BUF_INIT;
        _cleanup_(freep) char *sdboot = tb_path_join(b->work, "BOOTX64.EFI");
        int r;

        r = tb_esp_new(&b->esp);
        if (r < 0 || !sdboot)
                return tb_log_oom();
        if (!b->sdboot_done) {
                tb_info("signing systemd-boot %d…", b->sdboot_major);
                r = sign_sdboot(b, sdboot);
                if (r >= 0)
                        r = verify_efi(b, sdboot);
                if (r < 0)
                        return r;
                b->sdboot_done = true;
        }
        if (r >= 0)
                r = add_esp_file(b, "EFI/BOOT/BOOTX64.EFI", sdboot);
        if (r < 0)
                return r;
        if ((r = tb_esp_add_dir(b->esp, UKI_DIR)) < 0 || (r = tb_esp_add_dir(b->esp, "EFI/tools")) < 0)
                return r;

        for (size_t i = 0; i < b->n_entries; i++) {
                const entry *e = &b->entries[i];
                _cleanup_(freep) char *esp_path = NULL, *efi = NULL, *conf_path = NULL;
                _cleanup_(tb_buf_freep) tb_buf ec = TB_BUF_INIT;
                tb_esp_boot_entry be = { .title = e->title, .sort_key = e->name };

                _cleanup_(freep) char *options = NULL;
                /* --cmd-lines-v2: one UKI, the first entry's; entry N boots its profile N ("@N"). */
                const entry *uki_entry = b->o->cmd_lines_v2 ? &b->entries[0] : e;

                if (asprintf(&esp_path, "%s/%s.efi", UKI_DIR, uki_entry->name) < 0 || asprintf(&efi, "/%s", esp_path) < 0 ||
                    asprintf(&conf_path, "loader/entries/%s.conf", e->name) < 0 ||
                    (b->o->cmd_lines_v2 && i > 0 && asprintf(&options, "@%zu", i) < 0))
                        return tb_log_oom();
                if (e == uki_entry) {
                        uki_job *job = &b->jobs[b->n_jobs++];

                        if (!b->provisional) {
                                tb_info("building UKI %s: %s", esp_path, e->cmdline);
                                for (size_t j = 1; b->o->cmd_lines_v2 && j < b->n_entries; j++)
                                        tb_info("  profile %zu: %s", j, b->entries[j].cmdline);
                        }
                        r = prepare_uki(b, e, job);
                        if (r < 0)
                                return r;
                        job->esp_path = strdup(esp_path);
                        if (!job->esp_path)
                                return tb_log_oom();
                        if (!b->provisional)
                                warn_size(b, job);
                        if (!b->provisional && b->prepared_path && job == &b->jobs[b->prepared])
                                r = tb_esp_add_producer_in(b->esp, esp_path, job->size, write_uki, job,
                                                           b->prepared_path);
                        else
                                r = tb_esp_add_producer(b->esp, esp_path, job->size, write_uki, job);
                        if (r < 0)
                                return tb_log_errno(r, "ESP: cannot add %s", esp_path);
                }
                be.efi = efi;
                be.options = options;
                be.version = b->o->include_version && b->version[0] ? b->version : NULL;
                be.cmdline = b->o->include_cmdline ? e->extra : NULL;
                r = tb_esp_entry_conf(&be, &ec);
                if (r >= 0)
                        r = tb_esp_add_data(b->esp, conf_path, ec.data, ec.len);
                if (r < 0)
                        return tb_log_errno(r, "ESP: cannot add %s", conf_path);
        }

        r = tb_esp_loader_conf(b->enroll, &conf);
        if (r >= 0)
                r = tb_esp_add_data(b->esp, "loader/loader.conf", conf.data, conf.len);
        if (r < 0)
                return r;
        if (b->o->public_keys) {
                for (const char *const *k = tb_keyset_auth_files; *k; k++) {
                        _cleanup_(freep) char *src = tb_path_join(b->o->public_keys, *k), *dst = NULL;

                        if (!src || asprintf(&dst, "loader/keys/auto/%s", *k) < 0)
                                return tb_log_oom();
                        r = add_esp_file(b, dst, src);
                        if (r < 0)
                                return r;
                }
        } else if (!b->provisional)
                tb_warn("no enrollment keys given (-k or --public-keys): loader/keys/auto stays empty");
        return tb_esp_add_dir(b->esp, "loader/keys/auto");
}

/* tb_iso_esp_write_fn: the FAT image straight into its place in the ISO, the UKIs straight into
 * their clusters; then every UKI is verified where it now lies, with all around it written. */
static int write_esp_into_iso(int fd, uint64_t off, void *userdata) {
        build *b = userdata;
        int r;

        if (off != b->esp_off) {
                tb_err("ISO image: the ESP was laid out at %llu, libisofs put it at %llu", (unsigned long long)b->esp_off,
                       (unsigned long long)off);
                return -EIO;
        }
        r = tb_fat_write_at(b->fat, fd, off, &b->fat_options);
        if (r < 0)
                return r == -EMSGSIZE || r == -EBADMSG ? r : tb_log_errno(r, "cannot write the ESP image");
        return verify_outputs(b, b->jobs, b->n_jobs, true);
}

/* The ESP as a FAT image laid out from the sizes of the ESP's entries. */
static int plan_fat(build *b, int64_t *ret_size) {
        int64_t size;
        int r;

        b->fat_options.label = "EFIBOOT";
        b->fat_options.epoch = b->o->epoch;
        /* A volume serial that is the same for every build of the same medium (never random). */
        b->fat_options.volume_id = 0;
        for (const char *p = b->base_name; *p; p++)
                b->fat_options.volume_id = b->fat_options.volume_id * 31 + (uint8_t)*p;
        r = tb_fat_new(&b->fat);
        for (size_t i = 0; r >= 0 && i < tb_esp_count(b->esp); i++) {
                const tb_esp_entry *e = tb_esp_get(b->esp, i);

                r = e->is_dir        ? tb_fat_add_dir(b->fat, e->path)
                    : e->write       ? tb_fat_add_producer(b->fat, e->path, e->size, e->write, e->write_userdata)
                    : e->src_path    ? tb_fat_add_file(b->fat, e->path, e->src_path)
                                     : tb_fat_add_data(b->fat, e->path, e->data.data, e->data.len);
                if (r < 0)
                        return tb_log_errno(r, "ESP image: cannot add %s", e->path);
        }
        size = tb_fat_plan(b->fat, &b->fat_options);
        if (size < 0)
                return tb_log_errno((int)size, "ESP image: cannot lay out");
        *ret_size = size;
        return 0;
}

static tb_iso_options iso_options(build *b, uint64_t esp_size) {
        return (tb_iso_options){ .volume_id = "UKI_ISO_INSTALL", .overlay_dir = b->o->overlay_iso, .epoch = b->o->epoch,
                                 .esp_size = esp_size, .esp_write = write_esp_into_iso, .esp_userdata = b };
}

/* The written output (-t iso/container, verified) takes its final name: fsync, rename, fsync dir. */
static int commit_output(build *b) {
        int r = tb_atomic_commit(&b->out);

        return r < 0 ? tb_log_errno(r, "%s: cannot write", b->out_path) : 0;
}

/* -t iso: the ESP inside the ISO, its first UKI (in cluster order) pinned where the initrd was
 * compressed into it; the UKIs are signed into their clusters, nothing is staged. */
static int write_iso(build *b) {
        tb_iso_options io;
        int64_t size;
        int r;

        b->fat_options.pin_path = b->jobs[b->prepared].esp_path;
        r = plan_fat(b, &size);
        if (r == -ERANGE || r == -ENOENT)
                tb_err("ESP image: %s does not fit where it was laid out", b->fat_options.pin_path);
        if (r < 0)
                return r;
        tb_info("ESP image: %.1f MiB", (double)size / (1 << 20));
        b->defer_verify = true;
        io = iso_options(b, (uint64_t)size);
        r = tb_iso_write_fd(&io, b->out.fd, b->out_path);
        if (r < 0)
                return r;
        return commit_output(b);
}

/* -t iso/container: the output (a temp file beside it until it is complete) is opened before the
 * initrd is compressed into it; INITRD_FD is the same file. */
static int open_output(build *b, const char *ext) {
        int r;

        if (asprintf(&b->out_path, "%s/%s.%s", b->o->output_dir, b->base_name, ext) < 0)
                return tb_log_oom();
        r = tb_atomic_open(b->out_path, 0644, &b->out);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", b->out_path);
        b->initrd_fd = fcntl(b->out.fd, F_DUPFD_CLOEXEC, 3);
        if (b->initrd_fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot write", b->out_path);
        return 0;
}

/* The image's tag: "<base name>:latest", the name in lower case (image names are). */
static int container_options(build *b, tb_container_options *ret) {
        if (!b->container_tag) {
                if (asprintf(&b->container_tag, "%s:latest", b->base_name) < 0)
                        return tb_log_oom();
                for (char *p = b->container_tag; *p && *p != ':'; p++)
                        *p = (char)tolower((unsigned char)*p);
        }
        *ret = (tb_container_options){ .arch = "amd64", .epoch = b->o->epoch, .repo_tag = b->container_tag };
        return 0;
}

/* Where the initrd goes, before it exists: the UKIs are assembled once with the initrd's size
 * bounded (from a stat-only walk of the tree) and a placeholder signature, which fixes the
 * .initrd section's offset inside its UKI; for -t iso also the UKI's cluster run (pinned: the
 * FAT's reserved area absorbs what the real, smaller sizes change before it) and the ESP's block
 * in the ISO (libisofs lays the image out). The initrd is then compressed once, into that place. */
static int layout_initrd(build *b) {
        const tb_pe_section *s;
        struct stat st;
        int r;

        b->provisional = true;
        b->initrd_size = 1;
        if (b->o->type == TB_MEDIUM_ISO) {
                _cleanup_(tb_exclude_freep) tb_exclude *exclude = NULL;
                tb_initrd_options io;

                r = initrd_options(b, &io, &exclude);
                if (r >= 0)
                        r = tb_initrd_size_bound(b->fs, &io, &b->initrd_bound);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot walk the tree", b->o->source);
                b->initrd_size = MAX(b->initrd_bound, (uint64_t)1);
        }
        r = assemble_esp(b);
        if (r < 0)
                return r;
        b->prepared = 0;
        if (b->o->type == TB_MEDIUM_ISO) {
                tb_iso_options io;
                int64_t size, first = INT64_MAX, pin;

                r = plan_fat(b, &size);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < b->n_jobs; i++) {
                        int64_t off = tb_fat_file_offset(b->fat, b->jobs[i].esp_path);

                        if (off < 0)
                                return tb_log_errno((int)off, "ESP image: cannot lay out");
                        if (off < first) {
                                first = off;
                                b->prepared = i;
                        }
                }
                pin = tb_fat_pin_bound(b->fat, &b->fat_options, b->jobs[b->prepared].esp_path);
                if (pin < 0)
                        return tb_log_errno((int)pin, "ESP image: cannot lay out");
                io = iso_options(b, (uint64_t)size);
                r = tb_iso_esp_offset(&io, &b->esp_off);
                if (r < 0)
                        return r;
                r = open_output(b, "iso");
                if (r < 0)
                        return r;
                b->prepared_base = b->esp_off + (uint64_t)pin;
                b->fat_options.pin_offset = (uint64_t)pin;
        } else if (b->o->type == TB_MEDIUM_CONTAINER) {
                /* The first UKI of the layer (the ESP's sorted order) sits behind entries whose
                 * sizes do not depend on the initrd: its data offset in the image is final. */
                tb_container_options co;
                uint64_t first = UINT64_MAX;

                r = container_options(b, &co);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < b->n_jobs; i++) {
                        uint64_t off;

                        r = tb_container_data_offset(b->esp, &co, b->jobs[i].esp_path, &off);
                        if (r < 0)
                                return tb_log_errno(r, "image layer: cannot lay out");
                        if (off < first) {
                                first = off;
                                b->prepared = i;
                        }
                }
                r = open_output(b, "tar");
                if (r < 0)
                        return r;
                b->prepared_base = first;
        } else {
                b->prepared_path = tb_path_join(b->work, "uki");
                if (!b->prepared_path)
                        return tb_log_oom();
                b->initrd_fd = open(b->prepared_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (b->initrd_fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot create", b->prepared_path);
                b->prepared_base = 0;
        }
        if (fstat(b->initrd_fd, &st) < 0)
                return negative_errno();
        s = tb_pe_find_section(b->jobs[b->prepared].pe, ".initrd");
        if (!s)
                return -EINVAL;
        b->initrd_off = b->prepared_base + s->raw_offset;
        snprintf(b->initrd_src, sizeof(b->initrd_src), "/proc/self/fd/%d", b->initrd_fd);
        free_jobs(b);
        b->provisional = false;
        return 0;
}

/* tb_container_check_fn: the layer is complete (every UKI signed into its place, every header
 * written around them): each UKI is verified where it lies, the initrd checked in place. */
static int check_container_layer(int fd, void *userdata) {
        build *b = userdata;

        (void)fd;
        return verify_outputs(b, b->jobs, b->n_jobs, true);
}

/* -t container: the UKIs are signed straight into their place in the layer, the first one around
 * the initrd compressed there; the layer's digest is taken from the output once it is verified. */
static int write_container(build *b) {
        tb_container_options co;
        int r;

        r = container_options(b, &co);
        if (r < 0)
                return r;
        b->defer_verify = true;
        r = tb_container_write_fd(b->esp, &co, b->out.fd, b->out_path, check_container_layer, b);
        if (r < 0)
                return r;
        return commit_output(b);
}

static int write_output(build *b, char **ret_output) {
        _cleanup_(freep) char *out = NULL;
        int r;

        switch (b->o->type) {
        case TB_MEDIUM_UKI:
                out = strdup(b->o->output_dir);
                r = out ? tb_esp_write_tree(b->esp, b->o->output_dir) : tb_log_oom();
                break;
        case TB_MEDIUM_ISO:
                out = strdup(b->out_path);
                r = out ? write_iso(b) : tb_log_oom();
                break;
        case TB_MEDIUM_CONTAINER:
                out = strdup(b->out_path);
                r = out ? write_container(b) : tb_log_oom();
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        *ret_output = TAKE_PTR(out);
        return 0;
}

static int make_work_dir(build *b) {
        struct stat st;

        if (stat(b->o->output_dir, &st) < 0) {
                if (errno != ENOENT)
                        return tb_log_errno(negative_errno(), "%s: cannot use as output directory", b->o->output_dir);
                if (mkdir(b->o->output_dir, 0755) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot create", b->o->output_dir);
                b->created_outdir = true;
        } else if (!S_ISDIR(st.st_mode))
                return tb_log_errno(-ENOTDIR, "%s: cannot use as output directory", b->o->output_dir);
        else if (b->o->type == TB_MEDIUM_UKI)
                /* Fail before the work, not after: an ESP tree is never merged into another. */
                for (const char *const *top = (const char *const[]){ "EFI", "loader", NULL }; *top; top++) {
                        _cleanup_(freep) char *p = tb_path_join(b->o->output_dir, *top);

                        if (!p)
                                return tb_log_oom();
                        if (tb_path_exists(p)) {
                                tb_err("%s: already holds an ESP tree (%s/); choose an empty directory", b->o->output_dir,
                                       *top);
                                return -EEXIST;
                        }
                }
        return tb_workdir_create(b->o->output_dir, ".trustboot-build", &b->work);
}

int tb_medium_build(const tb_medium_options *o, char **ret_output) {
        build b = { .o = o, .kernel_fd = -1, .stub_fd = -1, .sdboot_fd = -1, .initrd_fd = -1,
                    .out = TB_ATOMIC_FILE_INIT };
        int r;

        r = load_keys(&b);
        if (r >= 0)
                r = plan_entries(&b);
        if (r >= 0)
                r = read_rootfs_inputs(&b);
        if (r >= 0)
                r = choose_init(&b);
        if (r >= 0)
                r = check_efi_binaries(&b);
        if (r >= 0)
                r = make_work_dir(&b);
        if (r >= 0)
                r = layout_initrd(&b);
        if (r >= 0)
                r = make_initrd(&b);
        if (r >= 0)
                r = measure_common_sections(&b);
        if (r >= 0)
                r = assemble_esp(&b);
        if (r >= 0)
                r = write_output(&b, ret_output);
        if (r >= 0)
                b.created_outdir = false; /* keep it: it holds the output now */
        /* After the build, so that it is the last thing said (and a refusal stays one line). */
        if (r >= 0 && b.no_init)
                tb_warn("%s: neither /usr/bin/trustboot nor /init in the image: the medium boots a kernel with no "
                        "init, it cannot install or unlock (install trustboot in the image, or give --init PATH)",
                        o->source);
        build_done(&b);
        return r;
}

void tb_medium_outcome_done(tb_medium_outcome *out) {
        free(out->output);
        free(out->pushed);
        tb_registry_summary_done(&out->pulled);
        *out = (tb_medium_outcome){};
}

int tb_medium_build_and_push(const tb_medium_options *o, const tb_medium_run *run, tb_medium_outcome *ret) {
        _cleanup_(tb_keyset_signing_done) tb_keyset_signing keys = {};
        _cleanup_(tb_medium_outcome_done) tb_medium_outcome out = {};
        tb_medium_options b = *o;
        int r;

        if (run->keys_dir) {
                r = tb_keyset_signing_refs(run->keys_dir, &keys);
                if (r < 0)
                        return r;
                b.sb_key = keys.sb_key;
                b.sb_cert = keys.sb_cert;
                b.pcr_key = keys.pcr_key;
                if (!b.public_keys)
                        b.public_keys = run->keys_dir;
        }
        b.pull_summary = &out.pulled;
        r = tb_medium_build(&b, &out.output);
        if (r < 0)
                return r;
        if (run->push) {
                r = tb_registry_push_archive(out.output, run->push, run->push_mount_from, &b.registry, &out.pushed);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_STRUCT(out);
        return 0;
}

json_object *tb_medium_outcome_json(const tb_medium_outcome *out) {
        _cleanup_(json_object_putp) json_object *j = json_object_new_object();
        json_object *v;

        if (!j)
                return NULL;
        if (!(v = json_object_new_string(out->output)) || json_object_object_add(j, "output", v) < 0)
                return NULL;
        if (out->pulled.reference &&
            (!(v = tb_registry_summary_json(&out->pulled)) || json_object_object_add(j, "pulled", v) < 0))
                return NULL;
        if (out->pushed && (!(v = json_object_new_string(out->pushed)) || json_object_object_add(j, "pushed", v) < 0))
                return NULL;
        return TAKE_PTR(j);
}
