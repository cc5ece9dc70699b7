#include "medium/fatimg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"

#define SECTOR 512u
#define RESERVED_SECTORS 32u
#define RESERVED_MAX 0xFFFFu /* the BPB field has 16 bits */
#define N_FATS 2u
#define DIRENT 32u
#define FAT32_MIN_CLUSTERS 65525u
/* Up to this many clusters (256 MiB) the image uses 512-byte clusters, beyond it 4 KiB. */
#define SMALL_CLUSTERS_MAX ((uint64_t)FAT32_MIN_CLUSTERS * 8)
#define FAT_EOC 0x0FFFFFFFu
#define ATTR_DIR 0x10
#define ATTR_ARCHIVE 0x20
#define ATTR_VOLUME 0x08
#define ATTR_LFN 0x0F

typedef struct node node;
struct node {
        char *name;         /* long name as given */
        uint8_t short_name[11];
        bool need_lfn;
        bool is_dir;
        /* files: where the bytes come from */
        char *src_path;
        const void *data;
        tb_fat_write_fn write_fn; /* or a producer that writes them in place */
        void *write_userdata;
        uint64_t size;
        /* directories: children in name order */
        node **children;
        size_t n_children;
        node *parent;
        /* layout */
        uint32_t first_cluster;
        uint32_t n_clusters;
};

typedef struct layout {
        uint32_t reserved;       /* reserved sectors: 32, more when a file's place is pinned */
        uint32_t spc;            /* sectors per cluster */
        uint32_t cluster_bytes;
        uint32_t n_clusters;
        uint32_t fat_sectors;
        uint64_t total_sectors;
        uint32_t next_cluster;   /* allocation cursor */
        uint32_t *fat;
} layout;

struct tb_fat {
        node root;
        layout L;       /* from tb_fat_plan() */
        bool planned;
};

static void node_free(node *n) {
        for (size_t i = 0; i < n->n_children; i++) {
                node_free(n->children[i]);
                free(n->children[i]);
        }
        free(n->children);
        free(n->name);
        free(n->src_path);
}

int tb_fat_new(tb_fat **ret) {
        tb_fat *fat = calloc(1, sizeof(*fat));

        if (!fat)
                return tb_log_oom();
        fat->root.is_dir = true;
        *ret = fat;
        return 0;
}

void tb_fat_free(tb_fat *fat) {
        node_free(&fat->root);
        free(fat->L.fat);
        free(fat);
}

