/* encrypt.c — the encrypt command's checks, secrets and recovery key file (see encrypt.h). */
#include "tpm/encrypt.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "tpm/pcrkey-rotate.h"
#include "tpm/tpm2.h"
#include "util/fileio.h"
#include "util/log.h"

#define PUBKEY_MAX ((size_t)64 * 1024)

static int read_pubkey(const char *path, tb_buf *ret) {
        int r;

        r = tb_read_file(path, PUBKEY_MAX, ret);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        return tb_tpm2_pubkey_check(ret->data, ret->len, path);
}

/* The recovery key's file, created now (before the volume is formatted: its key exists once). */
static int recovery_file_open(const char *path, tb_atomic_file *ret) {
        int r;

        if (tb_path_exists(path)) {
                tb_err("%s: exists; the recovery key file is never overwritten", path);
                return -EEXIST;
        }
        r = tb_atomic_open(path, 0600, ret);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", path);
        return 0;
}

/* No newline in the file: it is usable as is with cryptsetup --key-file. */
static int recovery_file_commit(const char *path, tb_atomic_file *f, const char *key) {
        int r;

        r = tb_write_all(f->fd, key, strlen(key));
        if (r >= 0)
                r = tb_atomic_commit_noreplace(f);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write the recovery key (the volume still unlocks with the TPM)",
                                    path);
        return 0;
}

static int format_sealed(const tb_encrypt_options *o, const tb_buf *pem, const char *pin, const char *recovery) {
        _cleanup_(tb_tpm2_freep) tb_tpm2 *tpm = NULL;
        tb_tpm2_seal_params sp = {
                .pcr_mask = o->pcr_mask,
                .pubkey_pcr_mask = o->pcr_public_key ? o->pubkey_pcr_mask : 0,
                .pubkey_pem = o->pcr_public_key ? pem->data : NULL,
                .pubkey_pem_len = pem->len,
                .pin = pin,
        };
        tb_luks_enroll e = {
                .label = o->label,
                .uuid = o->uuid,
                .recovery_key = recovery,
                .mkfs = o->mkfs,
        };
        int r;

        r = tb_tpm2_open(o->tpm2_device, &tpm);
        if (r < 0)
                return r;
        return tb_luks_format_sealed(tpm, &sp, o->device, &e);
}

int tb_encrypt(const tb_encrypt_options *o, FILE *out) {
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        _cleanup_(tb_secret_freep) char *pin = NULL;
        _cleanup_(tb_atomic_abortp) tb_atomic_file rec = TB_ATOMIC_FILE_INIT;
        bool to_file = o->recovery_key && strcmp(o->recovery_key, "-") != 0;
        char recovery[TB_LUKS_RECOVERY_KEY_SIZE];
        int r;

        /* Before the TPM is touched: an image must exist (we do not pick its size). */
        if (!tb_path_exists(o->device)) {
                tb_err("%s: does not exist", o->device);
                return -ENOENT;
        }
        if (o->pcr_public_key && (r = read_pubkey(o->pcr_public_key, &pem)) < 0)
                return r;
        if (o->get_pin && (r = o->get_pin(&pin, o->userdata)) < 0)
                return r;
        if (to_file && (r = recovery_file_open(o->recovery_key, &rec)) < 0)
                return r;
        if (o->recovery_key && tb_luks_recovery_key_generate(recovery) < 0) {
                tb_err("cannot generate a recovery key");
                return -EIO;
        }

        r = format_sealed(o, &pem, pin, o->recovery_key ? recovery : NULL);
        if (r >= 0 && to_file)
                r = recovery_file_commit(o->recovery_key, &rec, recovery);
        else if (r >= 0 && o->recovery_key)
                fprintf(out, "%s\n", recovery);
        if (o->recovery_key)
                OPENSSL_cleanse(recovery, sizeof(recovery));
        return r < 0 ? r : 0;
}

int tb_encrypt_rotate(const tb_encrypt_options *o) {
        _cleanup_(tb_buf_freep) tb_buf pem = TB_BUF_INIT;
        const char *path = o->add_pcr_key ? o->add_pcr_key : o->remove_pcr_key;
        tb_pcrkey_rotate p = { .device = o->device, .pem_name = path, .pubkey_pcr_mask = o->pubkey_pcr_mask,
                               .tpm2_device = o->tpm2_device, .signature = o->signature };
        int r;

        r = tb_read_file(path, PUBKEY_MAX, &pem);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read", path);
        p.pem = pem.data;
        p.pem_len = pem.len;
        r = o->add_pcr_key ? tb_pcrkey_add(&p) : tb_pcrkey_remove(&p);
        if (r < 0)
                return r;
        if (!o->device)
                tb_info("%d volume(s) changed", r);
        return 0;
}
