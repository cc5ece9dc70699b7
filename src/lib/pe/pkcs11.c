/* pkcs11.c — private keys in PKCS#11 tokens (see pkcs11.h). */
#include "pe/pkcs11.h"

#include <errno.h>
#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <p11-kit/uri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

#define DEFAULT_MODULE "p11-kit-proxy.so"
#define PIN_MAX 256

static tb_pkcs11_pin_prompt pin_prompt;

void tb_pkcs11_set_pin_prompt(tb_pkcs11_pin_prompt fn) {
        pin_prompt = fn;
}

bool tb_pkcs11_is_uri(const char *s) {
        return s && strncmp(s, TB_PKCS11_URI_PREFIX, strlen(TB_PKCS11_URI_PREFIX)) == 0;
}

/* The attributes RFC 7512 defines: a name outside these is a typo we refuse, rather than a
 * constraint silently dropped (p11-kit would only flag it). */
static const char *const path_attrs[] = {
        "token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
        "library-version", "object", "type", "id", "slot-description", "slot-manufacturer", "slot-id",
};
static const char *const query_attrs[] = { "pin-source", "pin-value", "module-name", "module-path" };

static bool known(const char *name, size_t len, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
                        return true;
        return false;
}

/* The first attribute name RFC 7512 does not define, malloc'ed, or NULL. */
static char *unknown_attribute(const char *uri) {
        const char *p = uri + strlen(TB_PKCS11_URI_PREFIX);
        bool query = false;

        while (*p) {
                size_t n = strcspn(p, query ? "&" : ";?"), name = strcspn(p, "=");

                if (name > n)
                        name = n;
                if (n > 0 && !(query ? known(p, name, query_attrs, ARRAY_SIZE(query_attrs))
                                     : known(p, name, path_attrs, ARRAY_SIZE(path_attrs))))
                        return strndup(p, name);
                p += n;
                if (*p == '?')
                        query = true;
                if (*p)
                        p++;
        }
        return NULL;
}

char *tb_pkcs11_display_uri(const char *uri) {
        static const char key[] = "pin-value=";
        const char *q = strchr(uri, '?'), *p = uri, *v;
        size_t n_pins = 0;
        char *out, *o;

        /* Blank every pin-value in the query; the rest of the URI is what the user wrote. A value
         * shorter than the mask makes the string longer: room for the mask once per value. */
        for (v = q; v && (v = strstr(v, key)); v += strlen(key))
                n_pins++;
        out = o = malloc(strlen(uri) + 3 * n_pins + 1);
        if (!out)
                return NULL;
        for (v = q; v && (v = strstr(v, key)); v = p) {
                v += strlen(key);
                memcpy(o, p, (size_t)(v - p));
                o += v - p;
                memcpy(o, "***", 3);
                o += 3;
                p = v + strcspn(v, "&");
        }
        memcpy(o, p, strlen(p) + 1);
        return out;
}

/* One module per process: libp11 keeps it loaded while any key from it lives. */
static struct {
        PKCS11_CTX *ctx;
        char *module;
        PKCS11_SLOT *slots;
        unsigned n_slots;
} m;

static int open_module(const char *module, const char *shown) {
        if (!module)
                module = DEFAULT_MODULE;
        if (m.ctx) {
                if (strcmp(m.module, module) == 0)
                        return 0;
                tb_err("%s: module %s: only one PKCS#11 module per run (already using %s)", shown, module, m.module);
                return -EINVAL;
        }
        m.ctx = PKCS11_CTX_new();
        m.module = strdup(module);
        if (!m.ctx || !m.module)
                return tb_log_oom();
        if (PKCS11_CTX_load(m.ctx, module) < 0) {
                ERR_clear_error();
                PKCS11_CTX_free(m.ctx);
                m.ctx = NULL;
                free(m.module);
                m.module = NULL;
                tb_err("%s: cannot load the PKCS#11 module %s", shown, module);
                return -ELIBACC;
        }
        if (PKCS11_enumerate_slots(m.ctx, &m.slots, &m.n_slots) < 0) {
                ERR_clear_error();
                tb_err("%s: the PKCS#11 module %s cannot list its slots", shown, module);
                return -EIO;
        }
        return 0;
}

static void pad(unsigned char *dst, size_t n, const char *s) {
        size_t l = s ? strlen(s) : 0;

        memset(dst, ' ', n);
        if (l)
                memcpy(dst, s, l < n ? l : n);
}

