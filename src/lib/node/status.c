/* status.c — the node's trust state (see status.h). */
#include "node/status.h"

#include <errno.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "boot/loader-entry.h"
#include "measure/mhash.h"
#include "measure/pcr.h"
#include "measure/tpm2-policy.h"
#include "node/bootentry.h"
#include "pe/pe.h"
#include "pe/signer.h"
#include "sb/efisig.h"
#include "sb/efivar.h"
#include "sb/sbdb.h"
#include "tpm/luks.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/json.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/ossl.h"

#define DEFAULT_PCR_DIR "/sys/class/tpm/tpm0/pcr-sha256"

typedef struct report {
        struct json_object *root, *problems;
        bool ok;
} report;

static void problem(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(report *r, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        json_object_array_add(r->problems, json_object_new_string(buf));
        r->ok = false;
}

static int read_bool_var(const char *efivars, const char *name) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        int r = tb_efivar_read(efivars, name, &TB_GUID_EFI_GLOBAL_VARIABLE, NULL, &b);

        if (r < 0)
                return r;
        return b.len >= 1 && b.data[0] == 1;
}

struct var_ctx {
        struct json_object *certs;
        unsigned hashes, other;
};

static int describe_entry(const tb_esl_entry *e, void *userdata) {
        struct var_ctx *c = userdata;
        char owner[TB_GUID_STRING_MAX], subject[256] = "?";

        if (memcmp(&e->type, &TB_GUID_CERT_X509, sizeof(tb_guid)) != 0) {
                if (memcmp(&e->type, &TB_GUID_CERT_SHA256, sizeof(tb_guid)) == 0 ||
                    memcmp(&e->type, &TB_GUID_CERT_SHA384, sizeof(tb_guid)) == 0 ||
                    memcmp(&e->type, &TB_GUID_CERT_SHA512, sizeof(tb_guid)) == 0 ||
                    memcmp(&e->type, &TB_GUID_CERT_X509_SHA256, sizeof(tb_guid)) == 0 ||
                    memcmp(&e->type, &TB_GUID_CERT_X509_SHA384, sizeof(tb_guid)) == 0 ||
                    memcmp(&e->type, &TB_GUID_CERT_X509_SHA512, sizeof(tb_guid)) == 0)
                        c->hashes++;
                else
                        c->other++;
                return 0;
        }
        tb_guid_to_string(&e->owner, owner);
        {
                _cleanup_(X509_freep) X509 *cert = NULL;
                struct json_object *o = json_object_new_object();

                uint8_t fp[32];
                char fp_hex[65], not_after[32] = "";
                struct tm tm;

                if (tb_cert_from_der(e->data, e->len, &cert) >= 0) {
                        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
                        if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
                                strftime(not_after, sizeof(not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
                }
                json_object_object_add(o, "owner", json_object_new_string(owner));
                json_object_object_add(o, "subject", json_object_new_string(subject));
                /* Rotated keys keep their subject: the fingerprint tells them apart. */
                if (EVP_Digest(e->data, e->len, fp, NULL, EVP_sha256(), NULL) == 1) {
                        tb_hex_encode(fp, sizeof(fp), fp_hex);
                        json_object_object_add(o, "sha256", json_object_new_string(fp_hex));
                }
                json_object_object_add(o, "not_after", not_after[0] ? json_object_new_string(not_after) : NULL);
                json_object_array_add(c->certs, o);
        }
        return 0;
}

static void add_variables(const tb_status_options *o, report *r) {
        static const struct { const char *name; const tb_guid *vendor; } vars[] = {
                { "PK", &TB_GUID_EFI_GLOBAL_VARIABLE },
                { "KEK", &TB_GUID_EFI_GLOBAL_VARIABLE },
                { "db", &TB_GUID_IMAGE_SECURITY_DATABASE },
                { "dbx", &TB_GUID_IMAGE_SECURITY_DATABASE },
        };
        struct json_object *all = json_object_new_object();

        for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
                _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
                struct var_ctx c = { .certs = json_object_new_array() };
                struct json_object *v = json_object_new_object();
                int k = tb_efivar_read(o->efivars, vars[i].name, vars[i].vendor, NULL, &b);

                json_object_object_add(v, "set", json_object_new_boolean(k >= 0));
                if (k >= 0 && tb_esl_foreach(b.data, b.len, describe_entry, &c) < 0)
                        problem(r, "%s is not a valid list of EFI_SIGNATURE_LISTs", vars[i].name);
                json_object_object_add(v, "certificates", c.certs);
                json_object_object_add(v, "hashes", json_object_new_int((int)c.hashes));
                json_object_object_add(all, vars[i].name, v);
        }
        json_object_object_add(r->root, "variables", all);
}

/* The running UKI: the ESP file LoaderEntrySelected's entry boots. */
static char *running_uki(const tb_status_options *o, const tb_bootentry_list *l, report *r) {
        _cleanup_(freep) char *selected = NULL;
        const tb_bootentry *e;
        char *path = NULL;

        if (tb_efivar_read_string(o->efivars, TB_LOADER_ENTRY_SELECTED, &TB_GUID_LOADER, &selected) < 0) {
                problem(r, "LoaderEntrySelected is not set: not booted by systemd-boot, the running UKI is unknown");
                return NULL;
        }
        json_object_object_add(r->root, "booted_entry", json_object_new_string(selected));
        e = tb_bootentry_list_find_selected(l, selected);
        if (!e || !e->efi) {
                problem(r, "the booted entry %s is not on %s (or has no efi line)", selected, o->esp);
                return NULL;
        }
        if (asprintf(&path, "%s/%s", o->esp, e->efi[0] == '/' ? e->efi + 1 : e->efi) < 0)
                return NULL;
        return path;
}

static void add_uki(const tb_status_options *o, const char *path, report *r, tb_pe **ret_pe) {
        _cleanup_(tb_sbdb_freep) tb_sbdb *db = NULL;
        struct json_object *u = json_object_new_object();
        tb_pe *pe = NULL;

        json_object_object_add(u, "path", json_object_new_string(path));
        json_object_object_add(r->root, "running_uki", u);
        if (tb_pe_open(path, &pe) < 0) {
                problem(r, "%s: cannot read the running UKI", path);
                return;
        }
        *ret_pe = pe;
        if (tb_sbdb_load(o->efivars, &db) < 0) {
                problem(r, "db/dbx cannot be read: the running UKI cannot be checked");
                return;
        }
        /* tb_sbdb_check() says why on stderr; the report records the verdict. */
        int k = tb_sbdb_check(db, pe);
        json_object_object_add(u, "allowed_by_db", json_object_new_boolean(k >= 0));
        json_object_object_add(u, "revoked_by_dbx", json_object_new_boolean(k == -EKEYREVOKED));
        if (k < 0)
                problem(r, "%s: the firmware would not run the running UKI now (%s)", path,
                        k == -EKEYREVOKED ? "revoked in dbx" : k == -EPERM ? "not allowed by db" : "unreadable");
}

/* PCR 11 now, and whether one of the UKI's signed policies (.pcrsig, sha256) is met by it. */
static void add_pcr11(const tb_status_options *o, const tb_pe *pe, report *r) {
        _cleanup_(freep) char *p = NULL;
        _cleanup_(tb_buf_freep) tb_buf hex = TB_BUF_INIT, sig = TB_BUF_INIT;
        _cleanup_(json_object_putp) struct json_object *j = NULL;
        struct json_object *pcr = json_object_new_object(), *bank;
        uint8_t value[32], pol[32];
        char pol_hex[65];
        bool met = false;
        const tb_pe_section *s;

        json_object_object_add(r->root, "pcr11", pcr);
        if (asprintf(&p, "%s/11", o->pcr_dir ? o->pcr_dir : DEFAULT_PCR_DIR) < 0)
                return;
        /* sysfs reports every attribute as 4096 bytes long: that is the bound, not the 65 it holds. */
        if (tb_read_file(p, 4096, &hex) < 0 || hex.len < 64 || tb_buf_append(&hex, "", 1) < 0 ||
            (hex.data[64] = 0, tb_hex_decode((const char *)hex.data, value, sizeof(value)) < 0)) {
                problem(r, "%s: cannot read PCR 11 (no TPM, or a kernel without PCR files in sysfs)", p);
                return;
        }
        for (size_t i = 0; i < 64; i++)
                hex.data[i] = (uint8_t)(hex.data[i] | 0x20); /* lower case */
        json_object_object_add(pcr, "sha256", json_object_new_string_len((const char *)hex.data, 64));
        if (!pe)
                return;
        s = tb_pe_find_section(pe, ".pcrsig");
        if (!s || tb_pe_section_read(pe, s, 1u << 20, &sig) < 0 || tb_buf_append(&sig, "", 1) < 0 ||
            !(j = json_tokener_parse((const char *)sig.data))) {
                problem(r, "the running UKI has no readable .pcrsig: no signed PCR 11 policy to meet");
                return;
        }
        if (tb_pcr_policy_digest(TB_BANK_SHA256, value, pol) < 0)
                return;
        tb_hex_encode(pol, sizeof(pol), pol_hex);
        if (json_object_object_get_ex(j, "sha256", &bank) && json_object_is_type(bank, json_type_array))
                for (size_t i = 0; i < json_object_array_length(bank) && !met; i++) {
                        struct json_object *e = json_object_array_get_idx(bank, i), *v;
                        met = json_object_object_get_ex(e, "pol", &v) && json_object_is_type(v, json_type_string) &&
                              strcasecmp(json_object_get_string(v), pol_hex) == 0;
                }
        json_object_object_add(pcr, "signed_policy_met", json_object_new_boolean(met));
        if (!met)
                problem(r, "PCR 11 meets none of the running UKI's signed policies: TPM2 volumes would not unlock");
}

struct vol_ctx {
        report *r;
        struct json_object *a;
        const tb_buf *pcrpkey;
};

/* Whether PEM is the same public key as the running UKI's .pcrpkey. */
static bool same_key(const tb_buf *pem, const tb_buf *pcrpkey) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *a = NULL, *b = NULL;

        return pcrpkey && tb_tpm2_pubkey_from_pem(pem->data, pem->len, &a) >= 0 &&
               tb_tpm2_pubkey_from_pem(pcrpkey->data, pcrpkey->len, &b) >= 0 && EVP_PKEY_eq(a, b) == 1;
}

