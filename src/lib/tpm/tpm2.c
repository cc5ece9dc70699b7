#include "tpm/tpm2.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/codec.h"
#include "util/ossl.h"
#include "measure/pcr.h"

#define SIGNATURE_FILE_MAX ((size_t)1024 * 1024)
#define PCR_CHANGED_RETRIES 10

struct tb_tpm2 {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        char *device;
};

/* A transient object or session that must leave the TPM on every path: swtpm has no
 * resource manager, and three leaked sessions make it refuse the next operation. */
typedef struct handle {
        ESYS_CONTEXT *esys;
        ESYS_TR tr;
        bool persistent; /* a persistent key (the SRK): only its ESYS_TR is released, never the key */
} handle;

#define HANDLE_INIT(t) { (t)->esys, ESYS_TR_NONE, false }

static void handle_flush(handle *h) {
        if (h->tr != ESYS_TR_NONE) {
                if (h->persistent)
                        (void)Esys_TR_Close(h->esys, &h->tr);
                else
                        (void)Esys_FlushContext(h->esys, h->tr);
        }
        h->tr = ESYS_TR_NONE;
}

static void esys_freep(void *p) {
        Esys_Free(*(void **)p);
}

static int tpm_error(TSS2_RC rc, const char *what) {
        tb_err("TPM: %s failed: %s", what, Tss2_RC_Decode(rc));
        return -EIO;
}

/* TPM2_RC_* number of a TPM response code, without the handle/session/parameter index. */
static TSS2_RC rc_base(TSS2_RC rc) {
        if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
                return rc;
        return (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3f)) : rc;
}

void tb_tpm2_free(tb_tpm2 *t) {
        if (!t)
                return;
        if (t->esys)
                Esys_Finalize(&t->esys);
        if (t->tcti)
                Tss2_TctiLdr_Finalize(&t->tcti);
        free(t->device);
        free(t);
}

int tb_tpm2_pubkey_check(const uint8_t *pem, size_t len, const char *name) {
        EVP_PKEY *key = NULL;

        if (tb_tpm2_pubkey_from_pem(pem, len, &key) < 0) {
                tb_err("%s: not an RSA public key in PEM format", name);
                return -EBADMSG;
        }
        EVP_PKEY_free(key);
        return 0;
}

int tb_tpm2_open(const char *device, tb_tpm2 **ret) {
        _cleanup_(tb_tpm2_freep) tb_tpm2 *t = NULL;
        _cleanup_(freep) char *conf = NULL;
        TSS2_RC rc;

        if (!device || strcmp(device, "auto") == 0)
                device = "/dev/tpmrm0";
        if (device[0] == '/') {
                if (asprintf(&conf, "device:%s", device) < 0)
                        return tb_log_oom();
        } else if (!(conf = strdup(device)))
                return tb_log_oom();

        /* tss2 prints its own multi-line errors on stderr; we report one line per failure. */
        if (tb_log_get_level() < TB_LOG_DEBUG)
                setenv("TSS2_LOG", "all+NONE", 0);

        t = calloc(1, sizeof(*t));
        if (!t || !(t->device = strdup(device)))
                return tb_log_oom();
        rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                tb_err("TPM device %s: cannot open: %s", device, Tss2_RC_Decode(rc));
                return -ENODEV;
        }
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                tb_err("TPM device %s: cannot initialize: %s", device, Tss2_RC_Decode(rc));
                return -ENODEV;
        }
        rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
        if (rc != TSS2_RC_SUCCESS && rc_base(rc) != TPM2_RC_INITIALIZE) {
                tb_err("TPM device %s: startup failed: %s", device, Tss2_RC_Decode(rc));
                return -ENODEV;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

void tb_tpm2_sealed_done(tb_tpm2_sealed *s) {
        tb_buf_free(&s->blob);
        tb_buf_free(&s->pubkey_pem);
        tb_buf_free(&s->salt);
        tb_buf_free(&s->srk);
}

/* systemd's "legacy" transient primary template: no NODA and empty unique fields, unlike the
 * TCG SRK template; any other bit would give a different key and the blob would not load. */
static void primary_template(uint16_t alg, TPM2B_PUBLIC *ret) {
        TPMT_PUBLIC *p = &ret->publicArea;

        memset(ret, 0, sizeof(*ret));
        p->type = alg;
        p->nameAlg = TPM2_ALG_SHA256;
        p->objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
                              TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                              TPMA_OBJECT_USERWITHAUTH;
        if (alg == TPM2_ALG_ECC) {
                p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
                p->parameters.eccDetail.symmetric.keyBits.aes = 128;
                p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
                p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
                p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
                p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        } else {
                p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
                p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
                p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
                p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
                p->parameters.rsaDetail.keyBits = 2048;
        }
}

static int create_primary(tb_tpm2 *t, uint16_t alg, handle *ret) {
        TPM2B_SENSITIVE_CREATE sensitive = { 0 };
        TPM2B_PUBLIC tmpl;
        TPM2B_DATA outside = { 0 };
        TPML_PCR_SELECTION creation_pcr = { 0 };
        TSS2_RC rc;

        primary_template(alg, &tmpl);
        rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                &sensitive, &tmpl, &outside, &creation_pcr, &ret->tr, NULL, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                ret->tr = ESYS_TR_NONE;
                return alg == TPM2_ALG_ECC ? -EOPNOTSUPP : tpm_error(rc, "creating the primary key");
        }
        return 0;
}

/* Sessions are salted with the primary key so that the secret never crosses the bus in the
 * clear (parameter encryption), as systemd does. */
static int start_session(tb_tpm2 *t, ESYS_TR salt_key, TPM2_SE type, TPMA_SESSION attrs, handle *ret) {
        TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB };
        TSS2_RC rc;

        rc = Esys_StartAuthSession(t->esys, salt_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   NULL, type, &sym, TPM2_ALG_SHA256, &ret->tr);
        if (rc != TSS2_RC_SUCCESS) {
                ret->tr = ESYS_TR_NONE;
                return tpm_error(rc, "starting a session");
        }
        if (attrs) {
                rc = Esys_TRSess_SetAttributes(t->esys, ret->tr, attrs, 0xff);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(rc, "setting session attributes");
        }
        return 0;
}

