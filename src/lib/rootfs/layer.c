#include "rootfs/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "rootfs/oci.h"
#include "rootfs/xattr.h"
#include "util/safefs.h"
#include "util/strset.h"

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define IOBUF ((size_t)256 * 1024)

struct apply {
        const tb_layer_source *src;
        int rootfd;
        int fd;
        bool root; /* running as root: owners and device nodes can be made */

        EVP_MD_CTX *blob_md; /* over the bytes of the file: the layer digest */
        EVP_MD_CTX *tar_md;  /* over the uncompressed tar: the diff id */
        uint64_t blob_bytes;
        struct archive *outer; /* decompression only (raw format) */
        struct archive *inner; /* tar parsing of what outer yields */
        uint8_t *rbuf, *tbuf, *dbuf;

        bool source_failed; /* the read callback failed and said why: say nothing more */
        bool over_budget;

        tb_strset *made;  /* members of this layer, for opaque whiteouts and duplicates */
        char *cached_dir; /* the last parent directory opened, and its fd */
        int cached_fd;
};

static ssize_t outer_read(struct archive *a, void *userdata, const void **buf) {
        struct apply *ap = userdata;
        ssize_t n;

        if (ap->src->read) {
                n = ap->src->read(ap->src->read_userdata, ap->rbuf, IOBUF);
                if (n < 0) {
                        ap->source_failed = true;
                        archive_set_error(a, (int)-n, "read error");
                        return -1;
                }
        } else
                do
                        n = read(ap->fd, ap->rbuf, IOBUF);
                while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read error");
                return -1;
        }
        EVP_DigestUpdate(ap->blob_md, ap->rbuf, (size_t)n);
        ap->blob_bytes += (uint64_t)n;
        *buf = ap->rbuf;
        return n;
}

static ssize_t inner_read(struct archive *a, void *userdata, const void **buf) {
        struct apply *ap = userdata;
        la_ssize_t n = archive_read_data(ap->outer, ap->tbuf, IOBUF);

        if (n < 0) {
                archive_set_error(a, archive_errno(ap->outer) ?: EIO, "%s", archive_error_string(ap->outer) ?: "decompression error");
                return -1;
        }
        if (ap->src->budget) {
                tb_layer_budget *b = ap->src->budget;

                if ((uint64_t)n > b->bytes) {
                        char max[24];

                        /* libarchive's own printf knows no %llu: format the number here. */
                        snprintf(max, sizeof(max), "%" PRIu64, b->max_bytes);
                        ap->over_budget = true;
                        archive_set_error(a, EFBIG, "image larger than %s bytes uncompressed (--max-image-size)", max);
                        return -1;
                }
                b->bytes -= (uint64_t)n;
        }
        EVP_DigestUpdate(ap->tar_md, ap->tbuf, (size_t)n);
        *buf = ap->tbuf;
        return n;
}

static int fail(struct apply *ap, const char *member, int r, const char *what) {
        if (ap->source_failed)
                return r;
        if (ap->over_budget)
                r = -EFBIG;
        if (member)
                tb_err("%s: %s: %s", ap->src->name, member, what);
        else
                tb_err("%s: %s", ap->src->name, what);
        return r;
}

static int fail_errno(struct apply *ap, const char *member, int r, const char *what) {
        if (ap->source_failed)
                return r;
        return tb_log_errno(r, "%s: %s: %s", ap->src->name, member, what);
}

/* Opens the directory DIR under the root (creating it), reusing the last one when equal. */
static int parent_fd(struct apply *ap, const char *dir, int *ret) {
        int fd, r;

        if (ap->cached_dir && strcmp(ap->cached_dir, dir) == 0) {
                *ret = ap->cached_fd;
                return 0;
        }
        r = tb_mkdir_beneath(ap->rootfd, dir, &fd);
        if (r < 0)
                return r;
        free(ap->cached_dir);
        if (ap->cached_fd >= 0)
                close(ap->cached_fd);
        ap->cached_dir = strdup(dir);
        ap->cached_fd = fd;
        if (!ap->cached_dir)
                return tb_log_oom();
        *ret = fd;
        return 0;
}