static int add_volume(const char *device, const char *name, void *userdata) {
        struct vol_ctx *c = userdata;
        _cleanup_(tb_luks_pcr_keys_done) tb_luks_pcr_keys keys = {};
        struct json_object *v = json_object_new_object();
        int k = tb_luks_tpm2_pcr_keys(device, &keys);
        bool matches = k >= 0 && keys.n == 0;

        for (size_t i = 0; k >= 0 && i < keys.n && !matches; i++)
                matches = same_key(&keys.pem[i], c->pcrpkey);
        json_object_object_add(v, "device", json_object_new_string(device));
        json_object_object_add(v, "name", json_object_new_string(name));
        json_object_object_add(v, "open", json_object_new_boolean(tb_luks_is_active(name)));
        json_object_object_add(v, "signed_policy", json_object_new_boolean(k >= 0 && keys.n > 0));
        /* Two during a PCR key rotation (encrypt --add-pcr-key until --remove-pcr-key). */
        json_object_object_add(v, "pcr_keys", json_object_new_int(k >= 0 ? (int)keys.n : 0));
        json_object_object_add(v, "pcr_key_matches_running_uki", json_object_new_boolean(matches));
        /* Every TPM keyslot also sealed under the SRK (noDA): power cuts cannot lock the boot out.
         * False on volumes enrolled before trustboot wrote SRK tokens, or sealed while the SRK was
         * unusable. */
        json_object_object_add(v, "srk_token", json_object_new_boolean(tb_luks_tpm2_srk_covers_all(device)));
        json_object_array_add(c->a, v);
        if (k < 0)
                problem(c->r, "%s (%s): its systemd-tpm2 tokens cannot be read", device, name);
        else if (!matches)
                problem(c->r, "%s (%s): bound to another PCR key than the running UKI's .pcrpkey", device, name);
        else if (keys.n > 1)
                problem(c->r, "%s (%s): bound to %zu PCR keys: a PCR key rotation is not finished (encrypt "
                        "--remove-pcr-key OLD.pem once the new key has booted)", device, name, keys.n);
        return 0;
}