/* Reads the selected PCRs of BANK into VALUES, ascending; PCR_Read answers at most 8 per call. */
static int read_pcrs(tb_tpm2 *t, uint16_t bank, uint32_t mask, uint8_t *values, size_t *len) {
        size_t size = tb_tpm2_bank_size(bank);
        uint8_t got[TB_TPM2_PCRS][TPM2_MAX_DIGEST_BUFFER];
        uint32_t todo = mask, done = 0;

        while (todo) {
                _cleanup_(esys_freep) TPML_PCR_SELECTION *out_sel = NULL;
                _cleanup_(esys_freep) TPML_DIGEST *digests = NULL;
                TPML_PCR_SELECTION sel;
                uint32_t read_mask = 0;
                size_t k = 0;
                TSS2_RC rc;

                tb_tpm2_pcr_selection(bank, todo, &sel);
                rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL, &out_sel,
                                   &digests);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(rc, "reading PCRs");
                if (out_sel->count == 1 && out_sel->pcrSelections[0].hash == bank)
                        for (unsigned i = 0; i < TB_TPM2_PCRS; i++)
                                if (out_sel->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8)))
                                        read_mask |= UINT32_C(1) << i;
                read_mask &= todo;
                if (!read_mask) {
                        tb_err("TPM: the %s bank is not active", tb_tpm2_bank_name(bank));
                        return -EOPNOTSUPP;
                }
                for (unsigned i = 0; i < TB_TPM2_PCRS; i++) {
                        if (!(read_mask & (UINT32_C(1) << i)))
                                continue;
                        if (k >= digests->count || digests->digests[k].size != size)
                                return tpm_error(TSS2_ESYS_RC_MALFORMED_RESPONSE, "reading PCRs");
                        memcpy(got[i], digests->digests[k++].buffer, size);
                }
                todo &= ~read_mask;
                done |= read_mask;
        }
        *len = 0;
        for (unsigned i = 0; i < TB_TPM2_PCRS; i++)
                if (done & (UINT32_C(1) << i)) {
                        memcpy(values + *len, got[i], size);
                        *len += size;
                }
        return 0;
}

static int expected_policy(tb_tpm2 *t, const tb_tpm2_seal_params *p, uint16_t bank,
                           uint8_t d[TB_TPM2_DIGEST_SIZE]) {
        memset(d, 0, TB_TPM2_DIGEST_SIZE);
        if (p->pubkey_pem) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
                uint8_t name[TB_TPM2_NAME_SIZE];
                TPM2B_PUBLIC pub;
                int r;

                r = tb_tpm2_pubkey_from_pem(p->pubkey_pem, p->pubkey_pem_len, &key);
                if (r < 0)
                        return r;
                r = tb_tpm2_pubkey_to_public(key, &pub);
                if (r < 0)
                        return r;
                r = tb_tpm2_public_name(&pub, name);
                if (r < 0)
                        return r;
                tb_tpm2_policy_authorize(d, name);
        }
        if (p->pcr_mask) {
                uint8_t values[TB_TPM2_PCRS * TPM2_MAX_DIGEST_BUFFER];
                size_t len;
                int r;

                /* The values at enrollment are what the policy binds: read them now. */
                r = read_pcrs(t, bank, p->pcr_mask, values, &len);
                if (r < 0)
                        return r;
                r = tb_tpm2_policy_pcr(d, bank, p->pcr_mask, values, len);
                if (r < 0)
                        return r;
        }
        if (p->pin)
                tb_tpm2_policy_auth_value(d);
        return 0;
}

static int marshal_blob(const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub, tb_buf *out) {
        uint8_t buf[sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC)];
        size_t off = 0;

        if (Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        return tb_buf_append(out, buf, off);
}

/* What the token records about the policy, shared by both seals of one secret: checks the PIN,
 * computes the policy hash (reading literal PCRs now) and copies the PCR key. */
static int seal_prepare(tb_tpm2 *t, const tb_tpm2_seal_params *p, tb_tpm2_sealed *ret) {
        int r;

        if (p->pin) {
                /* 252 turns the PIN into SHA-256(PIN) and binds its session to the sealed object with it;
                 * when that digest ends in 0x00 the TPM trims it and 252 does not, so 252's
                 * systemd-cryptsetup could never open the volume (seen with its token plugin). */
                uint8_t auth[TB_TPM2_DIGEST_SIZE];
                bool trailing_zero;

                tb_tpm2_pin_auth_value(p->pin, auth);
                trailing_zero = auth[TB_TPM2_DIGEST_SIZE - 1] == 0;
                OPENSSL_cleanse(auth, sizeof(auth));
                if (trailing_zero) {
                        tb_err("PIN refused: systemd 252 cannot unlock with a PIN whose SHA-256 ends in a zero byte "
                               "(1 PIN in 256); choose another");
                        return -EINVAL;
                }
        }
        ret->bank = TPM2_ALG_SHA256; /* the only bank whose signatures systemd can verify */
        ret->pcr_mask = p->pcr_mask;
        ret->pubkey_pcr_mask = p->pubkey_pem ? p->pubkey_pcr_mask : 0;
        ret->pin = p->pin != NULL;
        r = expected_policy(t, p, ret->bank, ret->policy_hash);
        if (r == -EBADMSG)
                tb_err("PCR public key: not an RSA public key in PEM format");
        if (r < 0)
                return r;
        if (p->pubkey_pem)
                return tb_buf_append(&ret->pubkey_pem, p->pubkey_pem, p->pubkey_pem_len);
        return 0;
}

/* Seals SECRET under PARENT with the policy in RET (seal_prepare()) into RET's blob. Nothing is
 * logged: the TPM's answer is in *RC for the caller to judge (a lockout is not an error everywhere). */
