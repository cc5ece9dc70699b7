/* modules.c — coldplug and named modules through libkmod (see modules.h for the why). */
#include "node/modules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/strset.h"

struct tb_modules {
        struct kmod_ctx *ctx;
        char *sysfs;
        tb_strset *seen; /* modaliases already resolved */
        tb_modules_stats stats;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* libkmod's own messages (debug level and up) go to our log only when debugging. The format is
 * libkmod's, passed through as its printf-style logging callback requires. */
_printf_(6, 0) static void kmod_log_fn(void *data, int priority, const char *file, int line, const char *fn, const char *format,
                        va_list args) {
        char msg[512];

        (void)data, (void)file, (void)line, (void)fn;
        if (priority > 4 && tb_log_get_level() < TB_LOG_DEBUG)
                return;
        vsnprintf(msg, sizeof(msg), format, args);
        msg[strcspn(msg, "\n")] = 0;
        tb_debug("libkmod: %s", msg);
}

int tb_modules_new(const char *dirname, const char *sysfs, tb_modules **ret) {
        _cleanup_(tb_modules_freep) tb_modules *m = calloc(1, sizeof(*m));

        if (!m || !(m->sysfs = strdup(sysfs ? sysfs : "/sys")) || tb_strset_new(&m->seen) < 0)
                return tb_log_errno(-ENOMEM, "kernel modules");
        m->ctx = kmod_new(dirname, NULL);
        if (!m->ctx)
                return tb_log_errno(-ENOMEM, "kernel modules: libkmod cannot start");
        kmod_set_log_fn(m->ctx, kmod_log_fn, NULL);
        /* The indexes (modules.dep.bin, modules.alias.bin, …) once, not per lookup. A tree
         * without them still loads what is built in; lookups then find nothing. */
        if (kmod_load_resources(m->ctx) < 0)
                tb_warn("%s: no module indexes (modules.dep.bin…; run depmod when building the image)",
                        kmod_get_dirname(m->ctx));
        *ret = TAKE_PTR(m);
        return 0;
}

void tb_modules_free(tb_modules *m) {
        if (!m)
                return;
        kmod_unref(m->ctx);
        tb_strset_free(m->seen);
        free(m->sysfs);
        free(m);
}

/* For a crypto API alias ("crypto-aes"): whether the kernel already offers the algorithm —
 * built in (Debian builds aes_generic in) while every module the alias names declined the CPU
 * (aesni_intel without AES-NI, padlock_aes off VIA). libkmod resolves an alias through
 * modules.alias before the built-in list, so it cannot say so itself; /proc/crypto can. */
static bool crypto_builtin(const char *lookup) {
        _cleanup_(tb_buf_freep) tb_buf buf = TB_BUF_INIT;
        const char *alg;
        size_t len;

        if (strncmp(lookup, "crypto-", 7) != 0 || tb_read_file("/proc/crypto", 4 << 20, &buf) < 0 ||
            tb_buf_append(&buf, "", 1) < 0)
                return false;
        alg = lookup + 7;
        len = strlen(alg);
        /* "name         : aes" lines, one per implementation */
        for (const char *line = (const char *)buf.data, *end; *line; line = *end ? end + 1 : end) {
                const char *v;

                end = strchrnul(line, '\n');
                if (strncmp(line, "name", 4) != 0 || !(v = memchr(line, ':', (size_t)(end - line))))
                        continue;
                v += 1 + strspn(v + 1, " \t");
                if ((size_t)(end - v) == len && strncmp(v, alg, len) == 0)
                        return true;
        }
        return false;
}

/* Inserts every module LOOKUP (a name or an alias) resolves to. Returns the number inserted,
 * -ENOENT when it resolves to nothing, or the first failure (logged). */
static int insert_lookup(tb_modules *m, const char *lookup, bool required, bool quiet_absent) {
        struct kmod_list *list = NULL, *it;
        int r, n = 0, first_error = 0, no_device = 0;
        bool served = false;

        r = kmod_module_new_from_lookup(m->ctx, lookup, &list);
        if (r < 0) {
                m->stats.failed++;
                tb_log(required ? TB_LOG_ERR : TB_LOG_WARN, "module %s: cannot look it up: %s", lookup, strerror(-r));
                return r;
        }
        if (!list) {
                if (!quiet_absent) {
                        m->stats.failed++;
                        tb_log(required ? TB_LOG_ERR : TB_LOG_WARN, "module %s: not in %s (modules.alias, modules.dep, "
                               "modules.builtin)", lookup, kmod_get_dirname(m->ctx));
                }
                return -ENOENT;
        }
        kmod_list_foreach(it, list) {
                struct kmod_module *mod = kmod_module_get_module(it);
                int before = kmod_module_get_initstate(mod);

                r = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST, NULL, NULL, NULL, NULL);
                if (r == 0 || r == -EEXIST)
                        served = true;
                if (r == -ENODEV || r == -ENXIO) {
                        /* A driver whose init finds nothing it handles: CPU frequency or EDAC
                         * drivers on a virtual CPU (coldplug; udev says nothing either), or one of
                         * an alias's alternatives (crypto "aes" → aesni_intel without AES-NI,
                         * padlock_aes off VIA CPUs) when another one serves. Said below only when
                         * nothing of an explicit request loaded. */
                        tb_debug("module %s (for %s): no device for it", kmod_module_get_name(mod), lookup);
                        if (!no_device)
                                no_device = r;
                } else if (r < 0 && r != -EEXIST) {
                        m->stats.failed++;
                        tb_log(required ? TB_LOG_ERR : TB_LOG_WARN, "module %s (for %s): cannot load: %s",
                               kmod_module_get_name(mod), lookup, strerror(-r));
                        if (!first_error)
                                first_error = r;
                } else if (r > 0) {
                        /* blacklisted (KMOD_PROBE_APPLY_BLACKLIST): the image said no */
                        tb_debug("module %s (for %s): blacklisted", kmod_module_get_name(mod), lookup);
                } else if (before != KMOD_MODULE_LIVE && before != KMOD_MODULE_BUILTIN &&
                           before != KMOD_MODULE_COMING) {
                        n++;
                        tb_debug("module %s loaded (for %s)", kmod_module_get_name(mod), lookup);
                }
                kmod_module_unref(mod);
        }
        kmod_module_unref_list(list);
        if (no_device && !served && !quiet_absent && crypto_builtin(lookup))
                tb_debug("module %s: the kernel has the algorithm built in", lookup);
        else if (no_device && !served && !quiet_absent) {
                m->stats.failed++;
                tb_log(required ? TB_LOG_ERR : TB_LOG_WARN, "module %s: cannot load: %s", lookup, strerror(-no_device));
                if (!first_error)
                        first_error = no_device;
        }
        m->stats.loaded += (unsigned)n;
        return first_error ? first_error : n;
}

