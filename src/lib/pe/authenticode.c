#include "pe/authenticode.h"

#include <errno.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"

#define SPC_INDIRECT_DATA_OID "1.3.6.1.4.1.311.2.1.4"
#define WIN_CERT_REVISION_2 0x0200u
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002u
#define CERT_TABLE_MAX (16u << 20)

TB_DEFINE_CLEANUP(ASN1_TYPE *, ASN1_TYPE_free)
TB_DEFINE_CLEANUP(ASN1_OBJECT *, ASN1_OBJECT_free)
TB_DEFINE_CLEANUP(X509_SIG *, X509_SIG_free)

/* A hashed byte range of the image. */
typedef struct region {
        uint64_t off, len;
} region;

typedef struct regions {
        region r[TB_PE_MAX_SECTIONS + 4];
        size_t n;
        uint64_t data_size; /* 8-aligned end of the hashed image: where the certificate table goes */
} regions;

static int cmp_region(const void *a, const void *b) {
        const region *x = a, *y = b;

        return x->off < y->off ? -1 : x->off > y->off ? 1 : 0;
}

/* formats.md §6.2, including sbsign's and EDK2's quirk that trailing data starts at the *count*
 * of bytes hashed so far, which is the end of the last section only when there are no gaps. */
static void find_regions(const tb_pe *pe, uint64_t size, regions *rs) {
        const tb_pe_info *in = tb_pe_get_info(pe);
        uint64_t bytes = in->size_of_headers;
        region *last;

        rs->n = 0;
        rs->r[rs->n++] = (region){ 0, in->checksum_offset };
        rs->r[rs->n++] = (region){ in->checksum_offset + 4, in->certdir_offset - (in->checksum_offset + 4) };
        rs->r[rs->n++] = (region){ in->certdir_offset + 8, in->size_of_headers - (in->certdir_offset + 8) };
        for (size_t i = 0; i < tb_pe_n_sections(pe); i++) {
                const tb_pe_section *s = tb_pe_section_at(pe, i);

                if (s->raw_size == 0)
                        continue;
                rs->r[rs->n++] = (region){ s->raw_offset, s->raw_size };
                bytes += s->raw_size;
        }
        qsort(rs->r, rs->n, sizeof(region), cmp_region);
        if (bytes < size)
                rs->r[rs->n++] = (region){ bytes, size - bytes };
        last = &rs->r[rs->n - 1];
        rs->data_size = ALIGN_TO(last->off + last->len, (uint64_t)8);
}

static int md_update_chunk(const uint8_t *data, size_t len, void *userdata) {
        return EVP_DigestUpdate(userdata, data, len) == 1 ? 0 : -EIO;
}

static int digest_regions(const tb_pe *pe, const regions *rs, const EVP_MD *md, uint8_t *out, unsigned *ret_len) {
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        int r;

        if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1)
                return tb_log_oom();
        for (size_t i = 0; i < rs->n; i++) {
                r = tb_pe_write_range(pe, rs->r[i].off, rs->r[i].len, md_update_chunk, ctx);
                if (r < 0)
                        return r;
        }
        return EVP_DigestFinal_ex(ctx, out, ret_len) == 1 ? 0 : -EIO;
}

static uint64_t hashed_size(const tb_pe *pe) {
        uint64_t size = tb_pe_output_size(pe);

        /* A signed image ends where its certificate table starts; an unsigned one is padded
         * to 8 bytes when it gets signed, and the padding is hashed. */
        return tb_pe_get_info(pe)->cert_size ? size : ALIGN_TO(size, (uint64_t)8);
}

int tb_authenticode_digest(const tb_pe *pe, const EVP_MD *md, uint8_t out[EVP_MAX_MD_SIZE], unsigned *ret_len) {
        regions rs;

        find_regions(pe, hashed_size(pe), &rs);
        return digest_regions(pe, &rs, md, out, ret_len);
}

/* The fixed part of sbsign's SpcIndirectDataContent: an SpcPeImageData with the
 * "<<<Obsolete>>>" file link, then a SHA-256 DigestInfo waiting for its 32 bytes. */