static int create_sealed(tb_tpm2 *t, const tb_tpm2_seal_params *p, ESYS_TR parent,
                         const uint8_t secret[TB_TPM2_SECRET_SIZE], tb_tpm2_sealed *ret, TSS2_RC *rc) {
        _cleanup_(handle_flush) handle session = HANDLE_INIT(t);
        _cleanup_(esys_freep) TPM2B_PRIVATE *priv = NULL;
        _cleanup_(esys_freep) TPM2B_PUBLIC *pub = NULL;
        TPM2B_SENSITIVE_CREATE sensitive = { 0 };
        TPM2B_PUBLIC tmpl = { 0 };
        TPM2B_DATA outside = { 0 };
        TPML_PCR_SELECTION creation_pcr = { 0 };
        int r;

        *rc = TSS2_RC_SUCCESS;
        r = start_session(t, parent, TPM2_SE_HMAC,
                          TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, &session);
        if (r < 0)
                return r;

        tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
        tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
        /* No USERWITHAUTH: only the policy session can authorize the unseal. No NODA either: with a
         * PIN (PolicyAuthValue) the TPM's dictionary-attack protection is what limits guessing; without
         * one the policy session never uses the auth value, so the unseal is not DA-checked anyway. */
        tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
        tmpl.publicArea.authPolicy.size = TB_TPM2_DIGEST_SIZE;
        memcpy(tmpl.publicArea.authPolicy.buffer, ret->policy_hash, TB_TPM2_DIGEST_SIZE);
        tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
        tmpl.publicArea.unique.keyedHash.size = TB_TPM2_DIGEST_SIZE;

        if (p->pin) {
                sensitive.sensitive.userAuth.size = TB_TPM2_DIGEST_SIZE;
                tb_tpm2_pin_auth_value(p->pin, sensitive.sensitive.userAuth.buffer);
        }
        sensitive.sensitive.data.size = TB_TPM2_SECRET_SIZE;
        memcpy(sensitive.sensitive.data.buffer, secret, TB_TPM2_SECRET_SIZE);
        *rc = Esys_Create(t->esys, parent, ESYS_TR_PASSWORD, session.tr, ESYS_TR_NONE, &sensitive, &tmpl, &outside,
                          &creation_pcr, &priv, &pub, NULL, NULL, NULL);
        OPENSSL_cleanse(&sensitive, sizeof(sensitive));
        if (*rc != TSS2_RC_SUCCESS)
                return -EIO;
        return marshal_blob(priv, pub, &ret->blob);
}

/* Under systemd's legacy transient primary (what systemd-cryptsetup 252 recreates to unseal). Its
 * template has no NODA, so loading under it — and creating under it — is a dictionary-attack
 * protected authorization (Part 1 "Dictionary Attack Protection"; libtpms IsDAExempted): refused
 * in lockout, and it marks the power cycle so that an unorderly shutdown counts as a failure. */
static int seal_legacy(tb_tpm2 *t, const tb_tpm2_seal_params *p, const uint8_t secret[TB_TPM2_SECRET_SIZE],
                       tb_tpm2_sealed *ret, TSS2_RC *rc) {
        _cleanup_(handle_flush) handle primary = HANDLE_INIT(t);
        uint16_t alg = TPM2_ALG_ECC;
        TPM2B_SENSITIVE_CREATE sensitive = { 0 };
        TPM2B_PUBLIC tmpl;
        TPM2B_DATA outside = { 0 };
        TPML_PCR_SELECTION creation_pcr = { 0 };

        for (;;) {
                primary_template(alg, &tmpl);
                *rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &sensitive, &tmpl, &outside, &creation_pcr, &primary.tr, NULL, NULL, NULL,
                                         NULL);
                if (*rc == TSS2_RC_SUCCESS)
                        break;
                primary.tr = ESYS_TR_NONE;
                if (alg == TPM2_ALG_RSA || rc_base(*rc) == TPM2_RC_BAD_AUTH)
                        return -EIO;
                tb_debug("TPM: no ECC P-256 primary key, falling back to RSA");
                alg = TPM2_ALG_RSA;
        }
        ret->primary_alg = alg;
        return create_sealed(t, p, primary.tr, secret, ret, rc);
}

/* The TCG SRK template (EK Credential Profile L-2 / L-1, as systemd >= 254 persists it): the
 * legacy template plus NODA. */
static void srk_template(uint16_t alg, TPM2B_PUBLIC *ret) {
        primary_template(alg, ret);
        ret->publicArea.objectAttributes |= TPMA_OBJECT_NODA;
}

/* Whether the key at the SRK handle can be our parent and keeps the boot path out of the TPM's
 * dictionary-attack protection: a restricted decryption (storage) key bound to this TPM, usable
 * with its auth value, with NODA. Someone else's key of another kind is left alone. */
static bool srk_suitable(const TPMT_PUBLIC *p) {
        const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM |
                                 TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;

        return (p->type == TPM2_ALG_ECC || p->type == TPM2_ALG_RSA) && (p->objectAttributes & need) == need &&
               !(p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT);
}

typedef enum srk_problem {
        SRK_OK,
        SRK_OWNER_AUTH, /* the owner hierarchy has an auth value: we cannot create or persist keys */
        SRK_UNSUITABLE, /* 0x81000001 holds another kind of key */
        SRK_NV_FULL,    /* no room for another persistent object */
        SRK_FAILED,     /* anything else (logged) */
} srk_problem;

/* The persistent SRK at TB_TPM2_SRK_HANDLE, created and persisted first if absent, as systemd's
 * tpm2_get_or_create_srk() does (CreatePrimary + EvictControl under the owner hierarchy, which is
 * a permanent handle and exempt from dictionary-attack protection). */