static void add_volumes(const tb_pe *pe, report *r) {
        _cleanup_(tb_buf_freep) tb_buf pcrpkey = TB_BUF_INIT;
        struct vol_ctx c = { .r = r, .a = json_object_new_array() };
        const tb_pe_section *s = pe ? tb_pe_find_section(pe, ".pcrpkey") : NULL;

        if (s && tb_pe_section_read(pe, s, 1u << 16, &pcrpkey) >= 0)
                c.pcrpkey = &pcrpkey;
        json_object_object_add(r->root, "volumes", c.a);
        (void)tb_luks_foreach_tpm2_volume(add_volume, &c);
}

static void add_entries(const tb_bootentry_list *l, report *r) {
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < l->n; i++) {
                const tb_bootentry *e = &l->e[i];
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "id", json_object_new_string(e->file));
                json_object_object_add(o, "title", e->title ? json_object_new_string(e->title) : NULL);
                json_object_object_add(o, "efi", e->efi ? json_object_new_string(e->efi) : NULL);
                json_object_object_add(o, "state", json_object_new_string(tb_bootentry_state_to_string(e->state)));
                if (e->left != TB_LOADER_ENTRY_COUNTER_NONE) {
                        json_object_object_add(o, "tries_left", json_object_new_int(e->left));
                        json_object_object_add(o, "tries_done", json_object_new_int(e->done));
                }
                json_object_array_add(a, o);
        }
        json_object_object_add(r->root, "entries", a);
}

