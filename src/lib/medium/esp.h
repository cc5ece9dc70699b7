/* esp.h — the EFI System Partition as a manifest (ESP path → file or bytes), and the systemd-boot
 * configuration that goes into it (loader.conf, Type #1 entries; shared/research/formats.md §8).
 * The output writers (-t uki directory, FAT image for -t iso, container layer) all read it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct tb_esp tb_esp;

/* Writes an entry's SIZE bytes at offset OFF of FD itself (a UKI signed straight into its
 * place in the output, never staged in a scratch file). */
typedef int (*tb_esp_write_fn)(int fd, uint64_t off, void *userdata);

typedef struct tb_esp_entry {
        char *path;         /* relative, '/'-separated: "EFI/BOOT/BOOTX64.EFI" */
        bool is_dir;
        char *src_path;     /* file to copy, or NULL; with WRITE: the prepared file */
        tb_esp_write_fn write; /* or a producer of SIZE bytes, or NULL */
        void *write_userdata;
        uint64_t size;
        tb_buf data;        /* the bytes, when src_path and write are NULL */
} tb_esp_entry;

int tb_esp_new(tb_esp **ret);
void tb_esp_free(tb_esp *esp);
TB_DEFINE_CLEANUP(tb_esp *, tb_esp_free)

int tb_esp_add_dir(tb_esp *esp, const char *path);
int tb_esp_add_file(tb_esp *esp, const char *path, const char *src_path);
int tb_esp_add_data(tb_esp *esp, const char *path, const void *data, size_t len);
int tb_esp_add_producer(tb_esp *esp, const char *path, uint64_t size, tb_esp_write_fn fn, void *userdata);
/* A producer whose file PREPARED_PATH already holds part of the bytes (an initrd compressed into
 * its place in the UKI file): the directory writer moves that file into place and the producer
 * writes the rest into it at offset 0; other writers treat it as a plain producer. */
int tb_esp_add_producer_in(tb_esp *esp, const char *path, uint64_t size, tb_esp_write_fn fn, void *userdata,
                           const char *prepared_path);

/* Entries sorted by path, directories included (parents before children). */
size_t tb_esp_count(const tb_esp *esp);
const tb_esp_entry *tb_esp_get(const tb_esp *esp, size_t i);
/* Size of an entry's content in bytes (stat for files). */
int tb_esp_entry_size(const tb_esp_entry *e, uint64_t *ret);

/* Materializes the tree under DIR: all of it or nothing; existing entries are never replaced. */
int tb_esp_write_tree(const tb_esp *esp, const char *dir);

/* ---- systemd-boot configuration ---- */

typedef enum tb_enroll {
        TB_ENROLL_OFF,
        TB_ENROLL_MANUAL,
        TB_ENROLL_IF_SAFE, /* systemd-boot >= 253 */
        TB_ENROLL_FORCE,
} tb_enroll;

int tb_enroll_from_string(const char *s, tb_enroll *ret);
const char *tb_enroll_to_string(tb_enroll e);

/* "timeout 5\nconsole-mode max\neditor no\nsecure-boot-enroll MODE\n" */
int tb_esp_loader_conf(tb_enroll enroll, tb_buf *out);

typedef struct tb_esp_boot_entry {
        const char *title;
        const char *efi;      /* "/EFI/trustboot/norole.efi" */
        const char *options;  /* "@N": profile N of a multi-profile UKI (the stub reads the prefix), or NULL */
        const char *sort_key; /* or NULL */
        const char *version;  /* or NULL */
        const char *cmdline;  /* informational "cmdline" key as Kairos writes it, or NULL */
} tb_esp_boot_entry;

/* A Type #1 entry file (loader/entries/NAME.conf). Values must be single lines. */
int tb_esp_entry_conf(const tb_esp_boot_entry *e, tb_buf *out);