static bool token_matches(P11KitUri *uri, const PKCS11_TOKEN *t) {
        CK_TOKEN_INFO ti;

        memset(&ti, 0, sizeof(ti));
        pad(ti.label, sizeof(ti.label), t->label);
        pad(ti.manufacturerID, sizeof(ti.manufacturerID), t->manufacturer);
        pad(ti.model, sizeof(ti.model), t->model);
        pad(ti.serialNumber, sizeof(ti.serialNumber), t->serialnr);
        return p11_kit_uri_match_token_info(uri, &ti) == 1;
}

static int find_slot(P11KitUri *uri, const char *shown, PKCS11_SLOT **ret) {
        PKCS11_SLOT *found = NULL;

        for (unsigned i = 0; i < m.n_slots; i++) {
                PKCS11_TOKEN *t = m.slots[i].token;

                if (!t || !t->initialized || !token_matches(uri, t))
                        continue;
                if (found) {
                        tb_err("%s: tokens '%s' and '%s' both match: name one with token= or serial=", shown,
                               found->token->label, t->label);
                        return -ENOTUNIQ;
                }
                found = &m.slots[i];
        }
        if (!found) {
                tb_err("%s: no initialised token matches (module %s)", shown, m.module);
                return -ENODEV;
        }
        *ret = found;
        return 0;
}

/* pin-value, else pin-source (a path or file: URI), else the prompt. */
static int get_pin(P11KitUri *uri, const PKCS11_TOKEN *t, const char *shown, char pin[PIN_MAX]) {
        const char *v = p11_kit_uri_get_pin_value(uri), *src = p11_kit_uri_get_pin_source(uri);

        if (v) {
                size_t len = strlen(v);
                if (len >= PIN_MAX)
                        return tb_log_errno(-E2BIG, "%s: pin-value is too long", shown);
                memcpy(pin, v, len + 1);
                return 0;
        }
        if (src) {
                _cleanup_(tb_buf_wipep) tb_buf b = TB_BUF_INIT;
                int r;

                if (strncmp(src, "file:", 5) == 0)
                        src += 5;
                r = tb_read_secret_file(src, PIN_MAX - 1, &b);
                if (r < 0)
                        return tb_log_errno(r, "%s: pin-source %s: cannot read the PIN", shown, src);
                while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
                        b.len--;
                memcpy(pin, b.data, b.len);
                pin[b.len] = 0;
                return 0;
        }
        if (pin_prompt) {
                int r = pin_prompt(t->label, pin, PIN_MAX);
                if (r >= 0)
                        return 0;
                if (r != -ENOKEY)
                        return tb_log_errno(r, "%s: cannot read the PIN of token '%s'", shown, t->label);
        }
        tb_err("%s: token '%s' needs a PIN: add pin-source=FILE to the URI, or run on a terminal to be asked",
               shown, t->label);
        return -ENOKEY;
}

/* A locked PIN refuses the right PIN too, so the message must not read as "try again": it says
 * who unlocks it. Tokens differ there: an HSM's or smart card's security officer resets the user
 * PIN; a TPM-backed token (tpm2-pkcs11) is locked by the TPM's dictionary-attack protection, which
 * ends after its recovery time or is cleared with the TPM's lockout authorization. */
static int pin_locked(const char *shown, const PKCS11_TOKEN *t) {
        tb_err("%s: token '%s': its user PIN is locked after too many wrong PINs: the token refuses every login, "
               "the right PIN too, until it is unlocked (by its security officer; a TPM-backed token when the "
               "TPM's dictionary-attack lockout ends or is cleared)", shown, t->label);
        return -EKEYREVOKED;
}