static const uint8_t idc_template[TB_AUTHENTICODE_IDC_SIZE - 32] = {
        0x30, 0x68, 0x30, 0x33, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x0f, 0x30, 0x25,
        0x03, 0x01, 0x00, 0xa0, 0x20, 0xa2, 0x1e, 0x80, 0x1c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0x3c, 0x00, 0x4f, 0x00,
        0x62, 0x00, 0x73, 0x00, 0x6f, 0x00, 0x6c, 0x00, 0x65, 0x00, 0x74, 0x00, 0x65, 0x00, 0x3e, 0x00, 0x3e, 0x00,
        0x3e, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
        0x04, 0x20,
};

void tb_authenticode_idc(const uint8_t digest[32], uint8_t out[TB_AUTHENTICODE_IDC_SIZE]) {
        memcpy(out, idc_template, sizeof(idc_template));
        memcpy(out + sizeof(idc_template), digest, 32);
}

static int set_content(PKCS7 *p7, const uint8_t *idc, size_t len) {
        _cleanup_(PKCS7_freep) PKCS7 *inner = PKCS7_new();
        _cleanup_(ASN1_TYPE_freep) ASN1_TYPE *value = ASN1_TYPE_new();
        ASN1_STRING *seq = ASN1_STRING_new();

        if (!inner || !value || !seq || ASN1_STRING_set(seq, idc, (int)len) != 1) {
                ASN1_STRING_free(seq);
                return tb_log_oom();
        }
        /* A V_ASN1_SEQUENCE ASN1_TYPE carries its complete DER encoding. */
        ASN1_TYPE_set(value, V_ASN1_SEQUENCE, seq);
        inner->type = OBJ_txt2obj(SPC_INDIRECT_DATA_OID, 1);
        if (!inner->type)
                return tb_log_oom();
        inner->d.other = TAKE_PTR(value);
        if (PKCS7_set_content(p7, inner) != 1)
                return -EIO;
        TAKE_PTR(inner);
        return 0;
}

int tb_authenticode_pkcs7(const uint8_t digest[32], const tb_signer *signer, tb_buf *out) {
        _cleanup_(PKCS7_freep) PKCS7 *p7 = NULL;
        _cleanup_(OPENSSL_freep) unsigned char *der = NULL;
        uint8_t idc[TB_AUTHENTICODE_IDC_SIZE], md[32];
        ASN1_OCTET_STRING *md_attr = NULL;
        ASN1_OBJECT *type_attr = NULL;
        PKCS7_SIGNER_INFO *si;
        int n, r;

        tb_authenticode_idc(digest, idc);
        /* messageDigest covers the content octets: the IDC without its SEQUENCE tag+length. */
        if (EVP_Digest(idc + 2, sizeof(idc) - 2, md, NULL, EVP_sha256(), NULL) != 1)
                return -EIO;

        p7 = PKCS7_new();
        if (!p7 || PKCS7_set_type(p7, NID_pkcs7_signed) != 1)
                goto fail;
        si = PKCS7_add_signature(p7, signer->cert, signer->key, EVP_sha256());
        if (!si || PKCS7_add_certificate(p7, signer->cert) != 1)
                goto fail;
        type_attr = OBJ_txt2obj(SPC_INDIRECT_DATA_OID, 1);
        if (!type_attr || PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, type_attr) != 1) {
                ASN1_OBJECT_free(type_attr);
                goto fail;
        }
        md_attr = ASN1_OCTET_STRING_new();
        if (!md_attr || ASN1_OCTET_STRING_set(md_attr, md, sizeof(md)) != 1 ||
            PKCS7_add_signed_attribute(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, md_attr) != 1) {
                ASN1_OCTET_STRING_free(md_attr);
                goto fail;
        }
        r = set_content(p7, idc, sizeof(idc));
        if (r < 0) {
                tb_ossl_drain_errors("authenticode");
                return r;
        }
        /* Not PKCS7_dataFinal(): it would add a signingTime attribute. */
        if (PKCS7_SIGNER_INFO_sign(si) != 1)
                goto fail;
        n = i2d_PKCS7(p7, &der);
        if (n <= 0)
                goto fail;
        return tb_buf_append(out, der, (size_t)n);
