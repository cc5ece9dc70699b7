/* medium.h — `build-uki`: from a root file system to signed UKIs, a signed systemd-boot with its
 * configuration and enrollment keys, and the output (ESP tree, ISO, or container). The pipeline
 * and its rules follow Kairos (shared/research/kairos.md §2); formats follow shared/research/formats.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "medium/esp.h"
#include "rootfs/initrd.h"
#include "rootfs/rootfs.h"

typedef enum tb_medium_type {
        TB_MEDIUM_UKI,       /* the ESP tree in the output directory */
        TB_MEDIUM_ISO,       /* an installable ISO */
        TB_MEDIUM_CONTAINER, /* a docker-archive image of the ESP files (upgrade payload) */
} tb_medium_type;

int tb_medium_type_from_string(const char *s, tb_medium_type *ret);

#define TB_MEDIUM_MAX_EXTRA 32
#define TB_MEDIUM_MAX_EXCLUDE 256

typedef struct tb_medium_options {
        const char *source;           /* dir:PATH, ocifile:FILE, oci-layout:PATH[:TAG], an image reference */
        tb_medium_type type;
        const char *output_dir;
        const char *name;             /* output base name, or NULL: <ID>-<VERSION_ID>-uki */

        const char *sb_key, *sb_cert; /* db key and certificate: sign every EFI binary */
        const char *pcr_key;          /* signs the PCR 11 policies */
        const char *public_keys;      /* dir with PK.auth KEK.auth db.auth, or NULL */

        const char *overlays[TB_ROOTFS_MAX_OVERLAYS]; /* merged over the rootfs, later ones winning */
        size_t n_overlays;
        const char *overlay_iso;
        const char *branding;         /* entry title, default "trustboot" */
        const char *cmdline;          /* base command line */
        const char *extend_cmdline;   /* appended to the default entry */
        const char *extra_cmdlines[TB_MEDIUM_MAX_EXTRA];
        size_t n_extra;
        const char *single_cmdlines[TB_MEDIUM_MAX_EXTRA]; /* "Title: args" */
        size_t n_single;
        tb_enroll enroll;
        bool enroll_given;            /* false: if-safe, or manual for systemd-boot < 253 */
        const char *splash;
        bool include_version;
        bool include_cmdline;
        const char *stub, *sdboot;    /* NULL: installed, or from the rootfs with sdboot_in_source */
        bool sdboot_in_source;
        bool cmd_lines_v2;            /* one multi-profile UKI: every -c/-s entry a profile (stub 257+) */
        const char *sbat[16];         /* SBAT text or @FILE merged into .sbat (medium/uki.h tb_uki_sbat) */
        size_t n_sbat;
        int stub_gen;                 /* the stub's generation for a stub newer than trustboot knows; 0: its own */
        unsigned banks;               /* PCR banks to sign policies for */
        const char *init;             /* /init symlink target in the initrd; NULL: /usr/bin/trustboot when
                                       * the image carries it, else the image's own /init */
        const char *excludes[TB_MEDIUM_MAX_EXCLUDE]; /* gitignore-style, left out of the initrd */
        size_t n_excludes;
        bool slim;                    /* the --slim preset (rootfs/exclude.h) */
        uint64_t efi_size_warn;       /* bytes: warn about a larger UKI (default 1 GiB) */
        tb_initrd_compression compression;
        int compression_level;
        int64_t epoch;
        tb_registry_options registry; /* registry sources: platform, TLS, cache */
        uint64_t max_image_size;      /* image sources: unpacked size limit (0: default) */
        tb_registry_summary *pull_summary; /* filled when the source is a registry image, or NULL */
} tb_medium_options;

void tb_medium_options_init(tb_medium_options *o);

/* Builds everything; on failure nothing is left in the output directory. Logs what fails.
 * On success *RET_OUTPUT (malloc'ed) names what was written. */
int tb_medium_build(const tb_medium_options *o, char **ret_output);

/* build-uki's whole run (`trustboot build-uki`): the signing keys from a key set, the build, and
 * the push of a container image. */
typedef struct tb_medium_run {
        const char *keys_dir;         /* a genkey output (sb/keyset.h tb_keyset_signing_refs) signing in place
                                       * of o->sb_key, sb_cert, pcr_key, and o->public_keys unless set; or NULL */
        const tb_imageref *push;      /* -t container: push the image just written to this reference, or NULL */
        const char *push_mount_from;  /* with PUSH: a repository path on its registry to mount blobs from */
} tb_medium_run;

typedef struct tb_medium_outcome {
        char *output;                 /* what was written (tb_medium_build) */
        tb_registry_summary pulled;   /* the source image, when it came from a registry (.reference set) */
        char *pushed;                 /* the pushed image, REGISTRY/REPO@sha256:..., or NULL */
} tb_medium_outcome;

/* Resolves RUN->keys_dir, builds (tb_medium_build, O->pull_summary ignored) and pushes what it
 * wrote: what was pushed is what is on disk. Logs what fails; *RET is set on success only. */
int tb_medium_build_and_push(const tb_medium_options *o, const tb_medium_run *run, tb_medium_outcome *ret);

/* The summary `build-uki --json` prints: {"output", "pulled" (tb_registry_summary_json) when
 * there was a pull, "pushed" when there was a push}. NULL when out of memory (not logged). */
json_object *tb_medium_outcome_json(const tb_medium_outcome *out);

void tb_medium_outcome_done(tb_medium_outcome *out);

/* Kairos' entry naming: "norole" + "_" + the extra arguments with every run of characters
 * outside [a-zA-Z0-9._-] replaced by "_", lower case (for -c), or the title (for -s). */
int tb_medium_entry_name(const char *base, const char *args, char **ret);
