/* upgrade-stage.h — a new medium's norole UKIs with their entries, systemd-boot and loader.conf
 * copied into a private staging directory first, so that what trustboot upgrade checks is byte
 * for byte what it installs. Sources: those of rootfs.h, or an installable ISO (its ESP image
 * /efiboot.img). */
#pragma once

#include <stddef.h>

#include "util/buf.h"
#include "pe/pe.h"
#include "rootfs/rootfs.h"

/* A norole<suffix> UKI of the medium with its entry, open for the checks. */
typedef struct tb_upgrade_staged_uki {
        char *suffix;   /* "" for norole.efi */
        char *path;     /* DIR/norole<suffix>.efi */
        tb_buf conf;    /* loader/entries/norole<suffix>.conf */
        int fd;         /* read by pe, so closed after it */
        tb_pe *pe;
} tb_upgrade_staged_uki;

typedef struct tb_upgrade_staged {
        const char *source;             /* as the user named it, for messages */
        char *dir;                      /* the staging directory, removed by _done() */
        tb_rootfs *fs;
        char **efi_names, **conf_names; /* the medium's EFI/trustboot/norole*, loader/entries/norole* */
        size_t n_efi_names, n_conf_names;
        tb_upgrade_staged_uki *ukis;
        size_t n_ukis;
        char **conf_suffixes;           /* profile entries (no UKI of their own): norole<suffix>.conf */
        tb_buf *confs;                  /* their text, per conf_suffixes */
        size_t n_confs;
        char *sdboot;                   /* DIR/sdboot.efi, or NULL: the medium has none */
        tb_buf loader_conf;             /* empty if the medium has none */
        /* Set before tb_upgrade_stage_open(): the most the staged files may take (the ESP's size:
         * nothing larger can be installed); lowered to what the staging file system has free,
         * so that a hostile medium (a compression bomb) cannot fill it. 0: no limit but that. */
        uint64_t limit;
        uint64_t max_image_size;        /* set before open: an image source's unpacked bytes (0: default) */
        uint64_t staged;                /* bytes copied so far */
} tb_upgrade_staged;

/* Creates the staging directory under WORKDIR (NULL: $TMPDIR, else /var/tmp, else /tmp), opens
 * SOURCE (kept, not copied, until _done()) and lists its norole* names (at most
 * TB_UPGRADE_STAGE_MAX_NAMES: -E2BIG). Logs its errors. */
#define TB_UPGRADE_STAGE_MAX_NAMES 256
int tb_upgrade_stage_open(const char *source, const char *workdir, const tb_registry_options *registry,
                          tb_upgrade_staged *s);
/* Copies norole<suffix>.efi and reads norole<suffix>.conf for every suffix of the
 * NULL-terminated SUFFIXES, opens each UKI as a PE, then copies systemd-boot and loader.conf
 * when the medium has them. -ENOENT (logged, "not a trustboot medium") if a pair is missing;
 * -EFBIG (logged, the partial copy removed) past the limit. */
int tb_upgrade_stage_ukis(tb_upgrade_staged *s, char *const *suffixes);
/* Reads norole<suffix>.conf for every suffix of the NULL-terminated SUFFIXES: the profile
 * entries of a multi-profile medium, which boot a staged UKI. -ENOENT (logged) if one is missing. */
int tb_upgrade_stage_confs(tb_upgrade_staged *s, char *const *suffixes);
/* The staged UKI with SUFFIX, or NULL. */
const tb_upgrade_staged_uki *tb_upgrade_staged_find(const tb_upgrade_staged *s, const char *suffix);
/* The medium's entry text for SUFFIX: its UKI's entry, or a profile entry's; NULL if not staged. */
const tb_buf *tb_upgrade_staged_conf(const tb_upgrade_staged *s, const char *suffix);
void tb_upgrade_staged_done(tb_upgrade_staged *s);