fail:
        tb_ossl_drain_errors("authenticode");
        tb_err("cannot build the PKCS#7 signature");
        return -EIO;
}

/* Writes the signed image's body and hashes it in the same pass, feeding the hash the bytes of
 * each region as they go by. That needs the regions in file order without overlaps, which holds
 * unless the section table has gaps (then the trailing-data region starts inside the sections,
 * and the hash is taken afterwards from the written file). */
typedef struct sign_writer {
        int fd;
        uint64_t base; /* where the image starts in fd */
        int write_error;
        tb_pe_csum csum;
        EVP_MD_CTX *md; /* NULL: hash afterwards */
        const regions *rs;
        size_t next; /* first region not yet hashed completely */
        uint64_t pos;
        uint64_t keep_off, keep_end; /* image bytes already in place at base: hashed, not written */
} sign_writer;

static bool regions_in_order(const regions *rs) {
        for (size_t i = 1; i < rs->n; i++)
                if (rs->r[i - 1].off + rs->r[i - 1].len > rs->r[i].off)
                        return false;
        return true;
}

static int hash_passing_bytes(sign_writer *w, const uint8_t *data, size_t len) {
        uint64_t start = w->pos, end = w->pos + len;

        for (; w->next < w->rs->n; w->next++) {
                const region *g = &w->rs->r[w->next];
                uint64_t a = MAX(g->off, start), b = MIN(g->off + g->len, end);

                if (a < b && EVP_DigestUpdate(w->md, data + (a - start), b - a) != 1)
                        return -EIO;
                if (g->off + g->len > end)
                        break; /* continues in the next chunk */
        }
        return 0;
}

static int write_hash_sum(const uint8_t *data, size_t len, void *userdata) {
        sign_writer *w = userdata;
        int r;

        if (w->md) {
                r = hash_passing_bytes(w, data, len);
                if (r < 0)
                        return r;
        }
        tb_pe_csum_update(&w->csum, data, len);
        if (w->keep_end > w->keep_off && w->pos < w->keep_end && w->pos + len > w->keep_off) {
                /* Only what lies outside the kept range. */
                uint64_t a = MAX(w->pos, w->keep_off), b = MIN(w->pos + len, w->keep_end);

                r = a > w->pos ? tb_pwrite_all(w->fd, data, a - w->pos, (off_t)(w->base + w->pos)) : 0;
                if (r >= 0 && b < w->pos + len)
                        r = tb_pwrite_all(w->fd, data + (b - w->pos), w->pos + len - b, (off_t)(w->base + b));
        } else
                r = tb_pwrite_all(w->fd, data, len, (off_t)(w->base + w->pos));
        w->pos += len;
        if (r < 0)
                w->write_error = r;
        return r;
}

static int hash_written_regions(int fd, uint64_t base, const regions *rs, EVP_MD_CTX *md) {
        _cleanup_(freep) uint8_t *buf = malloc(1u << 20);

        if (!buf)
                return tb_log_oom();
        for (size_t i = 0; i < rs->n; i++)
                for (uint64_t off = rs->r[i].off, left = rs->r[i].len; left > 0;) {
                        size_t n = (size_t)MIN(left, (uint64_t)(1u << 20));
                        int r = tb_pread_full(fd, buf, n, (off_t)(base + off));

                        if (r < 0)
                                return r;
                        if (EVP_DigestUpdate(md, buf, n) != 1)
                                return -EIO;
                        off += n;
                        left -= n;
                }
        return 0;
}

static int build_cert_table(const uint8_t digest[32], const tb_signer *signer, tb_buf *table) {
        int r;

        r = tb_buf_append_zero(table, 8);
        if (r < 0)
                return r;
        r = tb_authenticode_pkcs7(digest, signer, table);
        if (r < 0)
                return r;
        tb_put_u32le(table->data, (uint32_t)table->len);
        tb_put_u16le(table->data + 4, WIN_CERT_REVISION_2);
        tb_put_u16le(table->data + 6, WIN_CERT_TYPE_PKCS_SIGNED_DATA);
        return tb_buf_append_zero(table, ALIGN_TO(table->len, (size_t)8) - table->len);
}