int tb_modules_load(tb_modules *m, const char *name, bool required) {
        uint64_t t0 = now_usec();
        int r = insert_lookup(m, name, required, false);

        m->stats.usec += now_usec() - t0;
        return r < 0 ? r : 0;
}

static int read_modalias(int dfd, char *buf, size_t size) {
        _cleanup_(closep) int fd = openat(dfd, "modalias", O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n <= 0)
                return n < 0 ? negative_errno() : -ENODATA;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return *buf ? 0 : -ENODATA;
}

static int walk(int dfd, int depth, int (*fn)(const char *, void *), void *userdata) {
        char alias[4096];
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (read_modalias(dfd, alias, sizeof(alias)) == 0 && (r = fn(alias, userdata)) < 0) {
                close(dfd);
                return r;
        }
        if (depth > 64 || !(d = fdopendir(dfd))) {
                close(dfd);
                return 0;
        }
        while (r >= 0 && (de = readdir(d))) {
                /* sysfs device directories are real directories; links (subsystem, driver,
                 * device) lead back into the tree and are not followed. */
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        r = walk(sub, depth + 1, fn, userdata);
        }
        closedir(d);
        return r;
}

int tb_modules_foreach_modalias(const char *dir, int (*fn)(const char *modalias, void *userdata), void *userdata) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot list", dir);
        return walk(fd, 0, fn, userdata);
}

struct coldplug {
        tb_modules *m;
        int inserted;
        uint64_t insert_usec;
};

static int coldplug_one(const char *alias, void *userdata) {
        struct coldplug *c = userdata;
        int r = tb_strset_add(c->m->seen, alias);

        if (r <= 0)
                return r; /* seen before, or -ENOMEM */
        /* Most aliases name no module (built-in drivers, devices without one): not worth a line. */
        uint64_t t0 = now_usec();
        r = insert_lookup(c->m, alias, false, true);
        c->insert_usec += now_usec() - t0;
        if (r > 0)
                c->inserted += r;
        return 0;
}

int tb_modules_coldplug(tb_modules *m) {
        _cleanup_(freep) char *devices = tb_path_join(m->sysfs, "devices");
        struct coldplug c = { .m = m };
        uint64_t t0 = now_usec();
        int r;

        if (!devices)
                return tb_log_oom();
        r = tb_modules_foreach_modalias(devices, coldplug_one, &c);
        uint64_t spent = now_usec() - t0;
        m->stats.usec += spent;
        m->stats.walk_usec += spent - MIN(spent, c.insert_usec);
        m->stats.passes++;
        return r < 0 ? r : c.inserted;
}

void tb_modules_get_stats(const tb_modules *m, tb_modules_stats *ret) {
        *ret = m->stats;
}