int tb_fat_name_valid(const char *name) {
        size_t l = strlen(name);

        if (l == 0 || l > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return -EINVAL;
        for (const char *p = name; *p; p++) {
                unsigned char c = (unsigned char)*p;

                if (c < 0x20 || c >= 0x7f || strchr("\"*/:<>?\\|", c))
                        return -EINVAL; /* ASCII only: we store UCS-2 by widening bytes */
        }
        if (name[l - 1] == '.' || name[l - 1] == ' ')
                return -EINVAL;
        return 0;
}

static node *find_child(node *dir, const char *name) {
        for (size_t i = 0; i < dir->n_children; i++)
                if (strcasecmp(dir->children[i]->name, name) == 0) /* FAT is case-insensitive */
                        return dir->children[i];
        return NULL;
}

static int add_child(node *dir, const char *name, size_t len, bool is_dir, node **ret) {
        node **c, *n;

        n = calloc(1, sizeof(*n));
        if (!n)
                return tb_log_oom();
        n->name = strndup(name, len);
        if (!n->name) {
                free(n);
                return tb_log_oom();
        }
        if (tb_fat_name_valid(n->name) < 0) {
                node_free(n);
                free(n);
                return -EINVAL;
        }
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sizeof one pointer is right */
        c = reallocarray(dir->children, dir->n_children + 1, sizeof(*c));
        if (!c) {
                node_free(n);
                free(n);
                return tb_log_oom();
        }
        n->is_dir = is_dir;
        n->parent = dir;
        dir->children = c;
        dir->children[dir->n_children++] = n;
        *ret = n;
        return 0;
}

/* Walks PATH, creating directories; returns the node for the last component (created as a file
 * or directory per IS_DIR). -EEXIST if a file is added twice or a path goes through a file. */
static int lookup(tb_fat *fat, const char *path, bool is_dir, node **ret) {
        node *cur = &fat->root;
        const char *p = path;
        int r;

        while (*p == '/')
                p++;
        if (!*p)
                return -EINVAL;
        while (*p) {
                size_t len = strcspn(p, "/");
                bool last = p[len] == '\0' || p[len + strspn(p + len, "/")] == '\0';
                char *name = strndup(p, len);
                node *n;

                if (!name)
                        return tb_log_oom();
                n = find_child(cur, name);
                free(name);
                if (n) {
                        if (last && (!is_dir || !n->is_dir))
                                return -EEXIST;
                        if (!n->is_dir)
                                return -ENOTDIR;
                } else {
                        r = add_child(cur, p, len, last ? is_dir : true, &n);
                        if (r < 0)
                                return r;
                }
                cur = n;
                p += len;
                while (*p == '/')
                        p++;
        }
        *ret = cur;
        return 0;
}

int tb_fat_add_dir(tb_fat *fat, const char *path) {
        node *n;

        return lookup(fat, path, true, &n);
}

int tb_fat_add_file(tb_fat *fat, const char *path, const char *src_path) {
        struct stat st;
        node *n;
        int r;

        if (stat(src_path, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if ((uint64_t)st.st_size > UINT32_MAX) /* FAT file size field */
                return -EFBIG;
        r = lookup(fat, path, false, &n);
        if (r < 0)
                return r;
        n->src_path = strdup(src_path);
        if (!n->src_path)
                return tb_log_oom();
        n->size = (uint64_t)st.st_size;
        return 0;
}

int tb_fat_add_producer(tb_fat *fat, const char *path, uint64_t size, tb_fat_write_fn fn, void *userdata) {
        node *n;
        int r;

        if (size > UINT32_MAX)
                return -EFBIG;
        r = lookup(fat, path, false, &n);
        if (r < 0)
                return r;
        n->write_fn = fn;
        n->write_userdata = userdata;
        n->size = size;
        return 0;
}

int tb_fat_add_data(tb_fat *fat, const char *path, const void *data, size_t len) {
        node *n;
        int r;

        if ((uint64_t)len > UINT32_MAX)
                return -EFBIG;
        r = lookup(fat, path, false, &n);
        if (r < 0)
                return r;
        n->data = data;
        n->size = len;
        return 0;
}

/* ---- names ---- */

static bool is_short_char(char c) {
        return isupper((unsigned char)c) || isdigit((unsigned char)c) || (c && strchr("!#$%&'()-@^_`{}~", c));
}

/* A name that is already a valid upper-case 8.3 name is stored as is, without a long name. */
static bool fits_8_3(const char *name, uint8_t out[11]) {
        const char *dot = strchr(name, '.');
        size_t base = dot ? (size_t)(dot - name) : strlen(name);
        size_t ext = dot ? strlen(dot + 1) : 0;

        if (base == 0 || base > 8 || ext > 3 || (dot && (ext == 0 || strchr(dot + 1, '.'))))
                return false;
        for (size_t i = 0; i < base; i++)
                if (!is_short_char(name[i]))
                        return false;
        for (size_t i = 0; i < ext; i++)
                if (!is_short_char(dot[1 + i]))
                        return false;
        memset(out, ' ', 11);
        memcpy(out, name, base); /* NOLINT(bugprone-not-null-terminated-result): a space-padded 8.3 field */
        if (dot)
                memcpy(out + 8, dot + 1, ext);
        return true;
}

static bool short_name_taken(const node *dir, const node *self, const uint8_t sn[11]) {
        for (size_t i = 0; i < dir->n_children; i++)
                if (dir->children[i] != self && memcmp(dir->children[i]->short_name, sn, 11) == 0)
                        return true;
        return false;
}

/* The Windows-style alias BASIS~N.EXT for a long name, unique within the directory. */
static int make_short_name(const node *dir, node *n) {
        const char *dot = strrchr(n->name, '.');
        char base[9] = "", ext[4] = "";
        size_t bl = 0, el = 0;

        if (fits_8_3(n->name, n->short_name) && !short_name_taken(dir, n, n->short_name)) {
                n->need_lfn = false;
                return 0;
        }
        n->need_lfn = true;
        for (const char *p = n->name; *p && p != dot && bl < 8; p++) {
                char c = (char)toupper((unsigned char)*p);

                if (c == ' ' || c == '.')
                        continue;
                base[bl++] = is_short_char(c) ? c : '_';
        }
        if (bl == 0)
                base[bl++] = '_';
        if (dot && dot != n->name)
                for (const char *p = dot + 1; *p && el < 3; p++) {
                        char c = (char)toupper((unsigned char)*p);

                        if (c != ' ')
                                ext[el++] = is_short_char(c) ? c : '_';
                }
        for (unsigned tail = 1; tail < 1000000; tail++) {
                char num[9];
                int nl = snprintf(num, sizeof(num), "~%u", tail);
                size_t keep = MIN(bl, 8 - (size_t)nl);

                memset(n->short_name, ' ', 11);
                memcpy(n->short_name, base, keep);
                memcpy(n->short_name + keep, num, (size_t)nl);
                memcpy(n->short_name + 8, ext, el);
                if (!short_name_taken(dir, n, n->short_name))
                        return 0;
        }
        return -EEXIST;
}

static uint8_t lfn_checksum(const uint8_t sn[11]) {
        uint8_t sum = 0;

        for (int i = 0; i < 11; i++)
                sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + sn[i]);
        return sum;
}

static size_t lfn_entries(const node *n) {
        return n->need_lfn ? (strlen(n->name) + 12) / 13 : 0;
}

static int cmp_nodes(const void *a, const void *b) {
        return strcmp((*(node *const *)a)->name, (*(node *const *)b)->name);
}

/* Names, sorted children, and the number of directory entries per directory. */
static int prepare(node *dir) {
        int r;

        if (dir->n_children > 1) /* qsort() wants a non-NULL base even for no elements */
                qsort(dir->children, dir->n_children, sizeof(node *), cmp_nodes);
        for (size_t i = 0; i < dir->n_children; i++) {
                r = make_short_name(dir, dir->children[i]);
                if (r < 0)
                        return r;
                if (dir->children[i]->is_dir) {
                        r = prepare(dir->children[i]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static uint64_t dir_bytes(const node *dir) {
        uint64_t n = dir->parent ? 2 : 1; /* "." and "..", or the volume label in the root */

        for (size_t i = 0; i < dir->n_children; i++)
                n += 1 + lfn_entries(dir->children[i]);
        return (n + 1) * DIRENT; /* and an end marker */
}

/* ---- layout ---- */

static uint64_t clusters_for(uint64_t bytes, uint32_t cluster_bytes) {
        return (bytes + cluster_bytes - 1) / cluster_bytes;
}

static uint64_t count_clusters(const node *n, uint32_t cluster_bytes) {
        uint64_t c = 0;

        if (!n->is_dir)
                return clusters_for(n->size, cluster_bytes);
        c = clusters_for(dir_bytes(n), cluster_bytes);
        for (size_t i = 0; i < n->n_children; i++)
                c += count_clusters(n->children[i], cluster_bytes);
        return c;
}

static uint64_t cluster_offset(const layout *L, uint32_t cluster) {
        return ((uint64_t)L->reserved + (uint64_t)N_FATS * L->fat_sectors + (uint64_t)(cluster - 2) * L->spc) * SECTOR;
}

/* Directories first (breadth-first from the root, so the root is cluster 2), then files. */
static void allocate(layout *L, node *n, bool dirs) {
        if (n->is_dir == dirs && (dirs || n->size > 0)) {
                uint64_t bytes = n->is_dir ? dir_bytes(n) : n->size;

                n->first_cluster = L->next_cluster;
                n->n_clusters = (uint32_t)clusters_for(bytes, L->cluster_bytes);
                for (uint32_t i = 0; i < n->n_clusters; i++)
                        L->fat[n->first_cluster + i] = i + 1 < n->n_clusters ? n->first_cluster + i + 1 : FAT_EOC;
                L->next_cluster += n->n_clusters;
        }
        if (n->is_dir)
                for (size_t i = 0; i < n->n_children; i++)
                        allocate(L, n->children[i], dirs);
}

static node *find_node(tb_fat *fat, const char *path) {
        node *cur = &fat->root;

        for (const char *p = path; cur && *p;) {
                size_t len;
                char *name;

                p += strspn(p, "/");
                len = strcspn(p, "/");
                if (len == 0)
                        break;
                name = strndup(p, len);
                if (!name)
                        return NULL;
                cur = cur->is_dir ? find_child(cur, name) : NULL;
                free(name);
                p += len;
        }
        return cur == &fat->root ? NULL : cur;
}

/* BOUND_SPC 0: the layout of the image. BOUND_SPC 1 or 8: the largest layout with that cluster
 * size that an image of files no larger than the current ones can have (for tb_fat_pin_bound()). */
static int compute_layout(tb_fat *fat, const tb_fat_options *o, layout *L, uint32_t bound_spc) {
        uint64_t need = 0, want;

        /* 512-byte clusters keep small images small (FAT32 needs 65525 clusters: 32 MiB at
         * least); larger images use 4 KiB clusters like mkfs.fat would. */
        for (L->spc = bound_spc ?: 1;; L->spc = 8) {
                L->cluster_bytes = L->spc * SECTOR;
                need = count_clusters(&fat->root, L->cluster_bytes);
                want = need + need / 50 + clusters_for(o->free_bytes, L->cluster_bytes) + 16;
                if (bound_spc == 1 && want >= SMALL_CLUSTERS_MAX)
                        want = SMALL_CLUSTERS_MAX - 1; /* larger ones get 4 KiB clusters */
                if (bound_spc || L->spc == 8 || want < SMALL_CLUSTERS_MAX)
                        break;
        }
        if (want < FAT32_MIN_CLUSTERS + 16)
                want = FAT32_MIN_CLUSTERS + 16;
        if (want > 0x0FFFFFF0u)
                return -EFBIG;
        L->n_clusters = (uint32_t)want;
        L->fat_sectors = (uint32_t)clusters_for(((uint64_t)L->n_clusters + 2) * 4, SECTOR);
        L->reserved = RESERVED_SECTORS;
        /* A bound layout may count fewer clusters than its files need (the FAT of the largest
         * image with 512-byte clusters): the table still takes every allocation. */
        L->fat = calloc((size_t)MAX((uint64_t)L->n_clusters, need) + 2, sizeof(uint32_t));
        if (!L->fat)
                return tb_log_oom();
        L->fat[0] = 0x0FFFFFF8u; /* media descriptor F8 */
        L->fat[1] = FAT_EOC;
        L->next_cluster = 2;
        allocate(L, &fat->root, true);
        allocate(L, &fat->root, false);
        if (o->pin_path && !bound_spc) {
                /* The file must start at PIN_OFFSET: more reserved sectors move the FAT tables
                 * and the data region up to it (the reserved count is the one free variable of
                 * the layout; the extra sectors are never written). */
                node *n = find_node(fat, o->pin_path);
                uint64_t natural;

                if (!n || n->is_dir || n->n_clusters == 0)
                        return -ENOENT;
                natural = cluster_offset(L, n->first_cluster);
                if (o->pin_offset < natural || (o->pin_offset - natural) % SECTOR ||
                    (o->pin_offset - natural) / SECTOR > RESERVED_MAX - L->reserved)
                        return -ERANGE;
                L->reserved += (uint32_t)((o->pin_offset - natural) / SECTOR);
        }
        L->total_sectors = L->reserved + (uint64_t)N_FATS * L->fat_sectors + (uint64_t)L->n_clusters * L->spc;
        if (L->total_sectors > UINT32_MAX)
                return -EFBIG;
        return 0;
}

/* ---- writing ---- */

static void fat_datetime(int64_t epoch, uint16_t *date, uint16_t *tim) {
        time_t t = (time_t)epoch;
        struct tm tm;

        if (epoch < 315532800 /* 1980-01-01 */ || !gmtime_r(&t, &tm) || tm.tm_year > 2107 - 1900) {
                *date = (0 << 9) | (1 << 5) | 1;
                *tim = 0;
                return;
        }
        *date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
        *tim = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
}

static void put_short_entry(uint8_t *e, const uint8_t name[11], uint8_t attr, uint32_t cluster, uint32_t size,
                            uint16_t date, uint16_t tim) {
        memcpy(e, name, 11);
        e[11] = attr;
        tb_put_u16le(e + 14, tim);   /* creation */
        tb_put_u16le(e + 16, date);
        tb_put_u16le(e + 18, date);  /* last access */
        tb_put_u16le(e + 20, (uint16_t)(cluster >> 16));
        tb_put_u16le(e + 22, tim);   /* modification */
        tb_put_u16le(e + 24, date);
        tb_put_u16le(e + 26, (uint16_t)cluster);
        tb_put_u32le(e + 28, size);
}

static uint8_t *put_lfn_entries(uint8_t *e, const node *n) {
        static const int offs[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
        size_t len = strlen(n->name), count = lfn_entries(n);
        uint8_t sum = lfn_checksum(n->short_name);

        /* Stored last part first; each holds 13 UCS-2 characters, NUL-terminated then 0xFFFF. */
        for (size_t k = count; k-- > 0;) {
                e[0] = (uint8_t)((k + 1) | (k + 1 == count ? 0x40 : 0));
                e[11] = ATTR_LFN;
                e[13] = sum;
                for (int j = 0; j < 13; j++) {
                        size_t idx = k * 13 + (size_t)j;
                        uint16_t ch = idx < len ? (uint8_t)n->name[idx] : idx == len ? 0x0000 : 0xFFFF;

                        tb_put_u16le(e + offs[j], ch);
                }
                e += DIRENT;
        }
        return e;
}

static int write_dir(int fd, uint64_t base, const layout *L, const node *dir, const tb_fat_options *o) {
        uint64_t bytes = (uint64_t)dir->n_clusters * L->cluster_bytes;
        uint8_t *buf = calloc(1, bytes), *e = buf;
        uint16_t date, tim;
        int r;

        if (!buf)
                return tb_log_oom();
        fat_datetime(o->epoch, &date, &tim);
        if (dir->parent) {
                static const uint8_t dot[11] = ".          ", dotdot[11] = "..         ";
                uint32_t up = dir->parent->parent ? dir->parent->first_cluster : 0; /* 0 means the root */

                put_short_entry(e, dot, ATTR_DIR, dir->first_cluster, 0, date, tim);
                put_short_entry(e + DIRENT, dotdot, ATTR_DIR, up, 0, date, tim);
                e += (size_t)2 * DIRENT;
        } else {
                uint8_t label[11];
                const char *l = o->label ? o->label : "EFI";

                memset(label, ' ', 11);
                for (size_t i = 0; i < 11 && l[i]; i++)
                        label[i] = (uint8_t)toupper((unsigned char)l[i]);
                put_short_entry(e, label, ATTR_VOLUME, 0, 0, date, tim);
                e += DIRENT;
        }
        for (size_t i = 0; i < dir->n_children; i++) {
                const node *c = dir->children[i];

                e = put_lfn_entries(e, c);
                put_short_entry(e, c->short_name, c->is_dir ? ATTR_DIR : ATTR_ARCHIVE, c->first_cluster,
                                c->is_dir ? 0 : (uint32_t)c->size, date, tim);
                e += DIRENT;
        }
        r = tb_pwrite_all(fd, buf, bytes, (off_t)(base + cluster_offset(L, dir->first_cluster)));
        free(buf);
        return r;
}

static int copy_into(int fd, const node *n, uint64_t off) {
        int src, r = 0;
        uint64_t done = 0;

        src = open(n->src_path, O_RDONLY | O_CLOEXEC);
        if (src < 0)
                return tb_log_errno(negative_errno(), "%s: cannot open", n->src_path);
        while (done < n->size) {
                loff_t out_off = (loff_t)(off + done);
                ssize_t k = copy_file_range(src, NULL, fd, &out_off, n->size - done, 0);

                if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
                        k = 0; /* fall back to read/write below */
                if (k < 0) {
                        r = tb_log_errno(negative_errno(), "%s: cannot copy", n->src_path);
                        break;
                }
                if (k == 0) {
                        uint8_t buf[1 << 16];
                        ssize_t m = read(src, buf, (size_t)MIN((uint64_t)sizeof(buf), n->size - done));

                        if (m <= 0) {
                                r = tb_log_errno(m < 0 ? negative_errno() : -EIO, "%s: changed while being copied",
                                                 n->src_path);
                                break;
                        }
                        r = tb_pwrite_all(fd, buf, (size_t)m, (off_t)(off + done));
                        if (r < 0)
                                break;
                        k = m;
                }
                done += (uint64_t)k;
        }
        close(src);
        return r;
}

static int write_nodes(int fd, uint64_t base, const layout *L, const node *n, const tb_fat_options *o) {
        uint64_t off;
        int r;

        if (n->is_dir) {
                r = write_dir(fd, base, L, n, o);
                for (size_t i = 0; r >= 0 && i < n->n_children; i++)
                        r = write_nodes(fd, base, L, n->children[i], o);
                return r;
        }
        if (n->size == 0)
                return 0;
        off = base + cluster_offset(L, n->first_cluster);
        if (n->write_fn)
                return n->write_fn(fd, off, n->write_userdata);
        if (n->src_path)
                return copy_into(fd, n, off);
        return tb_pwrite_all(fd, n->data, n->size, (off_t)off);
}

static void boot_sector(uint8_t *s, const layout *L, const tb_fat_options *o) {
        const char *l = o->label ? o->label : "EFI";

        memset(s, 0, SECTOR);
        memcpy(s, "\xEB\x58\x90" "MSWIN4.1", 11); /* NOLINT(bugprone-not-null-terminated-result): jump + OEM name */
        tb_put_u16le(s + 11, SECTOR);
        s[13] = (uint8_t)L->spc;
        tb_put_u16le(s + 14, (uint16_t)L->reserved);
        s[16] = N_FATS;
        s[21] = 0xF8;                       /* fixed disk */
        tb_put_u16le(s + 24, 32);           /* sectors per track, heads: conventional values */
        tb_put_u16le(s + 26, 64);
        tb_put_u32le(s + 32, (uint32_t)L->total_sectors);
        tb_put_u32le(s + 36, L->fat_sectors);
        tb_put_u32le(s + 44, 2);            /* root directory cluster */
        tb_put_u16le(s + 48, 1);            /* FSInfo sector */
        tb_put_u16le(s + 50, 6);            /* backup boot sector */
        s[64] = 0x80;
        s[66] = 0x29;
        tb_put_u32le(s + 67, o->volume_id);
        memset(s + 71, ' ', 11);
        for (size_t i = 0; i < 11 && l[i]; i++)
                s[71 + i] = (uint8_t)toupper((unsigned char)l[i]);
        memcpy(s + 82, "FAT32   ", 8); /* NOLINT(bugprone-not-null-terminated-result): fixed-width field */
        s[510] = 0x55;
        s[511] = 0xAA;
}

static void fsinfo_sector(uint8_t *s, const layout *L) {
        memset(s, 0, SECTOR);
        tb_put_u32le(s, 0x41615252);
        tb_put_u32le(s + 484, 0x61417272);
        tb_put_u32le(s + 488, L->n_clusters + 2 - L->next_cluster); /* free clusters */
        tb_put_u32le(s + 492, L->next_cluster);
        tb_put_u32le(s + 508, 0xAA550000);
}

int64_t tb_fat_plan(tb_fat *fat, const tb_fat_options *o) {
        int r;

        if (fat->planned) {
                free(fat->L.fat);
                fat->L = (layout){};
                fat->planned = false;
        }
        r = prepare(&fat->root);
        if (r < 0)
                return r;
        r = compute_layout(fat, o, &fat->L, 0);
        if (r < 0)
                return r;
        fat->planned = true;
        return (int64_t)(fat->L.total_sectors * SECTOR);
}

int64_t tb_fat_file_offset(tb_fat *fat, const char *path) {
        node *n = find_node(fat, path);

        if (!fat->planned)
                return -EINVAL;
        if (!n || n->is_dir || n->n_clusters == 0)
                return -ENOENT;
        return (int64_t)cluster_offset(&fat->L, n->first_cluster);
}

int64_t tb_fat_pin_bound(tb_fat *fat, const tb_fat_options *o, const char *path) {
        uint64_t best = 0;
        node *n;
        int r;

        r = prepare(&fat->root);
        if (r < 0)
                return r;
        n = find_node(fat, path);
        if (!n || n->is_dir || n->size == 0)
                return -ENOENT;
        /* The file's offset grows with the FAT, i.e. with the sizes, for a given cluster size:
         * the largest layout of each cluster size bounds every smaller image of that kind. */
        for (uint32_t spc = 1; spc <= 8; spc += 7) {
                layout L = {};

                r = compute_layout(fat, o, &L, spc);
                if (r >= 0)
                        best = MAX(best, cluster_offset(&L, n->first_cluster));
                free(L.fat);
                if (r < 0)
                        return r;
        }
        return (int64_t)best;
}

int tb_fat_write_at(tb_fat *fat, int fd, uint64_t base, const tb_fat_options *o) {
        const layout *L = &fat->L;
        _cleanup_(freep) uint32_t *table = NULL;
        uint8_t sec[SECTOR];
        int r;

        if (!fat->planned)
                return -EINVAL;
        boot_sector(sec, L, o);
        if ((r = tb_pwrite_all(fd, sec, SECTOR, (off_t)base)) < 0 ||
            (r = tb_pwrite_all(fd, sec, SECTOR, (off_t)(base + (uint64_t)6 * SECTOR))) < 0)
                return r;
        fsinfo_sector(sec, L);
        if ((r = tb_pwrite_all(fd, sec, SECTOR, (off_t)(base + SECTOR))) < 0 ||
            (r = tb_pwrite_all(fd, sec, SECTOR, (off_t)(base + (uint64_t)7 * SECTOR))) < 0)
                return r;
        table = malloc(((size_t)L->n_clusters + 2) * 4);
        if (!table)
                return tb_log_oom();
        for (uint32_t i = 0; i < L->n_clusters + 2; i++)
                tb_put_u32le((uint8_t *)&table[i], L->fat[i]); /* disk byte order */
        for (uint32_t f = 0; f < N_FATS; f++) {
                r = tb_pwrite_all(fd, table, ((size_t)L->n_clusters + 2) * 4,
                                  (off_t)(base + ((uint64_t)L->reserved + (uint64_t)f * L->fat_sectors) * SECTOR));
                if (r < 0)
                        return r;
        }
        return write_nodes(fd, base, L, &fat->root, o);
}

int64_t tb_fat_write(tb_fat *fat, int fd, const tb_fat_options *o) {
        int64_t size;
        int r;

        size = tb_fat_plan(fat, o);
        if (size < 0)
                return size;
        /* Sparse: the free clusters are never written. */
        if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0)
                return negative_errno();
        r = tb_fat_write_at(fat, fd, 0, o);
        return r < 0 ? r : size;
}