int tb_authenticode_signed_size(const tb_pe *pe, const tb_signer *signer, uint64_t *ret) {
        _cleanup_(tb_buf_freep) tb_buf table = TB_BUF_INIT;
        static const uint8_t zero[32];
        int r;

        /* A trial signature over a dummy digest: with RSA (PKCS#1 v1.5, fixed attributes) the
         * DER size does not depend on the digest. tb_authenticode_sign_at() checks it. */
        r = build_cert_table(zero, signer, &table);
        if (r < 0)
                return r;
        *ret = ALIGN_TO(tb_pe_output_size(pe), (uint64_t)8) + table.len;
        return 0;
}

int tb_authenticode_sign(tb_pe *pe, const tb_signer *signer, int fd, const char *out_name) {
        off_t pos = lseek(fd, 0, SEEK_CUR);
        int r;

        if (pos < 0)
                return tb_log_errno(negative_errno(), "%s: cannot write the signed image", out_name);
        r = tb_authenticode_sign_at(pe, signer, fd, (uint64_t)pos, out_name, NULL);
        if (r < 0)
                return r;
        /* Like a sequential write: the file offset ends after the image. */
        if (lseek(fd, 0, SEEK_END) < 0)
                return negative_errno();
        return 0;
}

int tb_authenticode_sign_at(tb_pe *pe, const tb_signer *signer, int fd, uint64_t base, const char *out_name,
                            uint64_t *ret_size) {
        return tb_authenticode_sign_around(pe, signer, fd, base, 0, 0, out_name, ret_size);
}

int tb_authenticode_sign_around(tb_pe *pe, const tb_signer *signer, int fd, uint64_t base, uint64_t keep_off,
                                uint64_t keep_len, const char *out_name, uint64_t *ret_size) {
        _cleanup_(tb_buf_freep) tb_buf table = TB_BUF_INIT;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        const tb_pe_info *in = tb_pe_get_info(pe);
        sign_writer w = { .fd = fd, .base = base, .keep_off = keep_off, .keep_end = keep_off + keep_len };
        uint8_t digest[EVP_MAX_MD_SIZE], dir[8], field[4];
        uint64_t total;
        regions rs;
        int r;

        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
                return tb_log_oom();
        find_regions(pe, ALIGN_TO(tb_pe_output_size(pe), (uint64_t)8), &rs);
        w.rs = &rs;
        w.md = regions_in_order(&rs) ? md : NULL;

        /* Both fields are outside the hash; they are filled in once the signature exists. */
        tb_pe_set_security_dir(pe, 0, 0);
        tb_pe_set_checksum(pe, 0);
        tb_pe_csum_init(&w.csum);
        r = tb_pe_write_range(pe, 0, rs.data_size, write_hash_sum, &w);
        if (r < 0) {
                if (w.write_error < 0)
                        return tb_log_errno(r, "%s: cannot write the signed image", out_name);
                return r; /* read errors are logged where the file name is known */
        }
        if (!w.md) {
                r = hash_written_regions(fd, base, &rs, md);
                if (r < 0)
                        return tb_log_errno(r, "%s: cannot read back the written image", out_name);
        }
        if (EVP_DigestFinal_ex(md, digest, NULL) != 1)
                return -EIO;

        r = build_cert_table(digest, signer, &table);
        if (r < 0)
                return r;
        total = rs.data_size + table.len;
        if (total > UINT32_MAX) {
                tb_log(tb_pe_log_level(pe), "%s: image too large to sign (%llu bytes)", tb_pe_name(pe),
                       (unsigned long long)total);
                return -EFBIG;
        }
        tb_put_u32le(dir, (uint32_t)rs.data_size);
        tb_put_u32le(dir + 4, (uint32_t)table.len);
        w.md = NULL; /* the table is not hashed */
        r = write_hash_sum(table.data, table.len, &w);
        if (r >= 0) {
                /* The checksum was summed with a zero directory entry; add the real one. */
                tb_pe_csum_add_at(&w.csum, in->certdir_offset, dir, sizeof(dir));
                tb_put_u32le(field, tb_pe_csum_final(&w.csum, total));
                r = tb_pwrite_all(fd, dir, sizeof(dir), (off_t)(base + in->certdir_offset));
        }
        if (r >= 0)
                r = tb_pwrite_all(fd, field, sizeof(field), (off_t)(base + in->checksum_offset));
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write the signed image", out_name);
        tb_pe_set_security_dir(pe, (uint32_t)rs.data_size, (uint32_t)table.len);
        tb_pe_set_checksum(pe, tb_get_u32le(field));
        if (ret_size)
                *ret_size = total;
        return 0;
}