static srk_problem get_or_create_srk(tb_tpm2 *t, handle *ret, uint16_t *ret_alg) {
        _cleanup_(handle_flush) handle transient = HANDLE_INIT(t);
        _cleanup_(esys_freep) TPM2B_PUBLIC *pub = NULL;
        TSS2_RC rc;

        ret->persistent = true;
        rc = Esys_TR_FromTPMPublic(t->esys, TB_TPM2_SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ret->tr);
        if (rc != TSS2_RC_SUCCESS) {
                TPM2B_SENSITIVE_CREATE sensitive = { 0 };
                TPM2B_PUBLIC tmpl;
                TPM2B_DATA outside = { 0 };
                TPML_PCR_SELECTION creation_pcr = { 0 };
                uint16_t alg = TPM2_ALG_ECC;

                ret->tr = ESYS_TR_NONE;
                if (rc_base(rc) != TPM2_RC_HANDLE) {
                        tpm_error(rc, "reading the SRK");
                        return SRK_FAILED;
                }
                for (;;) {
                        srk_template(alg, &tmpl);
                        rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                ESYS_TR_NONE, &sensitive, &tmpl, &outside, &creation_pcr,
                                                &transient.tr, NULL, NULL, NULL, NULL);
                        if (rc == TSS2_RC_SUCCESS)
                                break;
                        transient.tr = ESYS_TR_NONE;
                        if (rc_base(rc) == TPM2_RC_BAD_AUTH)
                                return SRK_OWNER_AUTH;
                        if (alg == TPM2_ALG_RSA) {
                                tpm_error(rc, "creating the SRK");
                                return SRK_FAILED;
                        }
                        alg = TPM2_ALG_RSA;
                }
                rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, transient.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE, TB_TPM2_SRK_HANDLE, &ret->tr);
                if (rc != TSS2_RC_SUCCESS) {
                        ret->tr = ESYS_TR_NONE;
                        if (rc_base(rc) == TPM2_RC_BAD_AUTH)
                                return SRK_OWNER_AUTH;
                        if (rc_base(rc) == TPM2_RC_NV_SPACE)
                                return SRK_NV_FULL;
                        if (rc_base(rc) != TPM2_RC_NV_DEFINED) {
                                tpm_error(rc, "persisting the SRK");
                                return SRK_FAILED;
                        }
                        /* Persisted by someone else meanwhile (systemd-tpm2-setup): use theirs. */
                        rc = Esys_TR_FromTPMPublic(t->esys, TB_TPM2_SRK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                   ESYS_TR_NONE, &ret->tr);
                        if (rc != TSS2_RC_SUCCESS) {
                                ret->tr = ESYS_TR_NONE;
                                tpm_error(rc, "reading the SRK");
                                return SRK_FAILED;
                        }
                } else
                        tb_info("TPM: created the SRK at 0x%08x (TCG template, noDA)", TB_TPM2_SRK_HANDLE);
        }
        rc = Esys_ReadPublic(t->esys, ret->tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                tpm_error(rc, "reading the SRK's public area");
                return SRK_FAILED;
        }
        *ret_alg = pub->publicArea.type;
        return srk_suitable(&pub->publicArea) ? SRK_OK : SRK_UNSUITABLE;
}

/* Under the SRK, the token naming it as systemd >= 254 does (tpm2_srk = the ESYS_TR serialization).
 * Loading under a NODA parent and unsealing through a policy that does not use the auth value make
 * no dictionary-attack protected authorization: no lockout refuses it, no power cut counts. */
static srk_problem seal_srk(tb_tpm2 *t, const tb_tpm2_seal_params *p, const uint8_t secret[TB_TPM2_SECRET_SIZE],
                            tb_tpm2_sealed *ret) {
        _cleanup_(handle_flush) handle srk = HANDLE_INIT(t);
        _cleanup_(esys_freep) uint8_t *ser = NULL;
        size_t ser_len = 0;
        srk_problem sp;
        TSS2_RC rc;
        int r;

        sp = get_or_create_srk(t, &srk, &ret->primary_alg);
        if (sp != SRK_OK)
                return sp;
        rc = Esys_TR_Serialize(t->esys, srk.tr, &ser, &ser_len);
        if (rc != TSS2_RC_SUCCESS) {
                tpm_error(rc, "serializing the SRK");
                return SRK_FAILED;
        }
        r = tb_buf_append(&ret->srk, ser, ser_len);
        if (r < 0)
                return SRK_FAILED;
        r = create_sealed(t, p, srk.tr, secret, ret, &rc);
        if (r < 0) {
                if (rc_base(rc) == TPM2_RC_BAD_AUTH || rc_base(rc) == TPM2_RC_AUTH_FAIL)
                        return SRK_UNSUITABLE; /* it has an authorization value */
                if (rc != TSS2_RC_SUCCESS)
                        tpm_error(rc, "sealing the secret under the SRK");
                return SRK_FAILED;
        }
        return SRK_OK;
}

int tb_tpm2_seal(tb_tpm2 *t, const tb_tpm2_seal_params *p, uint8_t secret[TB_TPM2_SECRET_SIZE],
                 tb_tpm2_sealed *ret) {
        TSS2_RC rc;
        int r;

        r = seal_prepare(t, p, ret);
        if (r < 0)
                return r;
        if (RAND_priv_bytes(secret, TB_TPM2_SECRET_SIZE) != 1) {
                tb_err("cannot generate a random secret");
                return -EIO;
        }
        r = seal_legacy(t, p, secret, ret, &rc);
        if (r < 0) {
                OPENSSL_cleanse(secret, TB_TPM2_SECRET_SIZE);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(rc, "sealing the secret");
        }
        return r;
}

static int copy_prepared(const tb_tpm2_sealed *from, tb_tpm2_sealed *to) {
        memcpy(to->policy_hash, from->policy_hash, sizeof(to->policy_hash));
        to->bank = from->bank;
        to->pcr_mask = from->pcr_mask;
        to->pubkey_pcr_mask = from->pubkey_pcr_mask;
        to->pin = from->pin;
        return tb_buf_append(&to->pubkey_pem, from->pubkey_pem.data, from->pubkey_pem.len);
}