static void forget_parent(struct apply *ap) {
        free(ap->cached_dir);
        ap->cached_dir = NULL;
        if (ap->cached_fd >= 0)
                close(ap->cached_fd);
        ap->cached_fd = -1;
}

static const char *lookup_error(int r) {
        switch (r) {
        case -ELOOP:
                return "path goes through a symlink";
        case -ENOTDIR:
                return "path goes through a non-directory";
        case -EXDEV:
                return "path leaves the root";
        default:
                return NULL;
        }
}

static int open_parent(struct apply *ap, const char *member, const char *dir, int *ret) {
        int r = parent_fd(ap, dir, ret);
        const char *why;

        if (r >= 0)
                return 0;
        why = lookup_error(r);
        if (why)
                return fail(ap, member, -EBADMSG, why);
        return fail_errno(ap, member, r, "cannot open parent directory");
}

struct opaque {
        struct apply *ap;
        const char *path;
};

static int make_opaque(struct apply *ap, int dfd, const char *path);

static int opaque_one(int dfd, const char *name, void *userdata) {
        struct opaque *o = userdata;
        _cleanup_(freep) char *full = o->path[0] ? tb_path_join(o->path, name) : strdup(name);
        _cleanup_(closep) int cfd = -1;
        struct stat st;

        if (!full)
                return tb_log_oom();
        if (!tb_strset_contains(o->ap->made, full))
                return tb_rm_rf_at(dfd, name);
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return 0;
        cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return cfd < 0 ? negative_errno() : make_opaque(o->ap, cfd, full);
}

/* Hides lower-layer entries under DIR (fd DFD, path PATH): everything not made by this layer,
 * at any depth, since a directory this layer made again still holds the lower one's contents. */
static int make_opaque(struct apply *ap, int dfd, const char *path) {
        struct opaque o = { .ap = ap, .path = path };

        return tb_dir_foreach(dfd, opaque_one, &o);
}

/* The parent of a whiteout, or -ENOENT when it names nothing in the tree. umoci writes
 * "d/.wh.x" after turning "d" into a symlink in the same layer: what it hides is gone already,
 * and a symlink is never followed, so such a whiteout has nothing to do. */
static int whiteout_parent(struct apply *ap, const char *member, const char *dir, int *ret) {
        int fd = tb_openat_beneath(ap->rootfd, dir, O_PATH | O_DIRECTORY);

        if (fd == -ENOENT || fd == -ELOOP || fd == -ENOTDIR) {
                tb_debug("%s: %s: whiteout below no directory, nothing to hide", ap->src->name, member);
                return -ENOENT;
        }
        if (fd < 0)
                return fail(ap, member, -EBADMSG, lookup_error(fd) ?: "cannot open parent directory");
        *ret = fd;
        return 0;
}

static int whiteout(struct apply *ap, const char *member, const char *dir, const char *base) {
        const char *target = base + strlen(WHITEOUT);
        _cleanup_(closep) int pfd = -1;
        int r;

        if (strcmp(base, OPAQUE) != 0) {
                if (strncmp(target, WHITEOUT, strlen(WHITEOUT)) == 0)
                        return 0; /* other aufs metadata (.wh..wh.plnk and such) carries no tree content */
                if (target[0] == '\0' || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
                        return fail(ap, member, -EBADMSG, "whiteout names no valid entry");
        }
        r = whiteout_parent(ap, member, dir, &pfd);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (strcmp(base, OPAQUE) == 0) {
                r = make_opaque(ap, pfd, dir);
                if (r < 0)
                        return fail_errno(ap, member, r, "cannot apply opaque whiteout");
                return 0;
        }
        r = tb_rm_rf_at(pfd, target);
        if (r < 0)
                return fail_errno(ap, member, r, "cannot apply whiteout");
        return 0;
}

static int copy_data(struct apply *ap, const char *member, int fd) {
        for (;;) {
                la_ssize_t n = archive_read_data(ap->inner, ap->dbuf, IOBUF);
                int r;

                if (n == 0)
                        return 0;
                if (n < 0)
                        return fail(ap, member, -EBADMSG, archive_error_string(ap->inner) ?: "bad data");
                r = tb_write_all(fd, ap->dbuf, (size_t)n);
                if (r < 0)
                        return fail_errno(ap, member, r, "cannot write");
        }
}

static int set_owner_mode(struct apply *ap, const char *member, int pfd, const char *base,
                          struct archive_entry *e, bool is_link) {
        mode_t perm = archive_entry_perm(e) & 07777;

        /* chown first: it clears setuid/setgid, which chmod then sets. */
        if (ap->root && fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
                                 AT_SYMLINK_NOFOLLOW) < 0)
                return fail_errno(ap, member, negative_errno(), "cannot set owner");
        if (!is_link && fchmodat(pfd, base, perm, 0) < 0)
                return fail_errno(ap, member, negative_errno(), "cannot set mode");
        return 0;
}

