#include "pe/signer.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "pe/pkcs11.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"

#define KEY_FILE_MAX (1u << 20)

/* Reads a PEM key with READER (private or public); the file's bytes are wiped afterwards. */
static int load_pem_key(const char *path, EVP_PKEY *(*reader)(BIO *, EVP_PKEY **, pem_password_cb *, void *),
                        EVP_PKEY **ret) {
        _cleanup_(tb_buf_wipep) tb_buf pem = TB_BUF_INIT;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        EVP_PKEY *key;
        int r;

        r = tb_read_secret_file(path, KEY_FILE_MAX, &pem);
        if (r < 0)
                return r;
        bio = BIO_new_mem_buf(pem.data, (int)pem.len);
        if (!bio)
                return tb_log_oom();
        key = reader(bio, NULL, NULL, NULL);
        if (!key) {
                tb_ossl_drain_errors(path);
                return -EBADMSG;
        }
        *ret = key;
        return 0;
}

int tb_key_load(const char *path, EVP_PKEY **ret) {
        return load_pem_key(path, PEM_read_bio_PrivateKey, ret);
}

char *tb_key_display_name(const char *ref) {
        return tb_pkcs11_is_uri(ref) ? tb_pkcs11_display_uri(ref) : strdup(ref);
}

int tb_private_key_load(const char *ref, EVP_PKEY **ret) {
        int r;

        if (tb_pkcs11_is_uri(ref))
                return tb_pkcs11_load_key(ref, ret); /* logs, without the PIN */
        r = tb_key_load(ref, ret);
        if (r == -EBADMSG)
                tb_err("%s: not a PEM private key", ref);
        else if (r < 0)
                tb_log_errno(r, "%s: cannot read private key", ref);
        return r;
}

int tb_pubkey_load(const char *path, EVP_PKEY **ret) {
        return load_pem_key(path, PEM_read_bio_PUBKEY, ret);
}

int tb_cert_from_der(const uint8_t *der, size_t len, X509 **ret) {
        const unsigned char *p = der;
        X509 *cert;

        cert = d2i_X509(NULL, &p, (long)len);
        if (!cert || p != der + len) {
                X509_free(cert);
                tb_ossl_drain_errors("certificate");
                return -EBADMSG;
        }
        *ret = cert;
        return 0;
}

int tb_cert_load(const char *path, X509 **ret) {
        _cleanup_(tb_buf_freep) tb_buf data = TB_BUF_INIT;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        X509 *cert;
        int r;

        r = tb_read_file(path, KEY_FILE_MAX, &data);
        if (r < 0)
                return r;
        if (data.len > 0 && data.data[0] == 0x30) /* DER: an ASN.1 SEQUENCE */
                return tb_cert_from_der(data.data, data.len, ret);
        bio = BIO_new_mem_buf(data.data, (int)data.len);
        if (!bio)
                return tb_log_oom();
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!cert) {
                tb_ossl_drain_errors(path);
                return -EBADMSG;
        }
        *ret = cert;
        return 0;
}

static unsigned expiry_warn_days = 30;

void tb_cert_set_expiry_warn_days(unsigned days) {
        expiry_warn_days = days;
}

int tb_cert_warn_expiry(X509 *cert, const char *name) {
        char subject[256], date[64] = "?";
        const ASN1_TIME *not_after = X509_get0_notAfter(cert);
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        int days = 0, secs = 0;

        /* Firmware ignores certificate times; operators must still know before the tooling
         * (and anything that does check, like a CA) refuses them. Real time, not SOURCE_DATE_EPOCH. */
        if (!not_after || ASN1_TIME_diff(&days, &secs, NULL, not_after) != 1) {
                ERR_clear_error();
                return 0;
        }
        X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
        if (bio && ASN1_TIME_print(bio, not_after) == 1) {
                int n = BIO_read(bio, date, sizeof(date) - 1);
                date[n > 0 ? n : 0] = 0;
        }
        if (days < 0 || (days == 0 && secs < 0)) {
                tb_warn("%s: certificate %s EXPIRED on %s (%d day%s ago); firmware still accepts it, but rotate "
                        "the key (trustboot genkey --rotate, docs/guide-keys.md)", name, subject, date, -days,
                        days == -1 ? "" : "s");
                return 2;
        }
        if ((unsigned)days < expiry_warn_days) {
                tb_warn("%s: certificate %s expires on %s (in %d day%s)", name, subject, date, days,
                        days == 1 ? "" : "s");
                return 1;
        }
        return 0;
}

int tb_signer_load(const char *key_path, const char *cert_path, tb_signer *ret) {
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        int r;

        _cleanup_(freep) char *shown = tb_key_display_name(key_path);

        if (!shown)
                return tb_log_oom();
        r = tb_private_key_load(key_path, &key);
        if (r < 0)
                return r;
        r = tb_cert_load(cert_path, &cert);
        if (r < 0) {
                EVP_PKEY_free(key);
                return tb_log_errno(r, "%s: cannot load certificate", cert_path);
        }
        if (X509_check_private_key(cert, key) != 1) {
                tb_ossl_drain_errors(shown);
                EVP_PKEY_free(key);
                X509_free(cert);
                tb_err("%s: private key does not match the certificate %s", shown, cert_path);
                return -EKEYREJECTED;
        }
        tb_cert_warn_expiry(cert, cert_path);
        ret->key = key;
        ret->cert = cert;
        return 0;
}

void tb_signer_done(tb_signer *s) {
        EVP_PKEY_free(s->key);
        X509_free(s->cert);
        s->key = NULL;
        s->cert = NULL;
}

static int bio_to_buf(BIO *bio, tb_buf *out) {
        char *p;
        long n = BIO_get_mem_data(bio, &p);

        if (n <= 0)
                return -EIO;
        return tb_buf_append(out, p, (size_t)n);
}

int tb_key_to_pem(EVP_PKEY *key, tb_buf *out) {
        BIO *bio = BIO_new(BIO_s_secmem());
        char *p;
        long n;
        int r;

        if (!bio)
                return tb_log_oom();
        if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
                BIO_free(bio);
                return -EIO;
        }
        n = BIO_get_mem_data(bio, &p);
        r = n > 0 ? tb_buf_append(out, p, (size_t)n) : -EIO;
        BIO_free(bio); /* secure memory BIOs wipe their storage on free */
        return r;
}

int tb_pubkey_to_pem(EVP_PKEY *key, tb_buf *out) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());

        if (!bio)
                return tb_log_oom();
        if (PEM_write_bio_PUBKEY(bio, key) != 1)
                return -EIO;
        return bio_to_buf(bio, out);
}

int tb_cert_to_pem(X509 *cert, tb_buf *out) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());

        if (!bio)
                return tb_log_oom();
        if (PEM_write_bio_X509(bio, cert) != 1)
                return -EIO;
        return bio_to_buf(bio, out);
}

int tb_cert_to_der(X509 *cert, tb_buf *out) {
        _cleanup_(OPENSSL_freep) unsigned char *der = NULL;
        int n = i2d_X509(cert, &der);

        if (n <= 0)
                return -EIO;
        return tb_buf_append(out, der, (size_t)n);
}
