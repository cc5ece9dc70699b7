#include "rootfs/initrd.h"
#include "rootfs/xattr.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"

#define IOBUF ((size_t)1 << 20)
#define BLOCK (128 * 1024)
#define DEFAULT_LEVEL 6

/* Mount points at boot: their contents on the build host mean nothing to the booted system. */
static const char *const empty_dirs[] = { "boot", "dev", "proc", "run", "sys", "tmp" };

static bool is_empty_dir(const char *name);

struct link_slot {
        dev_t dev;
        ino_t ino;
        uint32_t assigned; /* 0: free slot */
};

struct writer {
        const tb_initrd_options *o;
        int fd;
        struct archive *a;
        struct archive_entry *e;
        uint8_t *buf;
        uint32_t next_ino;
        bool init_done;
        int io_error; /* from the output callback, which libarchive only reports as "fatal" */
        tb_initrd_stats stats;

        tb_buf xattrs; /* the TB_INITRD_XATTR_MANIFEST lines so far */
        size_t n_xattrs;

        struct link_slot *links; /* (dev, ino) of multiply linked files seen so far */
        size_t links_cap, links_n;
};

int tb_initrd_options_init(tb_initrd_options *o) {
        *o = (tb_initrd_options){ .compression = TB_INITRD_ZSTD, .level = -1 };
        return 0;
}

static const char *const compression_names[] = {
        [TB_INITRD_ZSTD] = "zstd",
        [TB_INITRD_XZ] = "xz",
        [TB_INITRD_GZIP] = "gzip",
        [TB_INITRD_NONE] = "none",
};

int tb_initrd_compression_from_string(const char *s, tb_initrd_compression *ret) {
        for (size_t i = 0; i < ARRAY_SIZE(compression_names); i++)
                if (strcmp(s, compression_names[i]) == 0) {
                        *ret = (tb_initrd_compression)i;
                        return 0;
                }
        return -EINVAL;
}

const char *tb_initrd_compression_to_string(tb_initrd_compression c) {
        return (unsigned)c < ARRAY_SIZE(compression_names) ? compression_names[c] : NULL;
}

static la_ssize_t out_write(struct archive *a, void *userdata, const void *data, size_t len) {
        struct writer *w = userdata;
        int r;

        r = tb_write_all(w->fd, data, len);
        if (r == 0 && w->o->sink)
                r = w->o->sink(data, len, w->o->sink_userdata);
        if (r < 0) {
                w->io_error = r;
                archive_set_error(a, -r, "write failed");
                return -1;
        }
        w->stats.bytes_out += len;
        return (la_ssize_t)len;
}

static uint64_t link_hash(dev_t dev, ino_t ino) {
        return ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)dev * 0xc2b2ae3d27d4eb4full);
}

static struct link_slot *link_find(struct link_slot *slots, size_t cap, dev_t dev, ino_t ino) {
        size_t i = (size_t)link_hash(dev, ino) & (cap - 1);

        while (slots[i].assigned && !(slots[i].dev == dev && slots[i].ino == ino))
                i = (i + 1) & (cap - 1);
        return &slots[i];
}

/* Returns the inode number already given to (DEV, INO), or 0 after recording ASSIGN for it. */
static int link_lookup_or_add(struct writer *w, dev_t dev, ino_t ino, uint32_t assign, uint32_t *ret) {
        struct link_slot *s;

        if ((w->links_n + 1) * 2 > w->links_cap) {
                size_t ncap = w->links_cap ? w->links_cap * 2 : 1024;
                struct link_slot *n = calloc(ncap, sizeof(*n));

                if (!n)
                        return tb_log_oom();
                for (size_t i = 0; i < w->links_cap; i++)
                        if (w->links[i].assigned)
                                *link_find(n, ncap, w->links[i].dev, w->links[i].ino) = w->links[i];
                free(w->links);
                w->links = n;
                w->links_cap = ncap;
        }
        s = link_find(w->links, w->links_cap, dev, ino);
        if (s->assigned) {
                *ret = s->assigned;
                return 0;
        }
        *s = (struct link_slot){ .dev = dev, .ino = ino, .assigned = assign };
        w->links_n++;
        *ret = 0;
        return 0;
}

static int archive_fail(struct writer *w, const char *path) {
        if (w->io_error)
                return tb_log_errno(w->io_error, "cannot write the initrd");
        tb_err("%s: %s", path, archive_error_string(w->a) ?: "cannot add to the initrd");
        return -EIO;
}