int tb_tpm2_seal_pair(tb_tpm2 *t, const tb_tpm2_seal_params *p, uint8_t secret[TB_TPM2_SECRET_SIZE],
                      tb_tpm2_sealed *ret_legacy, tb_tpm2_sealed *ret_srk) {
        static const char *const srk_why[] = {
                [SRK_OWNER_AUTH] = "the owner hierarchy has an authorization value",
                [SRK_UNSUITABLE] = "the key at 0x81000001 is not a noDA storage key without authorization value",
                [SRK_NV_FULL] = "no room for a persistent key",
                [SRK_FAILED] = "the TPM refused",
        };
        srk_problem sp;
        TSS2_RC rc = TSS2_RC_SUCCESS;
        int r, legacy;

        r = seal_prepare(t, p, ret_legacy);
        if (r >= 0)
                r = copy_prepared(ret_legacy, ret_srk);
        if (r < 0)
                return r;
        if (RAND_priv_bytes(secret, TB_TPM2_SECRET_SIZE) != 1) {
                tb_err("cannot generate a random secret");
                return -EIO;
        }
        /* The SRK first: it also tells whether the owner hierarchy is usable at all. */
        sp = seal_srk(t, p, secret, ret_srk);
        if (sp != SRK_OK) {
                tb_buf_free(&ret_srk->blob);
                tb_buf_free(&ret_srk->srk);
        }
        legacy = seal_legacy(t, p, secret, ret_legacy, &rc);
        if (legacy < 0) {
                tb_buf_free(&ret_legacy->blob);
                bool lockout = rc_base(rc) == TPM2_RC_LOCKOUT, owner_auth = rc_base(rc) == TPM2_RC_BAD_AUTH;

                if (sp == SRK_OK && (lockout || owner_auth)) {
                        /* The node's own boot path needs only the SRK token; refusing would leave an
                         * interrupted install unrepeatable until the TPM's lockout recovery passed. */
                        tb_warn("TPM: %s: sealed under the SRK only (systemd-cryptsetup 252 cannot open this volume; "
                                "trustboot and systemd >= 254 can)",
                                lockout ? "in dictionary-attack lockout" : "the owner hierarchy has an authorization value");
                        return 0;
                }
                OPENSSL_cleanse(secret, TB_TPM2_SECRET_SIZE);
                if (sp == SRK_OWNER_AUTH || owner_auth) {
                        tb_err("TPM: the owner hierarchy has an authorization value: systemd's tokens need the empty "
                               "one to create their keys (clear it, or persist an SRK at 0x%08x)", TB_TPM2_SRK_HANDLE);
                        return -EACCES;
                }
                if (lockout) {
                        tb_err("TPM: in dictionary-attack lockout and no SRK to seal under (%s): wait for the TPM's "
                               "recovery time or reset it with the lockout authorization", srk_why[sp]);
                        return -EACCES;
                }
                return rc != TSS2_RC_SUCCESS ? tpm_error(rc, "sealing the secret") : legacy;
        }
        if (sp != SRK_OK)
                tb_warn("TPM: no SRK token (%s): this volume unlocks through systemd's legacy primary key only, whose "
                        "use the TPM's dictionary-attack protection counts (repeated power cuts can lock it out)",
                        srk_why[sp]);
        return 0;
}

static int load_signature(const char *path, tb_buf *out, const char **ret_path) {
        int r;

        if (path)
                r = tb_read_file(path, SIGNATURE_FILE_MAX, out);
        else {
                path = TB_TPM2_DEFAULT_SIGNATURE;
                r = tb_read_file(path, SIGNATURE_FILE_MAX, out);
                if (r == -ENOENT) {
                        path = TB_TPM2_INITRD_SIGNATURE;
                        r = tb_read_file(path, SIGNATURE_FILE_MAX, out);
                }
                if (r == -ENOENT) {
                        tb_err("no PCR signature file (%s, %s); use --pcr-signature",
                               TB_TPM2_DEFAULT_SIGNATURE, TB_TPM2_INITRD_SIGNATURE);
                        return r;
                }
        }
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read PCR signature", path);
        *ret_path = path;
        r = tb_buf_append_zero(out, 1); /* NUL for the JSON parser's error paths */
        if (r < 0)
                return r;
        out->len--;
        return 0;
}

static void mask_to_string(uint32_t mask, char *out, size_t size) {
        size_t n = 0;

        out[0] = 0;
        for (unsigned i = 0; i < TB_TPM2_PCRS && n < size; i++)
                if (mask & (UINT32_C(1) << i))
                        n += (size_t)snprintf(out + n, size - n, "%s%u", n ? "+" : "", i);
}

/* PolicyAuthorize branch: the TPM checks that our key signed the PCR policy of this boot.
 * EXPONENT_ZERO loads an RSA key with the public exponent 65537 as 0 ("the default"): a different
 * Name, which systemd 255 used when it computed the policy of a --tpm2-public-key enrollment
 * (systemd bug #30546); -EDOM if the key has another exponent (nothing to retry). */
