#include "pe/signer.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

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

        r = tb_read_file(path, KEY_FILE_MAX, &pem);
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

int tb_signer_load(const char *key_path, const char *cert_path, tb_signer *ret) {
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        int r;

        r = tb_key_load(key_path, &key);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot load private key", key_path);
        r = tb_cert_load(cert_path, &cert);
        if (r < 0) {
                EVP_PKEY_free(key);
                return tb_log_errno(r, "%s: cannot load certificate", cert_path);
        }
        if (X509_check_private_key(cert, key) != 1) {
                tb_ossl_drain_errors(key_path);
                EVP_PKEY_free(key);
                X509_free(cert);
                tb_err("%s: private key does not match the certificate %s", key_path, cert_path);
                return -EKEYREJECTED;
        }
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
