#include "rootfs/exclude.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"

#define MAX_COMPONENTS 256

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

typedef struct pattern {
        char *text;       /* the pattern without '!', leading and trailing '/': components joined by NUL */
        char **comp;
        size_t n_comp;
        bool anchored, dir_only, negate;
        const char *group; /* --slim group, or NULL */
} pattern;

struct tb_exclude {
        pattern *p;
        size_t n;
};

int tb_exclude_new(tb_exclude **ret) {
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

void tb_exclude_free(tb_exclude *x) {
        for (size_t i = 0; i < x->n; i++) {
                free(x->p[i].text);
                free(x->p[i].comp);
        }
        free(x->p);
        free(x);
}

size_t tb_exclude_count(const tb_exclude *x) {
        return x->n;
}

/* What fnmatch(3) would silently take literally or git would reject: refuse it instead. */
static const char *check_component(const char *c) {
        if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
                return "'.' and '..' components are not allowed";
        if (strstr(c, "**") && strcmp(c, "**") != 0)
                return "'**' must be a whole path component";
        for (const char *p = c; *p; p++) {
                if (*p == '\\') {
                        if (!p[1])
                                return "ends with a lone '\\'";
                        p++;
                } else if (*p == '[') {
                        const char *q = p + 1;

                        if (*q == '!' || *q == '^')
                                q++;
                        if (*q == ']')
                                q++;
                        while (*q && *q != ']')
                                q++;
                        if (!*q)
                                return "unterminated '[' bracket";
                        p = q;
                }
        }
        return NULL;
}

static int add(tb_exclude *x, const char *pattern_text, const char *group, const char **ret_why) {
        const char *s = pattern_text, *why = NULL;
        pattern p = { .group = group };
        size_t len;
        pattern *np;

        if (s[0] == '#') {
                why = "starts with '#', a comment in .gitignore (write '\\#' for the name)";
                goto bad;
        }
        if (s[0] == '!') {
                p.negate = true;
                s++;
        }
        if (s[0] == '/') {
                p.anchored = true;
                s++;
        }
        len = strlen(s);
        if (len > 0 && s[len - 1] == '/') {
                p.dir_only = true;
                len--;
        }
        if (len == 0) {
                why = "empty pattern";
                goto bad;
        }
        if (len >= PATH_MAX) {
                why = "longer than a path can be";
                goto bad;
        }
        p.text = strndup(s, len);
        p.comp = calloc(MAX_COMPONENTS, sizeof(char *));
        if (!p.text || !p.comp) {
                free(p.text);
                free(p.comp);
                return -ENOMEM;
        }
        for (char *c = p.text;;) {
                char *slash = strchr(c, '/');

                if (slash) {
                        *slash = '\0';
                        p.anchored = true; /* a '/' inside anchors the pattern, as in git */
                }
                if (!*c)
                        why = "empty path component ('//')";
                else
                        why = check_component(c);
                if (!why && p.n_comp >= MAX_COMPONENTS)
                        why = "too many path components";
                if (why) {
                        free(p.text);
                        free(p.comp);
                        goto bad;
                }
                p.comp[p.n_comp++] = c;
                if (!slash)
                        break;
                c = slash + 1;
        }
        np = realloc(x->p, (x->n + 1) * sizeof(*np));
        if (!np) {
                free(p.text);
                free(p.comp);
                return -ENOMEM;
        }
        x->p = np;
        x->p[x->n++] = p;
        return 0;
bad:
        if (ret_why)
                *ret_why = why;
        return -EINVAL;
}

int tb_exclude_add(tb_exclude *x, const char *pattern_text, const char **ret_why) {
        return add(x, pattern_text, NULL, ret_why);
}

static bool match_components(char *const *pat, size_t np, char *const *comp, size_t nc) {
        if (np == 0)
                return nc == 0;
        if (strcmp(pat[0], "**") == 0) {
                if (np == 1)
                        return nc >= 1; /* a trailing "**" matches what is inside, not the directory itself */
                for (size_t k = 0; k <= nc; k++)
                        if (match_components(pat + 1, np - 1, comp + k, nc - k))
                                return true;
                return false;
        }
        return nc > 0 && fnmatch(pat[0], comp[0], 0) == 0 && match_components(pat + 1, np - 1, comp + 1, nc - 1);
}

tb_exclude_result tb_exclude_match(const tb_exclude *x, const char *path, bool is_dir, const char **ret_group) {
        char buf[PATH_MAX], *comp[MAX_COMPONENTS];
        size_t nc = 0, len = strlen(path);
        tb_exclude_result res = TB_EXCLUDE_KEEP;
        const char *group = NULL;

        if (!x || x->n == 0 || len >= sizeof(buf))
                goto done;
        memcpy(buf, path, len + 1);
        for (char *c = buf; nc < MAX_COMPONENTS;) {
                char *slash = strchr(c, '/');

                comp[nc++] = c;
                if (!slash)
                        break;
                *slash = '\0';
                c = slash + 1;
        }
        /* The last pattern that matches decides. */
        for (size_t i = x->n; i-- > 0;) {
                const pattern *p = &x->p[i];
                bool m;

                if (p->dir_only && !is_dir)
                        continue;
                m = p->anchored ? match_components(p->comp, p->n_comp, comp, nc)
                                : fnmatch(p->comp[0], comp[nc - 1], 0) == 0;
                if (m) {
                        res = p->negate ? TB_EXCLUDE_KEEP : TB_EXCLUDE_DROP;
                        group = p->group;
                        break;
                }
        }
done:
        if (ret_group)
                *ret_group = res == TB_EXCLUDE_DROP ? group : NULL;
        return res;
}

/* ---- --slim ---- */

static const struct {
        const char *group, *pattern;
} slim_table[] = {
        { "documentation", "/usr/share/doc/" },
        { "documentation", "/usr/share/gtk-doc/" },
        { "documentation", "/usr/share/devhelp/" },
        { "man/info pages", "/usr/share/man/" },
        { "man/info pages", "/usr/share/info/" },
        { "locales", "/usr/share/locale/*/" },
        { "static libraries and headers", "/usr/include/" },
        { "static libraries and headers", "/usr/local/include/" },
        { "static libraries and headers", "/usr/lib/**/*.a" },
        { "static libraries and headers", "/usr/lib64/**/*.a" },
        { "package-manager caches", "/var/cache/apt/" },
        { "package-manager caches", "/var/lib/apt/lists/" },
        { "package-manager caches", "/var/cache/debconf/*-old" },
        { "package-manager caches", "/var/cache/man/" },
        { "package-manager caches", "/var/cache/dnf/" },
        { "package-manager caches", "/var/cache/yum/" },
        { "package-manager caches", "/var/cache/zypp/" },
        { "package-manager caches", "/var/cache/apk/" },
        { "package-manager caches", "/var/cache/pacman/pkg/" },
};

const char *const tb_exclude_slim_patterns[] = {
        "/usr/share/doc/", "/usr/share/gtk-doc/", "/usr/share/devhelp/", "/usr/share/man/", "/usr/share/info/",
        "/usr/share/locale/*/ (but the configured ones)", "/usr/include/", "/usr/local/include/", "/usr/lib/**/*.a",
        "/usr/lib64/**/*.a", "/var/cache/apt/", "/var/lib/apt/lists/", "/var/cache/debconf/*-old",
        "/var/cache/man/", "/var/cache/dnf/", "/var/cache/yum/", "/var/cache/zypp/", "/var/cache/apk/",
        "/var/cache/pacman/pkg/", NULL,
};

/* "de_DE.UTF-8@euro" → keep "de_DE@euro", "de_DE" and "de" (gettext's fallbacks). */
static int keep_locale(tb_exclude *x, const char *value) {
        char lang[64], buf[128];
        size_t n = strcspn(value, ".@: \t\"'\n");
        int r;

        if (n == 0 || n >= sizeof(lang) || strcmp(value, "C") == 0 || strncmp(value, "C.", 2) == 0 ||
            strcmp(value, "POSIX") == 0)
                return 0;
        memcpy(lang, value, n);
        lang[n] = '\0';
        for (const char *p = lang; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_')
                        return 0; /* not a locale name: keep nothing for it */
        snprintf(buf, sizeof(buf), "!/usr/share/locale/%s/", lang);
        r = add(x, buf, NULL, NULL);
        if (r >= 0 && strchr(lang, '_')) {
                lang[strcspn(lang, "_")] = '\0';
                snprintf(buf, sizeof(buf), "!/usr/share/locale/%s/", lang);
                r = add(x, buf, NULL, NULL);
        }
        return r;
}

static int keep_configured_locales(tb_exclude *x, tb_rootfs *fs, const char *file) {
        _cleanup_(closep) int fd = -1;
        _cleanup_(fclosep) FILE *f = NULL;
        char line[512];
        int r;

        if (tb_rootfs_open_file(fs, file, &fd) < 0)
                return 0; /* not configured there */
        f = fdopen(fd, "r");
        if (!f)
                return negative_errno();
        TAKE_FD(fd);
        while (fgets(line, sizeof(line), f)) {
                static const char *const keys[] = { "LANG=", "LC_ALL=", "LC_MESSAGES=", "LANGUAGE=" };
                char *v = line + strspn(line, " \t");

                for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
                        if (strncmp(v, keys[k], strlen(keys[k])) != 0)
                                continue;
                        v += strlen(keys[k]);
                        v += strspn(v, "\"'");
                        /* LANGUAGE is a ':'-separated list */
                        for (char *save = NULL, *w = strtok_r(v, ":", &save); w; w = strtok_r(NULL, ":", &save)) {
                                r = keep_locale(x, w);
                                if (r < 0)
                                        return r;
                        }
                        break;
                }
        }
        return 0;
}

int tb_exclude_add_slim(tb_exclude *x, tb_rootfs *fs) {
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(slim_table); i++) {
                r = add(x, slim_table[i].pattern, slim_table[i].group, NULL);
                if (r < 0)
                        return r;
        }
        r = keep_configured_locales(x, fs, "etc/locale.conf");
        if (r >= 0)
                r = keep_configured_locales(x, fs, "etc/default/locale");
        return r;
}

int tb_exclude_from_options(tb_rootfs *fs, const char *const *patterns, size_t n, bool slim, tb_exclude **ret) {
        _cleanup_(tb_exclude_freep) tb_exclude *x = NULL;
        int r;

        *ret = NULL;
        if (n == 0 && !slim)
                return 0;
        r = tb_exclude_new(&x);
        if (r >= 0 && slim)
                r = tb_exclude_add_slim(x, fs);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *why = NULL;

                r = tb_exclude_add(x, patterns[i], &why);
                if (r == -EINVAL)
                        tb_err("--exclude '%s': %s", patterns[i], why);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}