int tb_status_collect(const tb_status_options *o, struct json_object **ret, bool *ret_consistent) {
        _cleanup_(tb_bootentry_list_donep) tb_bootentry_list entries = {};
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(freep) char *uki = NULL;
        report r = { .root = json_object_new_object(), .problems = json_object_new_array(), .ok = true };
        int sb, setup;

        if (!r.root || !r.problems)
                return tb_log_oom();
        sb = read_bool_var(o->efivars, "SecureBoot");
        setup = read_bool_var(o->efivars, "SetupMode");
        json_object_object_add(r.root, "secure_boot", sb >= 0 ? json_object_new_boolean(sb) : NULL);
        json_object_object_add(r.root, "setup_mode", setup >= 0 ? json_object_new_boolean(setup) : NULL);
        if (sb != 1)
                problem(&r, "Secure Boot is %s", sb < 0 ? "unknown (no EFI variables)" : "off");
        if (setup == 1)
                problem(&r, "the firmware is in setup mode: any key can be enrolled");
        add_variables(o, &r);

        if (tb_bootentry_list_load(o->esp, &entries) < 0)
                problem(&r, "%s: no boot entries readable", o->esp);
        else {
                add_entries(&entries, &r);
                uki = running_uki(o, &entries, &r);
        }
        if (uki)
                add_uki(o, uki, &r, &pe);
        add_pcr11(o, pe, &r);
        if (o->volumes)
                add_volumes(pe, &r);

        json_object_object_add(r.root, "consistent", json_object_new_boolean(r.ok));
        json_object_object_add(r.root, "problems", r.problems);
        *ret = r.root;
        *ret_consistent = r.ok;
        return 0;
}

/* ---- the text report ------------------------------------------------------------------- */

static const char *yes_no(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return "unknown";
        return json_object_get_boolean(v) ? "yes" : "no";
}

static const char *str(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "-";
}

void tb_status_print_text(struct json_object *root, FILE *out) {
        struct json_object *vars, *a, *u, *p;

        fprintf(out, "Secure Boot:      %s\n", yes_no(root, "secure_boot"));
        fprintf(out, "Setup mode:       %s\n", yes_no(root, "setup_mode"));
        if (json_object_object_get_ex(root, "variables", &vars)) {
                json_object_object_foreach(vars, name, var) {
                        struct json_object *certs = NULL;
                        json_object_object_get_ex(var, "certificates", &certs);
                        fprintf(out, "%-4s              %s, %zu certificate(s), %s hash(es)\n", name,
                                json_object_get_boolean(json_object_object_get(var, "set")) ? "set" : "not set",
                                certs ? json_object_array_length(certs) : 0, str(var, "hashes"));
                        for (size_t i = 0; certs && i < json_object_array_length(certs); i++) {
                                struct json_object *c = json_object_array_get_idx(certs, i);
                                fprintf(out, "                    %s (owner %s, sha256 %.16s…, until %s)\n",
                                        str(c, "subject"), str(c, "owner"), str(c, "sha256"), str(c, "not_after"));
                        }
                }
        }
        fprintf(out, "Booted entry:     %s\n", str(root, "booted_entry"));
        if (json_object_object_get_ex(root, "running_uki", &u))
                fprintf(out, "Running UKI:      %s: allowed by db: %s, revoked by dbx: %s\n", str(u, "path"),
                        yes_no(u, "allowed_by_db"), yes_no(u, "revoked_by_dbx"));
        if (json_object_object_get_ex(root, "pcr11", &p))
                fprintf(out, "PCR 11 (sha256):  %s, signed policy met: %s\n", str(p, "sha256"),
                        yes_no(p, "signed_policy_met"));
        if (json_object_object_get_ex(root, "volumes", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        struct json_object *v = json_object_array_get_idx(a, i);
                        fprintf(out,
                                "Volume:           %s (%s): open: %s, PCR keys: %s, bound to the running UKI's PCR "
                                "key: %s, SRK token: %s\n", str(v, "device"), str(v, "name"), yes_no(v, "open"),
                                str(v, "pcr_keys"), yes_no(v, "pcr_key_matches_running_uki"), yes_no(v, "srk_token"));
                }
        if (json_object_object_get_ex(root, "entries", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        struct json_object *e = json_object_array_get_idx(a, i), *l;
                        fprintf(out, "Entry:            %-28s %-13s", str(e, "id"), str(e, "state"));
                        if (json_object_object_get_ex(e, "tries_left", &l))
                                fprintf(out, " tries left %s, done %s", str(e, "tries_left"), str(e, "tries_done"));
                        fprintf(out, " %s\n", str(e, "title"));
                }
        if (json_object_object_get_ex(root, "problems", &a)) {
                fprintf(out, "Consistent:       %s\n", json_object_array_length(a) == 0 ? "yes" : "no");
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        fprintf(out, "  problem: %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
        }
}

size_t tb_status_n_problems(struct json_object *root) {
        struct json_object *p = NULL;

        return json_object_object_get_ex(root, "problems", &p) ? json_object_array_length(p) : 0;
}