/* ---- Reading and verifying ---- */

void tb_authenticode_sigs_done(tb_authenticode_sigs *s) {
        for (size_t i = 0; i < s->n; i++) {
                PKCS7_free(s->sig[i].p7);
                free(s->sig[i].content);
        }
        free(s->sig);
        *s = (tb_authenticode_sigs)TB_AUTHENTICODE_SIGS_INIT;
}

/* Finds the SpcIndirectDataContent of P7 and the image digest inside it. */
static int parse_idc(const tb_pe *pe, tb_authenticode_sig *sig) {
        _cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *spc = OBJ_txt2obj(SPC_INDIRECT_DATA_OID, 1);
        _cleanup_(X509_SIG_freep) X509_SIG *di = NULL;
        const ASN1_OCTET_STRING *dig;
        const X509_ALGOR *alg;
        const ASN1_OBJECT *alg_obj;
        const unsigned char *p, *start, *end;
        PKCS7 *inner;
        long len;
        int tag, cls;

        if (!PKCS7_type_is_signed(sig->p7) || !sig->p7->d.sign || !(inner = sig->p7->d.sign->contents) ||
            !inner->type || !spc || OBJ_cmp(inner->type, spc) != 0 || !inner->d.other ||
            inner->d.other->type != V_ASN1_SEQUENCE)
                return -EBADMSG;
        start = inner->d.other->value.sequence->data;
        end = start + inner->d.other->value.sequence->length;
        p = start;
        if (ASN1_get_object(&p, &len, &tag, &cls, end - start) & 0x80 || tag != V_ASN1_SEQUENCE || p + len != end)
                return -EBADMSG;
        sig->content_len = (size_t)len;
        sig->content = malloc(sig->content_len ? sig->content_len : 1);
        if (!sig->content)
                return tb_log_oom();
        memcpy(sig->content, p, sig->content_len);
        /* Skip SpcAttributeTypeAndOptionalValue, then the DigestInfo. */
        if (ASN1_get_object(&p, &len, &tag, &cls, end - p) & 0x80 || tag != V_ASN1_SEQUENCE)
                return -EBADMSG;
        p += len;
        if (p >= end)
                return -EBADMSG;
        di = d2i_X509_SIG(NULL, &p, end - p);
        if (!di)
                return -EBADMSG;
        X509_SIG_get0(di, &alg, &dig);
        X509_ALGOR_get0(&alg_obj, NULL, NULL, alg);
        sig->md = EVP_get_digestbyobj(alg_obj);
        if (!sig->md || EVP_MD_get_size(sig->md) != ASN1_STRING_length(dig))
                return -EBADMSG;
        sig->digest_len = (unsigned)ASN1_STRING_length(dig);
        memcpy(sig->digest, ASN1_STRING_get0_data(dig), sig->digest_len);
        if (!tb_authenticode_digest_allowed(sig->md)) {
                /* EDK2 hashes images with SHA-256/384/512 only (SHA-1 is compiled out of current
                 * builds); an MD5 or SHA-1 image hash must never count as a match here either. */
                sig->weak_digest = true;
                return 0;
        }
        return tb_authenticode_digest(pe, sig->md, sig->image_digest, &(unsigned){ 0 });
}

