/* fatimg.h — a FAT32 file system image (an ESP) written in one pass from a list of files.
 *
 * Why not mkfs.vfat + mcopy: those copy every byte twice and stamp the current time and a random
 * volume id, so two builds differ. Here the layout is computed from the sizes first, every file
 * lands in one contiguous cluster run (written with copy_file_range), and all timestamps and the
 * volume id come from the caller, so the image is reproducible. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

typedef struct tb_fat tb_fat;

int tb_fat_new(tb_fat **ret);
void tb_fat_free(tb_fat *fat);
TB_DEFINE_CLEANUP(tb_fat *, tb_fat_free)

/* Paths are inside the image, '/'-separated, with or without a leading '/'. Parent directories
 * are created as needed. Names keep their case (stored as long names when not plain 8.3). */
int tb_fat_add_dir(tb_fat *fat, const char *path);
/* Copies the file SRC_PATH (its size is taken now; it must not change before tb_fat_write). */
int tb_fat_add_file(tb_fat *fat, const char *path, const char *src_path);
/* Copies LEN bytes from DATA, which must stay valid until tb_fat_write(). */
int tb_fat_add_data(tb_fat *fat, const char *path, const void *data, size_t len);
/* A file of SIZE bytes that FN writes itself, at offset OFF of FD (its clusters are contiguous):
 * a UKI is signed straight into its place. FN must write exactly SIZE bytes there. */
typedef int (*tb_fat_write_fn)(int fd, uint64_t off, void *userdata);
int tb_fat_add_producer(tb_fat *fat, const char *path, uint64_t size, tb_fat_write_fn fn, void *userdata);

typedef struct tb_fat_options {
        const char *label;    /* up to 11 characters, stored upper case; NULL: "EFI" */
        uint32_t volume_id;   /* the serial number; derive it from the content for reproducibility */
        int64_t epoch;        /* every timestamp (clamped to FAT's 1980..2107) */
        uint64_t free_bytes;  /* free space to leave, in addition to a 2% margin */
        /* If set, the file PIN_PATH starts at byte PIN_OFFSET of the image (from
         * tb_fat_pin_bound(); the reserved area grows to fit, unwritten): its contents can be
         * written into place before the final sizes, and so the layout, are known. */
        const char *pin_path;
        uint64_t pin_offset;
} tb_fat_options;

/* Writes the image to FD (a regular file, truncated to the image size) starting at offset 0.
 * Returns the image size in bytes or a negative errno. Logs the source file on read errors. */
int64_t tb_fat_write(tb_fat *fat, int fd, const tb_fat_options *o);

/* The two halves of tb_fat_write(): the layout (returns the image size; nothing is written, no
 * file is read) and the writing at offset BASE of FD, whose range [BASE, BASE + size) must read
 * as zeros beforehand (new space or a hole): free clusters are never written. */
int64_t tb_fat_plan(tb_fat *fat, const tb_fat_options *o);
int tb_fat_write_at(tb_fat *fat, int fd, uint64_t base, const tb_fat_options *o);

/* Where the file PATH starts in the image planned last (bytes; -ENOENT for none or empty). */
int64_t tb_fat_file_offset(tb_fat *fat, const char *path);
/* An offset PATH can be pinned to (tb_fat_options.pin_offset) as long as no file grows beyond
 * its current size: the largest offset any such layout gives it. Files allocated before PATH
 * (in path order, after the directories) must keep their sizes exactly. */
int64_t tb_fat_pin_bound(tb_fat *fat, const tb_fat_options *o, const char *path);

/* Valid FAT long-name characters, and at most 255 of them (checked by the add functions). */
int tb_fat_name_valid(const char *name);