static int policy_signed(tb_tpm2 *t, const tb_tpm2_sealed *s, ESYS_TR session, const char *signature_path,
                         bool exponent_zero) {
        _cleanup_(handle_flush) handle key = HANDLE_INIT(t);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(esys_freep) TPM2B_DIGEST *approved = NULL;
        _cleanup_(esys_freep) TPM2B_NAME *name = NULL;
        _cleanup_(esys_freep) TPMT_TK_VERIFIED *ticket = NULL;
        _cleanup_(tb_buf_freep) tb_buf json = TB_BUF_INIT, sig = TB_BUF_INIT;
        TPM2B_DIGEST empty = { 0 }, digest = { .size = TB_TPM2_DIGEST_SIZE };
        TPM2B_NONCE ref = { 0 };
        TPML_PCR_SELECTION sel;
        TPMT_SIGNATURE signature = { 0 };
        TPM2B_PUBLIC pub;
        char pkfp[TB_TPM2_PKFP_HEX], pcrs[80];
        uint8_t fp[TB_TPM2_DIGEST_SIZE];
        TSS2_RC rc;
        int r;

        mask_to_string(s->pubkey_pcr_mask, pcrs, sizeof(pcrs));
        r = tb_tpm2_pubkey_from_pem(s->pubkey_pem.data, s->pubkey_pem.len, &pkey);
        if (r >= 0)
                r = tb_tpm2_pubkey_to_public(pkey, &pub);
        if (r >= 0)
                r = tb_pcr_pkfp(pkey, fp);
        if (r < 0) {
                tb_err("token: the PCR public key is not an RSA key in PEM format");
                return -EBADMSG;
        }
        tb_hex_encode(fp, sizeof(fp), pkfp);
        if (exponent_zero) {
                if (pub.publicArea.parameters.rsaDetail.exponent != 65537)
                        return -EDOM;
                pub.publicArea.parameters.rsaDetail.exponent = 0;
        }
        rc = Esys_LoadExternal(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &pub, ESYS_TR_RH_OWNER,
                               &key.tr);
        if (rc != TSS2_RC_SUCCESS) {
                key.tr = ESYS_TR_NONE;
                return tpm_error(rc, "loading the PCR public key");
        }
        rc = Esys_TR_GetName(t->esys, key.tr, &name);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "reading the PCR public key's name");

        tb_tpm2_pcr_selection(s->bank, s->pubkey_pcr_mask, &sel);
        rc = Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "PolicyPCR");
        rc = Esys_PolicyGetDigest(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &approved);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "PolicyGetDigest");
        if (approved->size != TB_TPM2_DIGEST_SIZE)
                return tpm_error(TSS2_ESYS_RC_MALFORMED_RESPONSE, "PolicyGetDigest");

        r = load_signature(signature_path, &json, &signature_path);
        if (r < 0)
                return r;
        r = tb_tpm2_find_signature((const char *)json.data, json.len, s->bank, s->pubkey_pcr_mask, pkfp,
                                   approved->buffer, &sig);
        if (r == -EBADMSG) {
                tb_err("%s: not a PCR signature JSON document", signature_path);
                return r;
        }
        if (r == -ENXIO) {
                char pol[2 * TB_TPM2_DIGEST_SIZE + 1];

                tb_hex_encode(approved->buffer, TB_TPM2_DIGEST_SIZE, pol);
                tb_err("no signature by key %.16s… for the current state of PCR %s (%s policy %.16s…): "
                       "this boot is not one the PCR key approved",
                       pkfp, pcrs, tb_tpm2_bank_name(s->bank), pol);
                return r;
        }
        if (r < 0)
                return r;
        if (sig.len > TPM2_MAX_RSA_KEY_BYTES) {
                tb_err("PCR signature: %zu bytes, too long for an RSA signature", sig.len);
                return -EBADMSG;
        }

        SHA256(approved->buffer, approved->size, digest.buffer);
        signature.sigAlg = TPM2_ALG_RSASSA;
        signature.signature.rsassa.hash = TPM2_ALG_SHA256;
        signature.signature.rsassa.sig.size = (UINT16)sig.len;
        memcpy(signature.signature.rsassa.sig.buffer, sig.data, sig.len);
        rc = Esys_VerifySignature(t->esys, key.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &signature,
                                  &ticket);
        if (rc != TSS2_RC_SUCCESS) {
                if (rc_base(rc) == TPM2_RC_SIGNATURE) {
                        tb_err("the PCR signature for PCR %s does not verify with the enrolled public key", pcrs);
                        return -EKEYREJECTED;
                }
                return tpm_error(rc, "VerifySignature");
        }
        rc = Esys_PolicyAuthorize(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, approved, &ref, name,
                                  ticket);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "PolicyAuthorize");
        return 0;
}

/* The parent of a 254+ token: the SRK whose serialization (tpm2_srk) names its persistent handle
 * and public area. The TPM's key at that handle must have the same Name before we use it, so that a
 * cleared TPM or another machine's disk gets a clear error instead of a failed load; the sessions
 * salted with the serialized public key then prove that the TPM holds its private part. */
static int open_srk(tb_tpm2 *t, const tb_buf *srk, handle *ret) {
        _cleanup_(esys_freep) TPM2B_NAME *want = NULL, *have = NULL;
        TPM2_HANDLE h;
        ESYS_TR found;
        TSS2_RC rc;

        ret->persistent = true;
        rc = Esys_TR_Deserialize(t->esys, srk->data, srk->len, &ret->tr);
        if (rc != TSS2_RC_SUCCESS) {
                ret->tr = ESYS_TR_NONE;
                tb_err("token: tpm2_srk is not a serialized TPM key");
                return -EBADMSG;
        }
        rc = Esys_TR_GetTpmHandle(t->esys, ret->tr, &h);
        if (rc != TSS2_RC_SUCCESS || (h >> TPM2_HR_SHIFT) != TPM2_HT_PERSISTENT) {
                tb_err("token: tpm2_srk does not name a persistent key");
                return -EBADMSG;
        }
        rc = Esys_TR_GetName(t->esys, ret->tr, &want);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "reading the token's SRK name");
        /* ESAPI hands out one ESYS_TR per TPM handle: release the token's before asking the TPM, or we
         * would get the token's own public area back instead of the TPM's. */
        (void)Esys_TR_Close(t->esys, &ret->tr);
        ret->tr = ESYS_TR_NONE;
        rc = Esys_TR_FromTPMPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &found);
        if (rc != TSS2_RC_SUCCESS) {
                if (rc_base(rc) != TPM2_RC_HANDLE)
                        return tpm_error(rc, "reading the SRK");
                tb_err("TPM: no key at 0x%08x, the SRK the token was sealed under (TPM cleared, or another "
                       "machine's disk?)", h);
                return -EREMOTE;
        }
        rc = Esys_TR_GetName(t->esys, found, &have);
        (void)Esys_TR_Close(t->esys, &found);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "reading the SRK's name");
        if (want->size != have->size || memcmp(want->name, have->name, want->size) != 0) {
                tb_err("TPM: the key at 0x%08x is not the SRK the token was sealed under (TPM cleared, or "
                       "another machine's disk?)", h);
                return -EREMOTE;
        }
        /* From here on the token's public area salts the sessions: only the TPM holding its private
         * part can answer them. */
        rc = Esys_TR_Deserialize(t->esys, srk->data, srk->len, &ret->tr);
        if (rc != TSS2_RC_SUCCESS) {
                ret->tr = ESYS_TR_NONE;
                return tpm_error(rc, "loading the SRK");
        }
        return 0;
}

