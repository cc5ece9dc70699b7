/* cloudconfig.c — cloud-config YAML (libyaml document API) → tb_cloudconfig. */
#include "node/cloudconfig.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "node/cmdline.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strset.h"

#define DEFAULT_OEM_MIB 64

typedef struct ctx {
        const char *name;
        yaml_document_t *doc;
} ctx;

static int bad(const ctx *x, const yaml_node_t *n, const char *key, const char *what) {
        tb_err("%s:%zu:%zu: %s: %s", x->name, n->start_mark.line + 1, n->start_mark.column + 1, key, what);
        return -EINVAL;
}

static const char *scalar(const yaml_node_t *n) {
        return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_bool(const ctx *x, const yaml_node_t *n, const char *key, bool *ret) {
        static const char *const yes[] = { "true", "yes", "on", "y" }, *const no[] = { "false", "no", "off", "n" };
        const char *s = scalar(n);

        for (size_t i = 0; s && i < ARRAY_SIZE(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return *ret = true, 0;
        for (size_t i = 0; s && i < ARRAY_SIZE(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return *ret = false, 0;
        return bad(x, n, key, "expected true or false");
}

static int get_u64(const ctx *x, const yaml_node_t *n, const char *key, uint64_t max, uint64_t *ret) {
        const char *s = scalar(n);
        char *end;

        if (!s || !*s || *s == '-' || *s == '+')
                return bad(x, n, key, "expected a number");
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return bad(x, n, key, "expected a number");
        *ret = v;
        return 0;
}

static int get_str(const ctx *x, const yaml_node_t *n, const char *key, char **ret) {
        const char *s = scalar(n);
        char *d;

        if (!s || !*s)
                return bad(x, n, key, "expected a non-empty string");
        if (!(d = strdup(s)))
                return tb_log_oom();
        free(*ret);
        *ret = d;
        return 0;
}

/* Calls FN(key, value node) for each pair of mapping N. */
typedef int (*pair_fn)(const ctx *x, const char *key, yaml_node_t *k, yaml_node_t *v, void *ud);

static int each_pair(const ctx *x, const yaml_node_t *n, const char *what, pair_fn fn, void *ud) {
        int r;

        if (n->type != YAML_MAPPING_NODE)
                return bad(x, n, what, "expected a mapping");
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(x->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(x->doc, p->value);
                if (!k || !v || !scalar(k))
                        return bad(x, n, what, "keys must be strings");
                if ((r = fn(x, scalar(k), k, v, ud)) < 0)
                        return r;
        }
        return 0;
}

static void unknown(const ctx *x, const yaml_node_t *k, const char *parent, const char *key) {
        tb_warn("%s:%zu:%zu: %s%s%s: unknown key, ignored", x->name, k->start_mark.line + 1,
                k->start_mark.column + 1, parent, *parent ? "." : "", key);
}

static void unsupported(const ctx *x, const yaml_node_t *k, const char *key) {
        tb_warn("%s:%zu:%zu: %s: not supported by trustboot, ignored", x->name, k->start_mark.line + 1,
                k->start_mark.column + 1, key);
}

static int pcr_mask(const ctx *x, const yaml_node_t *n, const char *key, uint32_t *ret) {
        uint32_t mask = 0;

        if (n->type != YAML_SEQUENCE_NODE)
                return bad(x, n, key, "expected a list of PCR numbers");
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
                yaml_node_t *e = yaml_document_get_node(x->doc, *i);
                uint64_t v;
                if (get_u64(x, e, key, 23, &v) < 0)
                        return bad(x, e, key, "expected PCR numbers 0…23");
                mask |= UINT32_C(1) << v;
        }
        *ret = mask;
        return 0;
}

static int part_size(const ctx *x, const char *key, yaml_node_t *k, yaml_node_t *v, void *ud) {
        if (strcmp(key, "size") == 0)
                return get_u64(x, v, "size", UINT64_C(1) << 32, ud);
        if (strcmp(key, "fs") == 0 || strcmp(key, "label") == 0) {
                unsupported(x, k, key);
                return 0;
        }
        unknown(x, k, "install.partitions.<partition>", key);
        return 0;
}

static int partitions(const ctx *x, const char *key, yaml_node_t *k, yaml_node_t *v, void *ud) {
        tb_cloudconfig *c = ud;

        if (strcmp(key, "oem") == 0)
                return each_pair(x, v, "install.partitions.oem", part_size, &c->oem_mib);
        if (strcmp(key, "persistent") == 0)
                return each_pair(x, v, "install.partitions.persistent", part_size, &c->persistent_mib);
        if (strcmp(key, "efi") == 0)
                return each_pair(x, v, "install.partitions.efi", part_size, &c->efi_mib);
        if (strcmp(key, "recovery") == 0 || strcmp(key, "state") == 0) {
                unsupported(x, k, key); /* no recovery/state partitions under Trusted Boot */
                return 0;
        }
        unknown(x, k, "install.partitions", key);
        return 0;
}

static void partition_done(tb_cloudconfig_partition *p) {
        free(p->name);
        free(p->fs);
        free(p->label);
}

static int extra_field(const ctx *x, const char *key, yaml_node_t *k, yaml_node_t *v, void *ud) {
        tb_cloudconfig_partition *p = ud;

        if (strcmp(key, "name") == 0)
                return get_str(x, v, "extra-partitions.name", &p->name);
        if (strcmp(key, "label") == 0)
                return get_str(x, v, "extra-partitions.label", &p->label);
        if (strcmp(key, "size") == 0)
                return get_u64(x, v, "extra-partitions.size", UINT64_C(1) << 32, &p->size_mib);
        if (strcmp(key, "fs") == 0) {
                int r = get_str(x, v, "extra-partitions.fs", &p->fs);
                if (r < 0)
                        return r;
                if (strcmp(p->fs, "-") == 0 || strcmp(p->fs, "none") == 0 || strcmp(p->fs, "noformat") == 0) {
                        free(p->fs);
                        p->fs = NULL;
                }
                return 0;
        }
        unknown(x, k, "install.extra-partitions[]", key);
        return 0;
}

static int extra_partitions(const ctx *x, yaml_node_t *n, tb_cloudconfig *c) {
        int r;

        if (n->type != YAML_SEQUENCE_NODE)
                return bad(x, n, "install.extra-partitions", "expected a list");
        for (size_t i = 0; i < c->n_extra; i++)
                partition_done(&c->extra[i]);
        c->n_extra = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *e = yaml_document_get_node(x->doc, *it);
                tb_cloudconfig_partition p = { .fs = strdup("ext2") }; /* Kairos' LinuxImgFs */
                if (!p.fs)
                        return tb_log_oom();
                r = each_pair(x, e, "install.extra-partitions[]", extra_field, &p);
                if (r >= 0 && !p.name)
                        r = bad(x, e, "install.extra-partitions[]", "name is required");
                if (r >= 0 && !p.label && !(p.label = strdup(p.name)))
                        r = tb_log_oom();
                if (r < 0) {
                        partition_done(&p);
                        return r;
                }
                tb_cloudconfig_partition *a = reallocarray(c->extra, c->n_extra + 1, sizeof(*a));
                if (!a) {
                        partition_done(&p);
                        return tb_log_oom();
                }
                c->extra = a;
                c->extra[c->n_extra++] = p;
        }
        return 0;
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static int encrypted(const ctx *x, yaml_node_t *n, tb_cloudconfig *c) {
        size_t count = 0;
        char **v;

        if (n->type != YAML_SEQUENCE_NODE)
                return bad(x, n, "install.encrypted_partitions", "expected a list of labels");
        size_t max = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        if (!(v = calloc(max + 1, sizeof(char *))))
                return tb_log_oom();
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *e = yaml_document_get_node(x->doc, *it);
                int r = get_str(x, e, "install.encrypted_partitions", &v[count]);
                if (r < 0) {
                        strv_free(v, count);
                        return r;
                }
                count++;
        }
        /* A later file's list replaces an earlier one's; the system pair is not in it (see
         * tb_cloudconfig_encrypts). */
        strv_free(c->encrypted, c->n_encrypted);
        c->encrypted = v;
        c->n_encrypted = count;
        return 0;
}

static int install(const ctx *x, const char *key, yaml_node_t *k, yaml_node_t *v, void *ud) {
        static const char *const ignored[] = { "no-format", "source", "system", "cloud-init", "skip-entries",
                                               "grub_options", "bind_mounts", "ephemeral_mounts",
                                               "allow-insecure-registries", "recovery-system", "image" };
        tb_cloudconfig *c = ud;

        if (strcmp(key, "device") == 0)
                return get_str(x, v, "install.device", &c->device);
        if (strcmp(key, "auto") == 0)
                return get_bool(x, v, "install.auto", &c->auto_install);
        if (strcmp(key, "reboot") == 0)
                return get_bool(x, v, "install.reboot", &c->reboot);
        if (strcmp(key, "poweroff") == 0)
                return get_bool(x, v, "install.poweroff", &c->poweroff);
        if (strcmp(key, "partitions") == 0)
                return each_pair(x, v, "install.partitions", partitions, c);
        if (strcmp(key, "extra-partitions") == 0)
                return extra_partitions(x, v, c);
        if (strcmp(key, "encrypted_partitions") == 0)
                return encrypted(x, v, c);
        if (strcmp(key, "encrypt-system-partitions") == 0)
                return get_bool(x, v, "install.encrypt-system-partitions", &c->encrypt_system);
        if (strcmp(key, "force") == 0)
                return get_bool(x, v, "install.force", &c->force);
        for (size_t i = 0; i < ARRAY_SIZE(ignored); i++)
                if (strcmp(key, ignored[i]) == 0) {
                        unsupported(x, k, key);
                        return 0;
                }
        unknown(x, k, "install", key);
        return 0;
}

static int top(const ctx *x, const char *key, yaml_node_t *k, yaml_node_t *v, void *ud) {
        /* Keys of a Kairos cloud-config that other stages act on: not ours, not suspicious. */
        static const char *const others[] = { "users", "stages", "hostname", "name", "debug", "strict", "kcrypt",
                                              "upgrade", "reset", "k3s", "k3s-agent", "k0s", "k0s-worker", "p2p",
                                              "bundles", "ssh_authorized_keys", "options", "fail_on_bundles_errors",
                                              "config_url", "env", "runcmd", "write_files" };
        tb_cloudconfig *c = ud;

        if (strcmp(key, "install") == 0)
                return each_pair(x, v, "install", install, c);
        if (strcmp(key, "bind-pcrs") == 0)
                return pcr_mask(x, v, "bind-pcrs", &c->bind_pcrs);
        if (strcmp(key, "bind-public-pcrs") == 0)
                return pcr_mask(x, v, "bind-public-pcrs", &c->bind_public_pcrs);
        for (size_t i = 0; i < ARRAY_SIZE(others); i++)
                if (strcmp(key, others[i]) == 0) {
                        tb_debug("%s: %s: not used by install", x->name, key);
                        return 0;
                }
        unknown(x, k, "", key);
        return 0;
}

int tb_cloudconfig_new(tb_cloudconfig **ret) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = calloc(1, sizeof(*c));

        if (!c)
                return tb_log_oom();
        c->device = strdup("auto");
        c->oem_mib = DEFAULT_OEM_MIB;
        c->encrypt_system = true;
        if (!c->device)
                return tb_log_oom();
        c->bind_public_pcrs = UINT32_C(1) << 11;
        *ret = TAKE_PTR(c);
        return 0;
}

void tb_cloudconfig_free(tb_cloudconfig *c) {
        if (!c)
                return;
        free(c->device);
        for (size_t i = 0; i < c->n_extra; i++)
                partition_done(&c->extra[i]);
        free(c->extra);
        strv_free(c->encrypted, c->n_encrypted);
        free(c);
}

int tb_cloudconfig_merge(tb_cloudconfig *c, const char *name, const char *text, size_t len) {
        yaml_parser_t parser;
        yaml_document_t doc;
        int r;

        if (!yaml_parser_initialize(&parser))
                return tb_log_oom();
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                tb_err("%s:%zu:%zu: %s", name, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                       parser.problem ? parser.problem : "invalid YAML");
                yaml_parser_delete(&parser);
                return -EINVAL;
        }
        ctx x = { name, &doc };
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root)))
                r = 0; /* an empty document (only comments, like a bare "#cloud-config") */
        else
                r = each_pair(&x, root, "document", top, c);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