static int login(P11KitUri *uri, PKCS11_SLOT *slot, const char *shown, bool rw) {
        PKCS11_TOKEN *t = slot->token;
        char pin[PIN_MAX];
        int logged_in = 0, r;
        unsigned long reason;

        /* Generating keys needs a read-write session, opened before the login it carries. */
        if (rw && PKCS11_open_session(slot, 1) < 0) {
                ERR_clear_error();
                tb_err("%s: token '%s': cannot open a read-write session (is it write-protected?)", shown, t->label);
                return -EROFS;
        }
        if (!t->loginRequired)
                return 0;
        if (PKCS11_is_logged_in(slot, 0, &logged_in) == 0 && logged_in)
                return 0;
        if (t->userPinLocked)
                return pin_locked(shown, t);
        r = get_pin(uri, t, shown, pin);
        if (r < 0)
                return r;
        r = PKCS11_login(slot, 0, pin);
        OPENSSL_cleanse(pin, sizeof(pin));
        if (r == 0)
                return 0;
        reason = ERR_GET_REASON(ERR_peek_last_error());
        ERR_clear_error();
        switch (reason) {
        case CKR_PIN_INCORRECT:
        case CKR_PIN_INVALID:
        case CKR_PIN_LEN_RANGE:
                tb_err("%s: token '%s': wrong PIN", shown, t->label);
                return -EACCES;
        case CKR_PIN_LOCKED:
                return pin_locked(shown, t);
        default:
                tb_err("%s: token '%s': login failed (PKCS#11 error 0x%lx)", shown, t->label, reason);
                return -EACCES;
        }
}

static bool attr_matches(P11KitUri *uri, CK_ATTRIBUTE_TYPE type, const void *value, size_t len) {
        CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri, type);

        return !a || (a->ulValueLen == len && (len == 0 || memcmp(a->pValue, value, len) == 0));
}

typedef struct session {
        P11KitUri *uri;
        char *shown;
        PKCS11_SLOT *slot;
} session;

static void session_done(session *s) {
        p11_kit_uri_free(s->uri);
        free(s->shown);
}

/* Parses URI, checks it, opens its module, finds its one token and logs in. */
static int session_open(const char *uri, bool rw, session *s) {
        _cleanup_(freep) char *bad = NULL;
        CK_ATTRIBUTE *class;
        int r;

        *s = (session){};
        s->shown = tb_pkcs11_display_uri(uri);
        s->uri = p11_kit_uri_new();
        if (!s->shown || !s->uri)
                return tb_log_oom();
        bad = unknown_attribute(uri);
        if (bad) {
                tb_err("%s: unknown attribute '%s' (RFC 7512 defines token, serial, object, id, type, pin-source, "
                       "pin-value, module-path, …)", s->shown, bad);
                return -EINVAL;
        }
        r = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE, s->uri);
        if (r != P11_KIT_URI_OK) {
                tb_err("%s: not a valid PKCS#11 URI: %s", s->shown, p11_kit_uri_message(r));
                return -EINVAL;
        }
        class = p11_kit_uri_get_attribute(s->uri, CKA_CLASS);
        if (class && (class->ulValueLen != sizeof(CK_OBJECT_CLASS) ||
                      *(CK_OBJECT_CLASS *)class->pValue != CKO_PRIVATE_KEY)) {
                tb_err("%s: type= must be 'private': a signing key is a private key object", s->shown);
                return -EINVAL;
        }
        r = open_module(p11_kit_uri_get_module_path(s->uri), s->shown);
        if (r < 0)
                return r;
        r = find_slot(s->uri, s->shown, &s->slot);
        if (r < 0)
                return r;
        return login(s->uri, s->slot, s->shown, rw);
}

int tb_pkcs11_load_key(const char *uri, EVP_PKEY **ret) {
        _cleanup_(session_done) session s = {};
        PKCS11_KEY *keys = NULL, *found = NULL;
        unsigned n = 0;
        EVP_PKEY *key;
        int r;

        r = session_open(uri, false, &s);
        if (r < 0)
                return r;
        if (!p11_kit_uri_get_attribute(s.uri, CKA_LABEL) && !p11_kit_uri_get_attribute(s.uri, CKA_ID)) {
                tb_err("%s: names no key: add object=LABEL or id=%%XX…", s.shown);
                return -EINVAL;
        }
        if (PKCS11_enumerate_keys(s.slot->token, &keys, &n) < 0) {
                ERR_clear_error();
                tb_err("%s: token '%s': cannot list its private keys", s.shown, s.slot->token->label);
                return -EIO;
        }
        for (unsigned i = 0; i < n; i++) {
                if (!attr_matches(s.uri, CKA_LABEL, keys[i].label, keys[i].label ? strlen(keys[i].label) : 0) ||
                    !attr_matches(s.uri, CKA_ID, keys[i].id, keys[i].id_len))
                        continue;
                if (found) {
                        tb_err("%s: several private keys match in token '%s': name one with object= and id=",
                               s.shown, s.slot->token->label);
                        return -ENOTUNIQ;
                }
                found = &keys[i];
        }
        if (!found) {
                tb_err("%s: no such private key in token '%s'", s.shown, s.slot->token->label);
                return -ENOENT;
        }
        key = PKCS11_get_private_key(found);
        if (!key) {
                ERR_clear_error();
                tb_err("%s: token '%s': cannot use the private key", s.shown, s.slot->token->label);
                return -EIO;
        }
        *ret = key;
        return 0;
}