/* A blob with a seed was sealed offline against the SRK's public key (systemd-cryptenroll
 * --tpm2-device-key): the TPM imports it into a private part of its own before it can be loaded. */
static int import_sealed(tb_tpm2 *t, ESYS_TR parent, const TPM2B_PUBLIC *pub, const TPM2B_ENCRYPTED_SECRET *seed,
                         TPM2B_PRIVATE *priv) {
        _cleanup_(esys_freep) TPM2B_PRIVATE *imported = NULL;
        TPM2B_DATA no_inner_key = { 0 };
        TPMT_SYM_DEF_OBJECT no_inner_wrap = { .algorithm = TPM2_ALG_NULL };
        TSS2_RC rc;

        rc = Esys_Import(t->esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_inner_key, pub, priv,
                         seed, &no_inner_wrap, &imported);
        if (rc != TSS2_RC_SUCCESS) {
                tb_err("TPM: cannot import the sealed object (sealed for another TPM?): %s", Tss2_RC_Decode(rc));
                return -EIO;
        }
        *priv = *imported;
        return 0;
}

static void log_policy_mismatch(const tb_tpm2_sealed *s) {
        char pcrs[80];

        mask_to_string(s->pcr_mask, pcrs, sizeof(pcrs));
        if (s->pcr_mask)
                tb_err("PCR %s (%s) changed since enrollment: the policy does not match", pcrs,
                       tb_tpm2_bank_name(s->bank));
        else
                tb_err("the TPM policy does not match the token's policy hash");
}