int tb_cloudconfig_merge_file(tb_cloudconfig *c, const char *path) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        int r = tb_read_file(path, (size_t)1024 * 1024, &b);

        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        return tb_cloudconfig_merge(c, path, (const char *)b.data, b.len);
}

int tb_cloudconfig_discover(const char *root, char ***ret, size_t *ret_n) {
        _cleanup_(tb_strv_freep) char **files = NULL;
        _cleanup_(freep) char *value = NULL, *pattern = NULL, *etc = NULL;
        const char *r0 = root && strcmp(root, "/") != 0 ? root : "";
        glob_t g = { 0 };
        size_t n = 0;
        int r = 0;

        if (asprintf(&pattern, "%s" TB_CLOUDCONFIG_OEM_DIR "/*.yaml", r0) < 0 ||
            asprintf(&etc, "%s" TB_CLOUDCONFIG_ETC_FILE, r0) < 0)
                return tb_log_oom();
        if (tb_cmdline_get("trustboot.config", &value) > 0 && *value)
                r = tb_strv_push(&files, &n, value);
        else if (glob(pattern, 0, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc && r >= 0; i++)
                        r = tb_strv_push(&files, &n, g.gl_pathv[i]);
        else if (access(etc, R_OK) == 0)
                r = tb_strv_push(&files, &n, etc);
        globfree(&g);
        if (r < 0)
                return tb_log_oom();
        if (!files && !(files = calloc(1, sizeof(char *))))
                return tb_log_oom();
        *ret = TAKE_PTR(files);
        *ret_n = n;
        return 0;
}

int tb_cloudconfig_load_files(const char *const *files, size_t n, tb_cloudconfig **ret) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        int r;

        r = tb_cloudconfig_new(&c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                tb_debug("configuration: %s", files[i]);
                r = tb_cloudconfig_merge_file(c, files[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

bool tb_cloudconfig_fs_name_ok(const char *fs) {
        size_t n = strlen(fs);

        if (n == 0 || n > 16)
                return false;
        for (const char *p = fs; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static bool is_system_label(const char *label) {
        return strcmp(label, TB_CLOUDCONFIG_OEM_LABEL) == 0 || strcmp(label, TB_CLOUDCONFIG_PERSISTENT_LABEL) == 0;
}

bool tb_cloudconfig_encrypts(const tb_cloudconfig *c, const char *label) {
        if (c->encrypt_system && is_system_label(label))
                return true;
        for (size_t i = 0; i < c->n_encrypted; i++)
                if (strcmp(c->encrypted[i], label) == 0)
                        return true;
        return false;
}

static bool has_label(const tb_cloudconfig *c, const char *label) {
        if (is_system_label(label))
                return true;
        for (size_t i = 0; i < c->n_extra; i++)
                if (strcmp(c->extra[i].label, label) == 0)
                        return true;
        return false;
}

int tb_cloudconfig_validate(const tb_cloudconfig *c) {
        unsigned rest = c->persistent_mib == 0;

        if (c->oem_mib == 0) {
                tb_err("install.partitions.oem.size: must not be 0");
                return -EINVAL;
        }
        for (size_t i = 0; i < c->n_extra; i++) {
                const tb_cloudconfig_partition *p = &c->extra[i];
                rest += p->size_mib == 0;
                if (p->fs && !tb_cloudconfig_fs_name_ok(p->fs)) {
                        tb_err("install.extra-partitions: %s: fs '%s' is not a file system type (lower-case letters and "
                               "digits, as in mkfs.ext4)", p->name, p->fs);
                        return -EINVAL;
                }
                if (strcmp(p->label, TB_CLOUDCONFIG_EFI_LABEL) == 0 || strcmp(p->label, TB_CLOUDCONFIG_OEM_LABEL) == 0 ||
                    strcmp(p->label, TB_CLOUDCONFIG_PERSISTENT_LABEL) == 0 ||
                    strcmp(p->name, "efi") == 0 || strcmp(p->name, "oem") == 0 || strcmp(p->name, "persistent") == 0) {
                        tb_err("install.extra-partitions: %s: name or label taken by a system partition", p->name);
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->extra[j].label, p->label) == 0 || strcmp(c->extra[j].name, p->name) == 0) {
                                tb_err("install.extra-partitions: %s: name or label used twice", p->name);
                                return -EINVAL;
                        }
        }
        if (rest > 1) {
                tb_err("install: only one partition can take the rest of the disk (size 0)");
                return -EINVAL;
        }
        for (size_t i = 0; i < c->n_encrypted; i++)
                if (!has_label(c, c->encrypted[i])) {
                        tb_err("install.encrypted_partitions: %s: no partition has this label", c->encrypted[i]);
                        return -EINVAL;
                }
        return 0;
}