/* The entry's carried xattrs (PAX SCHILY.xattr.*: umoci, buildah and Docker write file
 * capabilities there) on FD, after chown (which clears security.capability). Without the
 * privilege to set one (not root) the attribute is named and skipped: the build goes on. */
static int set_xattrs(struct apply *ap, const char *member, int fd, struct archive_entry *e) {
        const char *name;
        const void *value;
        size_t size;

        if (archive_entry_xattr_reset(e) == 0)
                return 0;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if (!tb_xattr_carried(name))
                        continue;
                if (fsetxattr(fd, name, value, size, 0) == 0)
                        continue;
                if (errno != EPERM && errno != ENOTSUP)
                        return fail_errno(ap, member, negative_errno(), "cannot set an extended attribute");
                tb_warn("%s: %s: %s not kept: %s", ap->src->name, member, name, strerror(errno));
        }
        return 0;
}

static int make_file(struct apply *ap, const char *member, int pfd, const char *base, struct archive_entry *e) {
        _cleanup_(closep) int fd = -1;
        int r;

        fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return fail_errno(ap, member, negative_errno(), "cannot create");
        r = copy_data(ap, member, fd);
        if (r < 0)
                return r;
        if (ap->root && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
                return fail_errno(ap, member, negative_errno(), "cannot set owner");
        if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
                return fail_errno(ap, member, negative_errno(), "cannot set mode");
        return set_xattrs(ap, member, fd, e);
}

static int make_hardlink(struct apply *ap, const char *member, int pfd, const char *base, const char *target) {
        _cleanup_(freep) char *norm = NULL, *tdir = NULL;
        _cleanup_(closep) int tfd = -1;
        const char *tbase, *why;
        int r;

        r = tb_path_normalize(target, &norm);
        if (r < 0 || norm[0] == '\0')
                return fail(ap, member, -EBADMSG, "hardlink target is not a valid relative path");
        r = tb_path_split(norm, &tdir, &tbase);
        if (r < 0)
                return r;
        tfd = tb_openat_beneath(ap->rootfd, tdir, O_PATH | O_DIRECTORY);
        if (tfd < 0) {
                why = lookup_error(tfd);
                return fail(ap, member, -EBADMSG, why ?: "hardlink target does not exist");
        }
        if (linkat(tfd, tbase, pfd, base, 0) < 0) {
                r = negative_errno();
                if (r == -ENOENT || r == -EPERM)
                        return fail(ap, member, -EBADMSG, "hardlink target does not exist or is a directory");
                return fail_errno(ap, member, r, "cannot create hardlink");
        }
        return 0;
}

static int apply_entry(struct apply *ap, struct archive_entry *e) {
        _cleanup_(freep) char *path = NULL, *dir = NULL;
        const char *member = archive_entry_pathname(e), *base, *hardlink;
        mode_t type = archive_entry_filetype(e);
        struct stat st;
        bool exists;
        int pfd = -1, r;

        if (!member)
                return fail(ap, NULL, -EBADMSG, "member without a name");
        /* A directory named "/" is the root itself (umoci insert writes it; Docker and containerd
         * clean it to the extraction root): like "./", nothing to make. "/x" stays refused. */
        if (type == AE_IFDIR && member[0] == '/' && member[strspn(member, "/")] == '\0')
                return 0;
        r = tb_path_normalize(member, &path);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return fail(ap, member, -EBADMSG, "name is absolute, contains '..' or is too long");
        if (path[0] == '\0')
                return 0; /* "./": the root directory itself keeps its mode */
        r = tb_path_split(path, &dir, &base);
        if (r < 0)
                return r;

        if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0)
                return whiteout(ap, member, dir, base);

        r = tb_strset_add(ap->made, path);
        if (r < 0)
                return r;
        if (r == 0)
                return fail(ap, member, -EBADMSG, "duplicate entry");

        r = open_parent(ap, member, dir, &pfd);
        if (r < 0)
                return r;

        hardlink = archive_entry_hardlink(e);
        exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && !(type == AE_IFDIR && !hardlink && S_ISDIR(st.st_mode))) {
                /* A later layer replaces what an earlier one made. (Removals only ever happen
                 * below the cached parent, so the cache never points into a removed tree.) */
                r = tb_rm_rf_at(pfd, base);
                if (r < 0)
                        return fail_errno(ap, member, r, "cannot replace existing entry");
                exists = false;
        }

        if (hardlink)
                return make_hardlink(ap, member, pfd, base, hardlink);

        switch (type) {
        case AE_IFREG:
                return make_file(ap, member, pfd, base, e);
        case AE_IFDIR:
                if (!exists && mkdirat(pfd, base, 0700) < 0)
                        return fail_errno(ap, member, negative_errno(), "cannot create directory");
                r = set_owner_mode(ap, member, pfd, base, e, false);
                if (r >= 0 && archive_entry_xattr_count(e) > 0) {
                        _cleanup_(closep) int dfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                        if (dfd < 0)
                                return fail_errno(ap, member, negative_errno(), "cannot open directory");
                        r = set_xattrs(ap, member, dfd, e);
                }
                return r;
        case AE_IFLNK: {
                const char *target = archive_entry_symlink(e);

                /* The target is stored, never followed: it may point anywhere. */
                if (!target || !target[0])
                        return fail(ap, member, -EBADMSG, "symlink without a target");
                if (symlinkat(target, pfd, base) < 0)
                        return fail_errno(ap, member, negative_errno(), "cannot create symlink");
                return set_owner_mode(ap, member, pfd, base, e, true);
        }
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO: {
                dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));

                if (mknodat(pfd, base, type | 0600, dev) < 0)
                        return fail_errno(ap, member, negative_errno(), "cannot create device node or fifo");
                return set_owner_mode(ap, member, pfd, base, e, false);
        }
        case AE_IFSOCK:
                tb_debug("%s: %s: skipping socket", ap->src->name, member);
                return 0;
        default:
                return fail(ap, member, -EBADMSG, "unknown entry type");
        }
}