/* -EDOM (nothing logged): the session's policy digest is not the token's. */
static int unseal_once(tb_tpm2 *t, const tb_tpm2_sealed *s, ESYS_TR primary, ESYS_TR sealed,
                       const char *signature_path, bool exponent_zero, uint8_t secret[TB_TPM2_SECRET_SIZE]) {
        _cleanup_(handle_flush) handle policy = HANDLE_INIT(t), enc = HANDLE_INIT(t);
        _cleanup_(esys_freep) TPM2B_DIGEST *digest = NULL;
        _cleanup_(esys_freep) TPM2B_SENSITIVE_DATA *data = NULL;
        TPM2B_DIGEST empty = { 0 };
        TSS2_RC rc;
        int r;

        r = start_session(t, primary, TPM2_SE_POLICY, 0, &policy);
        if (r < 0)
                return r;
        /* Unseal has no command parameter, only the secret in the response to encrypt. */
        r = start_session(t, primary, TPM2_SE_HMAC, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION, &enc);
        if (r < 0)
                return r;
        if (s->pubkey_pcr_mask) {
                r = policy_signed(t, s, policy.tr, signature_path, exponent_zero);
                if (r < 0)
                        return r;
        }
        if (s->pcr_mask) {
                TPML_PCR_SELECTION sel;

                tb_tpm2_pcr_selection(s->bank, s->pcr_mask, &sel);
                rc = Esys_PolicyPCR(t->esys, policy.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(rc, "PolicyPCR");
        }
        if (s->pin) {
                rc = Esys_PolicyAuthValue(t->esys, policy.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(rc, "PolicyAuthValue");
        }
        rc = Esys_PolicyGetDigest(t->esys, policy.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "PolicyGetDigest");
        if (digest->size != TB_TPM2_DIGEST_SIZE || memcmp(digest->buffer, s->policy_hash, TB_TPM2_DIGEST_SIZE) != 0)
                return -EDOM;

        rc = Esys_Unseal(t->esys, sealed, policy.tr, enc.tr, ESYS_TR_NONE, &data);
        if (rc != TSS2_RC_SUCCESS) {
                TSS2_RC b = rc_base(rc);

                if (b == TPM2_RC_PCR_CHANGED)
                        return -EAGAIN;
                if (b == TPM2_RC_AUTH_FAIL || b == TPM2_RC_BAD_AUTH) {
                        tb_err("wrong PIN");
                        return -EACCES;
                }
                if (b == TPM2_RC_LOCKOUT) {
                        tb_err("the TPM is in dictionary-attack lockout (too many wrong PINs); try again later");
                        return -EACCES;
                }
                if (b == TPM2_RC_POLICY_FAIL) {
                        tb_err("the TPM refused the policy");
                        return -EPERM;
                }
                return tpm_error(rc, "Unseal");
        }
        if (data->size != TB_TPM2_SECRET_SIZE) {
                OPENSSL_cleanse(data, sizeof(*data));
                tb_err("token: the sealed secret has %u bytes, expected %d", data->size, TB_TPM2_SECRET_SIZE);
                return -EBADMSG;
        }
        memcpy(secret, data->buffer, TB_TPM2_SECRET_SIZE);
        OPENSSL_cleanse(data, sizeof(*data));
        return 0;
}

int tb_tpm2_unseal(tb_tpm2 *t, const tb_tpm2_sealed *s, const char *pin, const char *signature_path,
                   uint8_t secret[TB_TPM2_SECRET_SIZE]) {
        _cleanup_(handle_flush) handle primary = HANDLE_INIT(t), sealed = HANDLE_INIT(t);
        TPM2B_PRIVATE priv = { 0 };
        TPM2B_PUBLIC pub = { 0 };
        TPM2B_ENCRYPTED_SECRET seed = { 0 };
        size_t off = 0;
        TSS2_RC rc;
        int r = 0;

        if (s->pin && !pin) {
                tb_err("the token needs a PIN");
                return -EACCES;
        }
        if (!tb_tpm2_bank_name(s->bank)) {
                tb_err("token: unsupported PCR bank 0x%04x", s->bank);
                return -EOPNOTSUPP;
        }
        if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(s->blob.data, s->blob.len, &off, &priv) != TSS2_RC_SUCCESS ||
            Tss2_MU_TPM2B_PUBLIC_Unmarshal(s->blob.data, s->blob.len, &off, &pub) != TSS2_RC_SUCCESS) {
                tb_err("token: tpm2-blob is not a sealed TPM object");
                return -EBADMSG;
        }
        if (off < s->blob.len &&
            (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(s->blob.data, s->blob.len, &off, &seed) != TSS2_RC_SUCCESS ||
             off != s->blob.len)) {
                tb_err("token: tpm2-blob has %zu bytes after the sealed object that are not an import seed",
                       s->blob.len - off);
                return -EBADMSG;
        }

        if (s->srk.len > 0)
                r = open_srk(t, &s->srk, &primary);
        else {
                r = create_primary(t, s->primary_alg ? s->primary_alg : TPM2_ALG_ECC, &primary);
                if (r == -EOPNOTSUPP) {
                        tb_err("TPM: cannot create the ECC primary key the token was sealed under");
                        return -EOPNOTSUPP;
                }
        }
        if (r < 0)
                return r;
        if (seed.size > 0) {
                r = import_sealed(t, primary.tr, &pub, &seed, &priv);
                if (r < 0)
                        return r;
        }
        rc = Esys_Load(t->esys, primary.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &sealed.tr);
        if (rc != TSS2_RC_SUCCESS) {
                sealed.tr = ESYS_TR_NONE;
                if (rc_base(rc) == TPM2_RC_LOCKOUT) {
                        /* Loading under the legacy primary (no NODA) is dictionary-attack protected. */
                        tb_err("TPM: in dictionary-attack lockout: cannot load the sealed object under the legacy "
                               "primary key (no SRK token for it)");
                        return -EACCES;
                }
                tb_err("TPM: cannot load the sealed object (sealed by another TPM or owner?): %s",
                       Tss2_RC_Decode(rc));
                return -EIO;
        }
        if (s->pin) {
                TPM2B_AUTH auth = { .size = TB_TPM2_DIGEST_SIZE };

                if (s->salt.len > 0)
                        r = tb_tpm2_pin_auth_value_salted(pin, s->salt.data, s->salt.len, auth.buffer);
                else
                        tb_tpm2_pin_auth_value(pin, auth.buffer);
                if (r < 0)
                        return r;
                /* An auth value ending in 0x00 (1 PIN in 256) is trimmed by the TPM (Part 1, "Authorization
                 * Size Convention") and by Esys_TR_SetAuth alike: passed as it is. */
                rc = Esys_TR_SetAuth(t->esys, sealed.tr, &auth);
                OPENSSL_cleanse(&auth, sizeof(auth));
                if (rc != TSS2_RC_SUCCESS)
                        return tpm_error(rc, "setting the PIN");
        }
        for (int i = 0, exponent_zero = 0;; i++) {
                r = unseal_once(t, s, primary.tr, sealed.tr, signature_path, exponent_zero, secret);
                if (r == -EDOM && s->pubkey_pcr_mask && !exponent_zero) {
                        tb_debug("policy mismatch: trying the PCR key with exponent 0 (systemd 255 enrollments)");
                        exponent_zero = 1;
                        continue;
                }
                if (r == -EDOM) {
                        log_policy_mismatch(s);
                        return -EPERM;
                }
                if (r != -EAGAIN)
                        return r;
                if (i >= PCR_CHANGED_RETRIES) {
                        tb_err("TPM: PCRs keep changing during unseal");
                        return -EBUSY;
                }
        }
}

int tb_tpm2_pcr_extend(tb_tpm2 *t, unsigned pcr, const void *data, size_t len) {
        static const struct {
                TPMI_ALG_HASH alg;
                const char *md;
        } algs[] = { { TPM2_ALG_SHA1, "SHA1" }, { TPM2_ALG_SHA256, "SHA256" }, { TPM2_ALG_SHA384, "SHA384" },
                     { TPM2_ALG_SHA512, "SHA512" } };
        _cleanup_(esys_freep) TPMS_CAPABILITY_DATA *cap = NULL;
        TPML_DIGEST_VALUES values = { .count = 0 };
        TSS2_RC rc;

        if (pcr > 23)
                return -EINVAL;
        rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0, 1, NULL, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "cannot list the PCR banks");
        for (uint32_t i = 0; i < cap->data.assignedPCR.count; i++) {
                const TPMS_PCR_SELECTION *s = &cap->data.assignedPCR.pcrSelections[i];
                bool active = false;
                for (unsigned b = 0; b < s->sizeofSelect; b++)
                        active |= s->pcrSelect[b] != 0;
                for (size_t a = 0; active && a < ARRAY_SIZE(algs); a++) {
                        if (algs[a].alg != s->hash || values.count >= TPM2_NUM_PCR_BANKS)
                                continue;
                        unsigned int n = 0;
                        TPMT_HA *ha = &values.digests[values.count];
                        ha->hashAlg = s->hash;
                        if (EVP_Digest(data, len, (unsigned char *)&ha->digest, &n, EVP_get_digestbyname(algs[a].md),
                                       NULL) != 1)
                                return -EIO;
                        values.count++;
                }
        }
        if (values.count == 0) {
                tb_err("TPM: no active PCR bank");
                return -ENXIO;
        }
        rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &values);
        if (rc != TSS2_RC_SUCCESS)
                return tpm_error(rc, "cannot extend the PCR");
        return (int)values.count;
}