static int put_header(struct writer *w, const char *path) {
        if (archive_write_header(w->a, w->e) != ARCHIVE_OK)
                return archive_fail(w, path);
        w->stats.entries++;
        return 0;
}

static int emit_init(struct writer *w) {
        archive_entry_clear(w->e);
        archive_entry_set_pathname(w->e, "init");
        archive_entry_set_filetype(w->e, AE_IFLNK);
        archive_entry_set_perm(w->e, 0777);
        archive_entry_set_symlink(w->e, w->o->init);
        archive_entry_set_nlink(w->e, 1);
        archive_entry_set_size(w->e, 0);
        archive_entry_set_ino(w->e, w->next_ino++);
        archive_entry_set_mtime(w->e, (time_t)w->o->mtime, 0);
        w->init_done = true;
        return put_header(w, "init");
}

static int copy_file(struct writer *w, const tb_rootfs_entry *e) {
        _cleanup_(closep) int fd = -1;
        uint64_t left = (uint64_t)e->st.st_size;
        struct stat st;

        fd = openat(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", e->path);
        if (fstat(fd, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot stat", e->path);
        if (st.st_ino != e->st.st_ino || st.st_dev != e->st.st_dev || st.st_size != e->st.st_size) {
                tb_err("%s: changed while being read", e->path);
                return -EBUSY;
        }
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while (left > 0) {
                ssize_t n = read(fd, w->buf, left < IOBUF ? (size_t)left : IOBUF);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return tb_log_errno(negative_errno(), "%s: read error", e->path);
                if (n == 0) {
                        tb_err("%s: shrank while being read", e->path);
                        return -EBUSY;
                }
                if (archive_write_data(w->a, w->buf, (size_t)n) != n)
                        return archive_fail(w, e->path);
                left -= (uint64_t)n;
        }
        return 0;
}

bool tb_initrd_empties(const char *name) {
        return is_empty_dir(name);
}

static bool is_empty_dir(const char *name) {
        for (size_t i = 0; i < ARRAY_SIZE(empty_dirs); i++)
                if (strcmp(name, empty_dirs[i]) == 0)
                        return true;
        return false;
}


static int record_xattrs(struct writer *w, const tb_rootfs_entry *e) {
        char proc[64], names[4096], value[4096];
        _cleanup_(freep) char *path = NULL;
        ssize_t len;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d/", e->dirfd);
        if (asprintf(&path, "%s%s", proc, e->name) < 0)
                return tb_log_oom();
        len = llistxattr(path, names, sizeof(names));
        if (len < 0)
                return errno == ENOTSUP || errno == ENODATA ? 0 : tb_log_errno(negative_errno(), "%s: cannot list "
                                                                               "extended attributes", e->path);
        for (char *n = names; n < names + len; n += strlen(n) + 1) {
                if (!tb_xattr_carried(n))
                        continue;
                ssize_t vlen = lgetxattr(path, n, value, sizeof(value));
                if (vlen < 0)
                        return tb_log_errno(negative_errno(), "%s: %s: cannot read", e->path, n);
                _cleanup_(freep) char *hp = tb_hex_string(e->path, strlen(e->path));
                _cleanup_(freep) char *hv = tb_hex_string(value, (size_t)vlen);
                _cleanup_(freep) char *line = NULL;
                int k = hp && hv ? asprintf(&line, "%s %s %s\n", hp, n, hv) : -1;
                if (k < 0 || tb_buf_append(&w->xattrs, line, (size_t)k) < 0)
                        return tb_log_oom();
                w->n_xattrs++;
        }
        return 0;
}

/* The manifest as the last entry: root-only, so the booted system's users never saw it. */
static int emit_xattr_manifest(struct writer *w) {
        static const char header[] = TB_INITRD_XATTR_MANIFEST_HEADER "\n";
        const char *name = &TB_INITRD_XATTR_MANIFEST[1]; /* without the leading "/" */

        if (w->n_xattrs == 0)
                return 0;
        archive_entry_clear(w->e);
        archive_entry_set_pathname(w->e, name);
        archive_entry_set_filetype(w->e, AE_IFREG);
        archive_entry_set_perm(w->e, 0600);
        archive_entry_set_nlink(w->e, 1);
        archive_entry_set_size(w->e, (la_int64_t)(sizeof(header) - 1 + w->xattrs.len));
        archive_entry_set_ino(w->e, w->next_ino++);
        archive_entry_set_mtime(w->e, (time_t)w->o->mtime, 0);
        if (put_header(w, name) < 0)
                return -EIO;
        if (archive_write_data(w->a, header, sizeof(header) - 1) != (la_ssize_t)(sizeof(header) - 1) ||
            archive_write_data(w->a, w->xattrs.data, w->xattrs.len) != (la_ssize_t)w->xattrs.len)
                return archive_fail(w, name);
        return 0;
}

static int visit(const tb_rootfs_entry *e, void *userdata) {
        struct writer *w = userdata;
        mode_t type = e->st.st_mode & S_IFMT;
        bool data = false;
        uint32_t ino = 0;
        int r;

        if (e->depth == 1 && w->o->init && !w->init_done) {
                int c = strcmp(e->name, "init");

                if (c >= 0) {
                        r = emit_init(w);
                        if (r < 0)
                                return r;
                }
                if (c == 0)
                        return TB_ROOTFS_SKIP; /* replaced, with whatever was below it */
        }

        /* Before anything is opened: an excluded directory is not even listed. */
        if (tb_exclude_match(w->o->exclude, e->path, type == S_IFDIR, NULL) == TB_EXCLUDE_DROP) {
                w->stats.excluded++;
                return type == S_IFDIR ? TB_ROOTFS_SKIP : 0;
        }

        archive_entry_clear(w->e);
        archive_entry_set_pathname(w->e, e->path);
        archive_entry_set_mode(w->e, e->st.st_mode);
        archive_entry_set_uid(w->e, e->st.st_uid);
        archive_entry_set_gid(w->e, e->st.st_gid);
        archive_entry_set_mtime(w->e, (time_t)w->o->mtime, 0);
        archive_entry_set_nlink(w->e, type == S_IFDIR ? 2 : 1);
        archive_entry_set_size(w->e, 0);

        switch (type) {
        case S_IFREG:
                if ((uint64_t)e->st.st_size > UINT32_MAX) {
                        tb_err("%s: larger than 4 GiB, which a newc cpio cannot hold", e->path);
                        return -EFBIG;
                }
                if (e->st.st_nlink > 1) {
                        r = link_lookup_or_add(w, e->st.st_dev, e->st.st_ino, w->next_ino, &ino);
                        if (r < 0)
                                return r;
                        archive_entry_set_nlink(w->e, (unsigned)MIN(e->st.st_nlink, (nlink_t)UINT32_MAX));
                }
                data = ino == 0;
                archive_entry_set_size(w->e, data ? e->st.st_size : 0);
                if (!data)
                        w->stats.hardlinks++;
                break;
        case S_IFLNK:
                archive_entry_set_symlink(w->e, e->link_target);
                break;
        case S_IFCHR:
        case S_IFBLK:
                archive_entry_set_rdev(w->e, e->st.st_rdev);
                break;
        case S_IFDIR:
        case S_IFIFO:
        case S_IFSOCK:
                break;
        default:
                tb_err("%s: unknown file type", e->path);
                return -EBADMSG;
        }
        archive_entry_set_ino(w->e, ino ?: w->next_ino++);
        if (w->next_ino == 0) {
                tb_err("more than 2^32 entries");
                return -EFBIG;
        }

        if (((type == S_IFREG && data) || type == S_IFDIR) && (r = record_xattrs(w, e)) < 0)
                return r;
        r = put_header(w, e->path);
        if (r < 0)
                return r;
        if (data && e->st.st_size > 0) {
                r = copy_file(w, e);
                if (r < 0)
                        return r;
        }
        if (type == S_IFDIR && e->depth == 1 && is_empty_dir(e->name))
                return TB_ROOTFS_SKIP;
        return 0;
}

static int set_option(struct writer *w, const char *filter, const char *key, const char *value) {
        if (archive_write_set_filter_option(w->a, filter, key, value) != ARCHIVE_OK) {
                tb_err("%s: %s=%s: %s", filter, key, value ?: "(off)", archive_error_string(w->a) ?: "option rejected");
                return -EINVAL;
        }
        return 0;
}

static int setup(struct writer *w) {
        const tb_initrd_options *o = w->o;
        char level[16], threads[16];
        unsigned n = o->threads;
        int r = 0;

        snprintf(level, sizeof(level), "%d", o->level >= 0 ? o->level : DEFAULT_LEVEL);
        if (n == 0) {
                long c = sysconf(_SC_NPROCESSORS_ONLN);

                n = c > 0 ? (unsigned)c : 1;
        }
        /* zstd's multi-threaded output does not depend on the number of workers (as long as it is
         * at least one), so the bytes are the same on any machine. */
        snprintf(threads, sizeof(threads), "%u", n);

        if (archive_write_set_format_cpio_newc(w->a) != ARCHIVE_OK)
                return -EIO;
        switch (o->compression) {
        case TB_INITRD_ZSTD:
                if (archive_write_add_filter_zstd(w->a) != ARCHIVE_OK)
                        return archive_fail(w, "zstd");
                r = set_option(w, "zstd", "compression-level", level);
                if (r >= 0)
                        r = set_option(w, "zstd", "threads", threads);
                break;
        case TB_INITRD_XZ:
                /* Multi-threaded xz splits blocks by thread count: single thread keeps bytes stable. */
                if (archive_write_add_filter_xz(w->a) != ARCHIVE_OK)
                        return archive_fail(w, "xz");
                r = set_option(w, "xz", "compression-level", level);
                break;
        case TB_INITRD_GZIP:
                if (archive_write_add_filter_gzip(w->a) != ARCHIVE_OK)
                        return archive_fail(w, "gzip");
                r = set_option(w, "gzip", "compression-level", level);
                if (r >= 0)
                        r = set_option(w, "gzip", "timestamp", NULL); /* no build time in the header */
                break;
        case TB_INITRD_NONE:
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        archive_write_set_bytes_per_block(w->a, BLOCK);
        archive_write_set_bytes_in_last_block(w->a, 1);
        if (archive_write_open2(w->a, w, NULL, out_write, NULL, NULL) != ARCHIVE_OK)
                return archive_fail(w, "initrd");
        return 0;
}

typedef struct bound_walk {
        const tb_initrd_options *o;
        uint64_t bytes;
} bound_walk;

#define NEWC_HEADER 110u

static uint64_t pad4(uint64_t n) {
        return (n + 3) & ~(uint64_t)3;
}

static int bound_visit(const tb_rootfs_entry *e, void *userdata) {
        bound_walk *b = userdata;
        mode_t type = e->st.st_mode & S_IFMT;
        uint64_t path = strlen(e->path) + 1;

        if (tb_exclude_match(b->o->exclude, e->path, type == S_IFDIR, NULL) == TB_EXCLUDE_DROP)
                return type == S_IFDIR ? TB_ROOTFS_SKIP : 0;
        /* The header and name, the data (every name of a hardlink counted), and room for the
         * entry's line in the xattr manifest (hex path, attribute name and value). */
        b->bytes += pad4(NEWC_HEADER + path) + 2 * path + 512;
        if (type == S_IFREG)
                b->bytes += pad4((uint64_t)e->st.st_size);
        else if (type == S_IFLNK)
                b->bytes += pad4(strlen(e->link_target));
        if (type == S_IFDIR && e->depth == 1 && is_empty_dir(e->name))
                return TB_ROOTFS_SKIP;
        return 0;
}

int tb_initrd_size_bound(tb_rootfs *fs, const tb_initrd_options *o, uint64_t *ret) {
        bound_walk b = { .o = o, .bytes = 2 * (NEWC_HEADER + 4096) + 4096 }; /* /init, trailer, manifest */
        int r;

        r = tb_rootfs_walk(fs, bound_visit, &b);
        if (r < 0)
                return r;
        /* Compression never grows the data by more than this: zstd's bound is 1/256 plus a
         * frame header, xz's and gzip's are smaller. */
        *ret = b.bytes + (o->compression == TB_INITRD_NONE ? 0 : b.bytes / 128 + (1u << 20));
        return 0;
}

int tb_initrd_write(tb_rootfs *fs, int fd, const tb_initrd_options *o, tb_initrd_stats *stats) {
        struct writer w = { .o = o, .fd = fd, .next_ino = 1 };
        int r;

        w.a = archive_write_new();
        w.e = archive_entry_new();
        w.buf = malloc(IOBUF);
        if (!w.a || !w.e || !w.buf) {
                r = tb_log_oom();
                goto out;
        }
        r = setup(&w);
        if (r < 0)
                goto out;
        r = tb_rootfs_walk(fs, visit, &w);
        if (r < 0)
                goto out;
        if (o->init && !w.init_done) {
                r = emit_init(&w);
                if (r < 0)
                        goto out;
        }
        r = emit_xattr_manifest(&w);
        if (r < 0)
                goto out;
        if (archive_write_close(w.a) != ARCHIVE_OK) {
                r = archive_fail(&w, "initrd");
                goto out;
        }
        w.stats.bytes_in = (uint64_t)archive_filter_bytes(w.a, 0);
        if (stats)
                *stats = w.stats;
out:
        if (w.a)
                archive_write_free(w.a);
        archive_entry_free(w.e);
        free(w.buf);
        free(w.links);
        tb_buf_free(&w.xattrs);
        return r;
}