static int check_digest(struct apply *ap, EVP_MD_CTX *md, const char *want, const char *what) {
        uint8_t d[EVP_MAX_MD_SIZE];
        char got[TB_OCI_DIGEST_MAX];
        unsigned dl = 0;

        if (EVP_DigestFinal_ex(md, d, &dl) != 1)
                return -EIO;
        tb_oci_digest_format(d, got);
        if (strcmp(got, want) != 0) {
                tb_err("%s: %s mismatch: expected %s, got %s", ap->src->name, what, want, got);
                return -EIO;
        }
        return 0;
}

/* Reads what the tar did not need (end-of-archive padding) so that the digests cover it all. */
static int drain(struct apply *ap) {
        for (;;) {
                la_ssize_t n = archive_read_data(ap->outer, ap->tbuf, IOBUF);

                if (n < 0)
                        return fail(ap, NULL, -EBADMSG, archive_error_string(ap->outer) ?: "decompression error");
                if (n == 0)
                        break;
                if (ap->src->budget) {
                        if ((uint64_t)n > ap->src->budget->bytes) {
                                ap->over_budget = true;
                                return fail(ap, NULL, -EFBIG, "image larger than the uncompressed size limit (--max-image-size)");
                        }
                        ap->src->budget->bytes -= (uint64_t)n;
                }
                EVP_DigestUpdate(ap->tar_md, ap->tbuf, (size_t)n);
        }
        for (;;) {
                const void *buf;
                ssize_t n = outer_read(ap->outer, ap, &buf);

                if (n < 0)
                        return fail_errno(ap, "(blob)", negative_errno(), "read error");
                if (n == 0)
                        return 0;
        }
}

