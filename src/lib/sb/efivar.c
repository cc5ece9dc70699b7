/* efivar.c — EFI variables through efivarfs (see efivar.h). */
#include "sb/efivar.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strset.h"

/* 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f, in its on-disk (mixed-endian) layout. */
const tb_guid TB_GUID_LOADER = { { 0x82, 0xb0, 0x67, 0x4a, 0x4c, 0x0a, 0xcf, 0x41, 0xb6, 0xc7, 0x44, 0x0b, 0x29,
                                   0xbb, 0x8c, 0x4f } };

/* Variables are small; dbx is the largest one a firmware holds (tens of KiB). */
#define EFIVAR_MAX ((size_t)1 << 20)

static char *efivar_path(const char *dir, const char *name, const tb_guid *vendor) {
        char g[TB_GUID_STRING_MAX], *p = NULL;

        tb_guid_to_string(vendor, g);
        if (asprintf(&p, "%s/%s-%s", dir ? dir : TB_EFIVAR_DIR_DEFAULT, name, g) < 0)
                return NULL;
        return p;
}

int tb_efivar_read(const char *dir, const char *name, const tb_guid *vendor, uint32_t *ret_attrs, tb_buf *out) {
        _cleanup_(freep) char *path = efivar_path(dir, name, vendor);
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        int r;

        if (!path)
                return tb_log_oom();
        r = tb_read_file(path, EFIVAR_MAX + 4, &b);
        if (r < 0)
                return r;
        if (b.len < 4)
                return -EBADMSG;
        if (ret_attrs)
                *ret_attrs = (uint32_t)b.data[0] | (uint32_t)b.data[1] << 8 | (uint32_t)b.data[2] << 16 |
                             (uint32_t)b.data[3] << 24;
        return tb_buf_append(out, b.data + 4, b.len - 4);
}

/* efivarfs marks most variables immutable so that "rm -rf /" cannot brick a machine. A plain
 * directory (tests) or a file system without the flag answers ENOTTY/EOPNOTSUPP: nothing to do. */
static int immutable_set(int fd, bool on, bool *ret_was) {
        int flags;

        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
                return (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL) ? 0 : negative_errno();
        if (ret_was)
                *ret_was = flags & FS_IMMUTABLE_FL;
        if (!!(flags & FS_IMMUTABLE_FL) == on)
                return 0;
        flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
                return negative_errno();
        return 0;
}

int tb_efivar_write(const char *dir, const char *name, const tb_guid *vendor, uint32_t attrs, const void *data,
                    size_t len) {
        _cleanup_(freep) char *path = efivar_path(dir, name, vendor);
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(closep) int fd = -EBADF;
        bool was_immutable = false;
        int r;

        if (!path)
                return tb_log_oom();
        /* An existing variable: drop its immutable flag first (open O_RDONLY works even then). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
                r = immutable_set(fd, false, &was_immutable);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot clear the immutable flag", path);
                close(fd);
                fd = -EBADF; /* NOLINT(clang-analyzer-deadcode.DeadStores): read by the cleanup */
        } else if (errno != ENOENT)
                return tb_log_errno(negative_errno(), "%s: cannot open", path);

        if (len == 0) {
                if (unlink(path) < 0 && errno != ENOENT)
                        return tb_log_errno(negative_errno(), "%s: cannot delete", path);
                return 0;
        }

        if (tb_buf_append_u32le(&b, attrs) < 0 || tb_buf_append(&b, data, len) < 0)
                return tb_log_oom();
        /* No O_TRUNC, as systemd: efivarfs replaces the whole variable on write() and has no
         * truncate. A plain directory (tests) is truncated after the write instead. */
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open for writing", path);
        /* efivarfs takes a variable in exactly one write() call: no partial writes, no loop. */
        ssize_t n = write(fd, b.data, b.len);
        if (n < 0)
                return tb_log_errno(negative_errno(), "%s: cannot write", path);
        if ((size_t)n != b.len)
                return tb_log_errno(-EIO, "%s: short write", path);
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot stat the file system", path);
        if (sfs.f_type != EFIVARFS_MAGIC && ftruncate(fd, (off_t)b.len) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot truncate", path);
        if (was_immutable)
                (void)immutable_set(fd, true, NULL);
        return 0;
}

static int utf16_to_ascii(const uint8_t *p, size_t n_units, char **ret) {
        char *s = malloc(n_units + 1);

        if (!s)
                return tb_log_oom();
        for (size_t i = 0; i < n_units; i++) {
                uint16_t u = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
                if (u == 0 || u > 0x7e || u < 0x20) {
                        free(s);
                        return -EBADMSG;
                }
                s[i] = (char)u;
        }
        s[n_units] = 0;
        *ret = s;
        return 0;
}

/* The UTF-16 variable NAME into B, *RET_UNITS its length in 16-bit units. */
static int read_utf16(const char *dir, const char *name, const tb_guid *vendor, tb_buf *b, size_t *ret_units) {
        int r = tb_efivar_read(dir, name, vendor, NULL, b);

        if (r < 0)
                return r;
        if (b->len % 2)
                return -EBADMSG;
        *ret_units = b->len / 2;
        return 0;
}

int tb_efivar_read_string(const char *dir, const char *name, const tb_guid *vendor, char **ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        size_t units;
        int r;

        r = read_utf16(dir, name, vendor, &b, &units);
        if (r < 0)
                return r;
        /* The terminating NUL is optional: some firmware-set variables lack it. */
        if (units > 0 && b.data[2 * units - 2] == 0 && b.data[2 * units - 1] == 0)
                units--;
        return utf16_to_ascii(b.data, units, ret);
}

int tb_efivar_read_string_list(const char *dir, const char *name, const tb_guid *vendor, char ***ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(tb_strv_freep) char **l = NULL;
        size_t n = 0, units, start = 0;
        int r;

        r = read_utf16(dir, name, vendor, &b, &units);
        if (r < 0)
                return r;
        if (units > 0 && (b.data[2 * units - 2] || b.data[2 * units - 1]))
                return -EBADMSG;
        for (size_t i = 0; i < units; i++) {
                _cleanup_(freep) char *s = NULL;

                if (b.data[2 * i] || b.data[2 * i + 1])
                        continue;
                r = i > start ? utf16_to_ascii(b.data + 2 * start, i - start, &s) : -EBADMSG;
                start = i + 1;
                if (r == -EBADMSG)
                        continue; /* an empty or non-ASCII item: not one of ours */
                if (r < 0)
                        return r;
                if (tb_strv_push(&l, &n, s) < 0)
                        return tb_log_oom();
        }
        if (!l && !(l = calloc(1, sizeof(char *))))
                return tb_log_oom();
        *ret = TAKE_PTR(l);
        return 0;
}

int tb_efivar_write_string(const char *dir, const char *name, const tb_guid *vendor, const char *value) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;

        for (const char *p = value; *p; p++) {
                if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                        return tb_log_errno(-EINVAL, "%s: not a printable ASCII value for %s", value, name);
                if (tb_buf_append_u16le(&b, (uint16_t)*p) < 0)
                        return tb_log_oom();
        }
        if (tb_buf_append_u16le(&b, 0) < 0)
                return tb_log_oom();
        return tb_efivar_write(dir, name, vendor, TB_EFIVAR_ATTRS_NV_BS_RT, b.data, b.len);
}