int tb_pkcs11_generate_rsa(const char *uri, unsigned bits, const char *label, EVP_PKEY **ret, char **ret_uri) {
        _cleanup_(session_done) session s = {};
        P11KitUri *out = NULL;
        PKCS11_KEY *keys = NULL;
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_ATTRIBUTE a;
        CK_TOKEN_INFO *ti;
        unsigned char id[16];
        unsigned n = 0;
        char *formatted = NULL;
        EVP_PKEY *key = NULL;
        int r;

        r = session_open(uri, true, &s);
        if (r < 0)
                return r;
        if (p11_kit_uri_get_attribute(s.uri, CKA_LABEL) || p11_kit_uri_get_attribute(s.uri, CKA_ID)) {
                tb_err("%s: name only the token (the keys are labelled by genkey)", s.shown);
                return -EINVAL;
        }
        if (PKCS11_enumerate_keys(s.slot->token, &keys, &n) < 0) {
                ERR_clear_error();
                return tb_log_errno(-EIO, "%s: token '%s': cannot list its private keys", s.shown,
                                    s.slot->token->label);
        }
        for (unsigned i = 0; i < n; i++)
                if (keys[i].label && strcmp(keys[i].label, label) == 0) {
                        tb_err("%s: token '%s' already holds a key labelled '%s'", s.shown, s.slot->token->label,
                               label);
                        return -EEXIST;
                }
        if (RAND_bytes(id, sizeof(id)) != 1)
                return -EIO;
        /* libp11 0.4 has no non-deprecated key generation; it is still the call sbsigntools-era
         * tools use, and 0.5's PKCS11_keygen is not in Debian 12. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        r = PKCS11_generate_key(s.slot->token, EVP_PKEY_RSA, bits, (char *)label, id, sizeof(id));
#pragma GCC diagnostic pop
        if (r < 0) {
                ERR_clear_error();
                tb_err("%s: token '%s': cannot generate an RSA-%u key", s.shown, s.slot->token->label, bits);
                return -EIO;
        }
        if (PKCS11_enumerate_keys(s.slot->token, &keys, &n) < 0) {
                ERR_clear_error();
                return tb_log_errno(-EIO, "%s: cannot list the keys", s.shown);
        }
        for (unsigned i = 0; i < n && !key; i++)
                if (keys[i].id_len == sizeof(id) && memcmp(keys[i].id, id, sizeof(id)) == 0)
                        key = PKCS11_get_private_key(&keys[i]);
        if (!key) {
                ERR_clear_error();
                tb_err("%s: token '%s': the generated key '%s' cannot be found", s.shown, s.slot->token->label,
                       label);
                return -EIO;
        }

        /* The new key's URI: the token as the user named it, the key by label, id and type. */
        out = p11_kit_uri_new();
        if (!out) {
                EVP_PKEY_free(key);
                return tb_log_oom();
        }
        ti = p11_kit_uri_get_token_info(out);
        memcpy(ti, p11_kit_uri_get_token_info(s.uri), sizeof(*ti));
        if (p11_kit_uri_get_module_path(s.uri))
                p11_kit_uri_set_module_path(out, p11_kit_uri_get_module_path(s.uri));
        /* A pin-source is a path, not a secret: keep it so the key set works unattended. */
        if (p11_kit_uri_get_pin_source(s.uri))
                p11_kit_uri_set_pin_source(out, p11_kit_uri_get_pin_source(s.uri));
        a = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
        p11_kit_uri_set_attribute(out, &a);
        a = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
        p11_kit_uri_set_attribute(out, &a);
        a = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
        p11_kit_uri_set_attribute(out, &a);
        r = p11_kit_uri_format(out, P11_KIT_URI_FOR_OBJECT_ON_TOKEN_AND_MODULE, &formatted);
        p11_kit_uri_free(out);
        if (r != P11_KIT_URI_OK) {
                EVP_PKEY_free(key);
                return tb_log_oom();
        }
        *ret = key;
        *ret_uri = formatted;
        return 0;
}