void tb_layer_budget_init(tb_layer_budget *b, uint64_t max_bytes, uint64_t max_entries) {
        b->bytes = b->max_bytes = max_bytes ?: TB_LAYER_DEFAULT_MAX_BYTES;
        b->entries = b->max_entries = max_entries ?: TB_LAYER_DEFAULT_MAX_ENTRIES;
}

static void apply_done(struct apply *ap) {
        forget_parent(ap);
        if (ap->inner)
                archive_read_free(ap->inner);
        if (ap->outer)
                archive_read_free(ap->outer);
        EVP_MD_CTX_free(ap->blob_md);
        EVP_MD_CTX_free(ap->tar_md);
        tb_strset_free(ap->made);
        free(ap->rbuf);
        free(ap->tbuf);
        free(ap->dbuf);
}

int tb_layer_apply(int rootfd, int fd, const tb_layer_source *src) {
        _cleanup_(apply_done) struct apply ap = {
                .src = src, .rootfd = rootfd, .fd = fd, .root = geteuid() == 0, .cached_fd = -1,
        };
        struct archive_entry *e;
        int r;

        ap.blob_md = EVP_MD_CTX_new();
        ap.tar_md = EVP_MD_CTX_new();
        ap.rbuf = malloc(IOBUF);
        ap.tbuf = malloc(IOBUF);
        ap.dbuf = malloc(IOBUF);
        ap.outer = archive_read_new();
        ap.inner = archive_read_new();
        if (!ap.blob_md || !ap.tar_md || !ap.rbuf || !ap.tbuf || !ap.dbuf || !ap.outer || !ap.inner)
                return tb_log_oom();
        r = tb_strset_new(&ap.made);
        if (r < 0)
                return r;
        if (EVP_DigestInit_ex(ap.blob_md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestInit_ex(ap.tar_md, EVP_sha256(), NULL) != 1)
                return -EIO;

        /* Two readers: the outer one only decompresses, so that the inner tar stream can be
         * hashed for the diff id on its way into the tar parser. */
        archive_read_support_filter_gzip(ap.outer);
        archive_read_support_filter_zstd(ap.outer);
        archive_read_support_format_raw(ap.outer);
        archive_read_support_format_tar(ap.inner);
        if (archive_read_open(ap.outer, &ap, NULL, outer_read, NULL) != ARCHIVE_OK)
                return fail(&ap, NULL, -EBADMSG, archive_error_string(ap.outer) ?: "cannot read layer");
        if (archive_read_next_header(ap.outer, &e) != ARCHIVE_OK)
                return fail(&ap, NULL, -EBADMSG, archive_error_string(ap.outer) ?: "empty layer");
        if (archive_read_open(ap.inner, &ap, NULL, inner_read, NULL) != ARCHIVE_OK)
                return fail(&ap, NULL, -EBADMSG, archive_error_string(ap.inner) ?: "not a tar archive");

        for (;;) {
                r = archive_read_next_header(ap.inner, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return fail(&ap, NULL, -EBADMSG, archive_error_string(ap.inner) ?: "bad tar header");
                if (src->budget) {
                        if (src->budget->entries == 0) {
                                tb_err("%s: image has more than %llu entries", src->name,
                                       (unsigned long long)src->budget->max_entries);
                                return -EFBIG;
                        }
                        src->budget->entries--;
                }
                r = apply_entry(&ap, e);
                if (r < 0)
                        return r;
        }

        r = drain(&ap);
        if (r < 0)
                return r;
        if (src->size != UINT64_MAX && src->size != ap.blob_bytes) {
                tb_err("%s: size mismatch: expected %llu bytes, got %llu", src->name,
                       (unsigned long long)src->size, (unsigned long long)ap.blob_bytes);
                return -EIO;
        }
        if (src->digest) {
                r = check_digest(&ap, ap.blob_md, src->digest, "digest");
                if (r < 0)
                        return r;
        }
        if (src->diff_id) {
                r = check_digest(&ap, ap.tar_md, src->diff_id, "diff id (uncompressed digest)");
                if (r < 0)
                        return r;
        }
        return 0;
}