bool tb_authenticode_digest_allowed(const EVP_MD *md) {
        int nid = md ? EVP_MD_get_type(md) : NID_undef;

        return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

static int parse_one(const tb_pe *pe, const uint8_t *der, size_t len, tb_authenticode_sig *sig) {
        const unsigned char *p = der;
        STACK_OF(X509) *signers;
        int r;

        sig->p7 = d2i_PKCS7(NULL, &p, (long)len);
        if (!sig->p7)
                return -EBADMSG;
        r = parse_idc(pe, sig);
        if (r < 0)
                return r;
        if (sig->weak_digest)
                tb_log(tb_pe_log_level(pe) == TB_LOG_ERR ? TB_LOG_WARN : TB_LOG_DEBUG,
                       "%s: ignoring a signature over a %s image hash: only SHA-256, SHA-384 and SHA-512 count",
                       tb_pe_name(pe), EVP_MD_get0_name(sig->md));
        sig->digest_matches = !sig->weak_digest && memcmp(sig->digest, sig->image_digest, sig->digest_len) == 0;
        signers = PKCS7_get0_signers(sig->p7, NULL, 0);
        if (signers && sk_X509_num(signers) > 0)
                sig->signer = sk_X509_value(signers, 0); /* owned by p7's certificate list */
        sk_X509_free(signers);
        ERR_clear_error(); /* a signer certificate that is not embedded is not an error here */
        return 0;
}

static tb_authenticode_sigs take_sigs(tb_authenticode_sigs *s) {
        tb_authenticode_sigs t = *s;

        *s = (tb_authenticode_sigs)TB_AUTHENTICODE_SIGS_INIT;
        return t;
}

int tb_authenticode_read(const tb_pe *pe, tb_authenticode_sigs *ret) {
        const tb_pe_info *in = tb_pe_get_info(pe);
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        _cleanup_(freep) uint8_t *table = NULL;
        size_t off = 0;
        int r;

        if (in->cert_size == 0) {
                *ret = take_sigs(&sigs);
                return 0;
        }
        if (in->cert_size > CERT_TABLE_MAX) {
                tb_log(tb_pe_log_level(pe), "%s: certificate table too large (%u bytes)", tb_pe_name(pe),
                       in->cert_size);
                return -EBADMSG;
        }
        table = malloc(in->cert_size);
        if (!table)
                return tb_log_oom();
        r = tb_pe_pread(pe, table, in->cert_size, in->cert_offset);
        if (r < 0)
                return r; /* -EBADMSG cannot happen: the parser checked the range */
        while (off + 8 <= in->cert_size) {
                uint32_t len = tb_get_u32le(table + off);
                uint16_t rev = tb_get_u16le(table + off + 4), type = tb_get_u16le(table + off + 6);
                tb_authenticode_sig *grown;

                if (len == 0 && off > 0)
                        break; /* zero padding at the end of the table */
                if (len < 8 || len > in->cert_size - off) {
                        tb_log(tb_pe_log_level(pe), "%s: certificate table entry at 0x%zx has a bad length %u",
                               tb_pe_name(pe), in->cert_offset + off, len);
                        return -EBADMSG;
                }
                if (rev != WIN_CERT_REVISION_2 || type != WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
                        tb_log(tb_pe_log_level(pe) == TB_LOG_ERR ? TB_LOG_WARN : TB_LOG_DEBUG,
                               "%s: skipping certificate table entry of revision 0x%x, type 0x%x", tb_pe_name(pe),
                               rev, type);
                        off += ALIGN_TO((size_t)len, (size_t)8);
                        continue;
                }
                grown = realloc(sigs.sig, (sigs.n + 1) * sizeof(*grown));
                if (!grown)
                        return tb_log_oom();
                sigs.sig = grown;
                memset(&sigs.sig[sigs.n], 0, sizeof(*grown));
                sigs.n++;
                r = parse_one(pe, table + off + 8, len - 8, &sigs.sig[sigs.n - 1]);
                if (r == -EBADMSG) {
                        tb_ossl_drain_errors(tb_pe_name(pe));
                        tb_log(tb_pe_log_level(pe), "%s: signature %zu is not an Authenticode PKCS#7 SignedData",
                               tb_pe_name(pe), sigs.n);
                }
                if (r < 0)
                        return r;
                off += ALIGN_TO((size_t)len, (size_t)8);
        }
        *ret = take_sigs(&sigs);
        return 0;
}

int tb_authenticode_check(const tb_authenticode_sig *sig, X509 *trusted) {
        _cleanup_(X509_STORE_freep) X509_STORE *store = X509_STORE_new();
        _cleanup_(BIO_free_allp) BIO *content = NULL;
        STACK_OF(X509) *extra = NULL;
        int ok;

        if (!store || X509_STORE_add_cert(store, trusted) != 1)
                return tb_log_oom();
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
        X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
        X509_STORE_set_verify_cb(store, tb_ossl_firmware_verify_cb);
        content = BIO_new_mem_buf(sig->content, (int)sig->content_len);
        if (!content)
                return tb_log_oom();
        /* Like firmware, trust the embedded signer certificate only through the chain check, so
         * that a damaged embedded certificate fails; offer TRUSTED only when none is embedded. */
        if (!sig->signer) {
                extra = sk_X509_new_null();
                if (!extra || !sk_X509_push(extra, trusted)) {
                        sk_X509_free(extra);
                        return tb_log_oom();
                }
        }
        ok = PKCS7_verify(sig->p7, extra, store, content, NULL, PKCS7_BINARY);
        sk_X509_free(extra);
        if (ok != 1) {
                tb_ossl_drain_errors("authenticode verify");
                return 0;
        }
        return 1;
}

void tb_authenticode_verdict_done(tb_authenticode_verdict *v) {
        free(v->signer);
        *v = TB_AUTHENTICODE_VERDICT_INIT;
}

int tb_authenticode_verify_report(const tb_pe *pe, X509 *trusted, tb_authenticode_verdict *v) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        int r;

        tb_authenticode_verdict_done(v);
        r = tb_authenticode_read(pe, &sigs);
        if (r < 0)
                return r;
        v->n_sigs = sigs.n;
        for (size_t i = 0; i < sigs.n; i++) {
                free(v->signer);
                v->signer = tb_authenticode_signer_name(&sigs.sig[i]);
                v->index = i + 1;
                if (!sigs.sig[i].digest_matches) {
                        v->why = "the image changed after signing";
                        continue;
                }
                r = tb_authenticode_check(&sigs.sig[i], trusted);
                if (r < 0)
                        return r;
                if (r > 0) {
                        v->why = NULL;
                        return 1;
                }
                v->why = "invalid, or not by this certificate";
        }
        return 0;
}

int tb_authenticode_verify(const tb_pe *pe, X509 *trusted) {
        _cleanup_(tb_authenticode_verdict_done) tb_authenticode_verdict v = TB_AUTHENTICODE_VERDICT_INIT;

        return tb_authenticode_verify_report(pe, trusted, &v);
}

static char *name_string(const X509_NAME *name) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        char *p, *str;
        long n;

        if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return NULL;
        n = BIO_get_mem_data(bio, &p);
        str = malloc((size_t)n + 1);
        if (!str)
                return NULL;
        memcpy(str, p, (size_t)n);
        str[n] = '\0';
        return str;
}

char *tb_authenticode_signer_name(const tb_authenticode_sig *sig) {
        STACK_OF(PKCS7_SIGNER_INFO) *infos;
        PKCS7_ISSUER_AND_SERIAL *ias;

        if (sig->signer)
                return name_string(X509_get_subject_name(sig->signer));
        infos = PKCS7_get_signer_info(sig->p7);
        if (!infos || sk_PKCS7_SIGNER_INFO_num(infos) < 1)
                return NULL;
        ias = sk_PKCS7_SIGNER_INFO_value(infos, 0)->issuer_and_serial;
        return ias ? name_string(ias->issuer) : NULL;
}
