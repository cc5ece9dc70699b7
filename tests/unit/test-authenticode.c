/* tests/unit/test-authenticode.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/rsa.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pe/authenticode.h"
#include "util/fileio.h"
#include "util/ossl.h"
#include "pe-image.h"

typedef struct keys {
        tb_signer ca, leaf, other;
} keys;

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool is_ca) {
        X509 *c = X509_new();
        X509_NAME *name = X509_NAME_new();
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        assert_non_null(c);
        X509_set_version(c, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(c), (long)(strlen(cn) * 1000 + 7));
        X509_gmtime_adj(X509_getm_notBefore(c), 0);
        X509_gmtime_adj(X509_getm_notAfter(c), 3600);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
        X509_set_subject_name(c, name);
        X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
        X509_set_pubkey(c, key);
        X509V3_set_ctx(&ctx, issuer ? issuer : c, c, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
        assert_true(X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
        X509_NAME_free(name);
        return c;
}

static int setup_keys(void **state) {
        keys *k = calloc(1, sizeof(*k));

        k->ca.key = EVP_RSA_gen(2048);
        k->leaf.key = EVP_RSA_gen(2048);
        k->other.key = EVP_RSA_gen(2048);
        k->ca.cert = make_cert("test CA", k->ca.key, NULL, NULL, true);
        k->leaf.cert = make_cert("test signer", k->leaf.key, k->ca.cert, k->ca.key, false);
        k->other.cert = make_cert("someone else", k->other.key, NULL, NULL, true);
        *state = k;
        return 0;
}

static int teardown_keys(void **state) {
        keys *k = *state;

        tb_signer_done(&k->ca);
        tb_signer_done(&k->leaf);
        tb_signer_done(&k->other);
        free(k);
        return 0;
}

/* Signs the image IMG with S and returns the signed file's bytes in OUT. */
static void sign_image(const tb_buf *img, const tb_signer *s, tb_buf *out) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        struct stat st;
        int fd = memfd_create("signed", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(tb_pe_from_memory(img->data, img->len, &pe), 0);
        assert_int_equal(tb_authenticode_sign(pe, s, fd, "memfd"), 0);
        assert_int_equal(fstat(fd, &st), 0);
        out->len = 0;
        assert_int_equal(tb_buf_append_zero(out, (size_t)st.st_size), 0);
        assert_int_equal(tb_pread_full(fd, out->data, out->len, 0), 0);
        close(fd);
}

static void digest_of(const tb_buf *img, uint8_t d[32]) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned len;

        assert_int_equal(tb_pe_from_memory(img->data, img->len, &pe), 0);
        assert_int_equal(tb_authenticode_digest(pe, EVP_sha256(), md, &len), 0);
        assert_int_equal(len, 32);
        memcpy(d, md, 32);
}

/* §6.2 steps 1-3 for the crafted images: the 0x200-byte headers without CheckSum and the
 * certificate directory entry. */
static void hash_headers_by_hand(EVP_MD_CTX *ctx, const tb_buf *img) {
        EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        EVP_DigestUpdate(ctx, img->data, IMG_CHECKSUM_OFF);
        EVP_DigestUpdate(ctx, img->data + IMG_CHECKSUM_OFF + 4, IMG_CERTDIR_OFF - IMG_CHECKSUM_OFF - 4);
        EVP_DigestUpdate(ctx, img->data + IMG_CERTDIR_OFF + 8, 0x200 - IMG_CERTDIR_OFF - 8);
}

static void digest_is_formats_6_2_by_hand(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t want[32], got[32], pad[8] = { 0 };
        (void)state;

        img_make_basic(&img);
        tb_buf_append(&img, "tail", 4); /* trailing data, not 8-aligned */
        hash_headers_by_hand(ctx, &img);
        EVP_DigestUpdate(ctx, img.data + 0x200, 0x400); /* .text */
        EVP_DigestUpdate(ctx, img.data + 0x600, 0x200); /* .data */
        EVP_DigestUpdate(ctx, "tail", 4);                /* trailing data ... */
        EVP_DigestUpdate(ctx, pad, 4);                   /* ... zero-padded to 8 bytes */
        EVP_DigestFinal_ex(ctx, want, NULL);
        EVP_MD_CTX_free(ctx);
        digest_of(&img, got);
        assert_memory_equal(got, want, 32);
}

/* A gap between sections makes sbsign's and EDK2's trailing-data region start at the count of
 * bytes hashed, inside the last section: regions overlap, and signing falls back to hashing
 * the written file. */
static void signing_an_image_with_section_gaps_hashes_like_sbsign(void **state) {
        static const img_section s[] = {
                { ".text", 0x1000, 0x200, 0x200, 0x200, 0xaa },
                { ".data", 0x2000, 0x200, 0x800, 0x200, 0xbb },
        };
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t want[32];

        img_make(&img, 0x200, s, 2);
        img.data[0x500] = 0x77; /* inside the gap: not hashed on its own, but in the trailing region */
        hash_headers_by_hand(ctx, &img);
        EVP_DigestUpdate(ctx, img.data + 0x200, 0x200);
        EVP_DigestUpdate(ctx, img.data + 0x800, 0x200);
        EVP_DigestUpdate(ctx, img.data + 0x600, 0x400); /* from 0x200 + 2 * 0x200 bytes to the end */
        EVP_DigestFinal_ex(ctx, want, NULL);
        EVP_MD_CTX_free(ctx);

        sign_image(&img, &k->leaf, &out);
        assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
        assert_int_equal(tb_authenticode_read(pe, &sigs), 0);
        assert_int_equal(sigs.n, 1);
        assert_memory_equal(sigs.sig[0].digest, want, 32);
        assert_true(sigs.sig[0].digest_matches);
        assert_int_equal(tb_authenticode_check(&sigs.sig[0], k->leaf.cert), 1);
}

static void digest_ignores_checksum_and_certificate_directory_only(void **state) {
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT;
        uint8_t d0[32], d1[32];
        (void)state;

        img_make_basic(&img);
        digest_of(&img, d0);
        tb_put_u32le(img.data + IMG_CHECKSUM_OFF, 0xdeadbeef);
        digest_of(&img, d1);
        assert_memory_equal(d0, d1, 32);
        /* A certificate table at the end changes neither the digest nor what is hashed. */
        tb_buf_append_zero(&img, 16);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF, 0x800);
        tb_put_u32le(img.data + IMG_CERTDIR_OFF + 4, 16);
        digest_of(&img, d1);
        assert_memory_equal(d0, d1, 32);
        img.data[0x50] ^= 1; /* the DOS stub is hashed */
        digest_of(&img, d1);
        assert_memory_not_equal(d0, d1, 32);
}

static void signed_image_has_sbsign_layout(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        uint32_t off, size, dwlen;
        tb_pe_csum c;
        uint8_t zero4[4] = { 0 };

        img_make_basic(&img);
        tb_buf_append(&img, "abc", 3); /* unaligned end: the signer pads to 8 */
        sign_image(&img, &k->leaf, &out);
        off = tb_get_u32le(out.data + IMG_CERTDIR_OFF);
        size = tb_get_u32le(out.data + IMG_CERTDIR_OFF + 4);
        assert_int_equal(off, 0x808);
        assert_int_equal(off + size, out.len);
        assert_int_equal(size % 8, 0);
        assert_memory_equal(out.data, img.data, IMG_CHECKSUM_OFF);
        assert_memory_equal(out.data + 0x800, "abc\0\0\0\0\0", 8);
        dwlen = tb_get_u32le(out.data + off);
        assert_true(dwlen <= size && size - dwlen < 8);
        assert_int_equal(tb_get_u16le(out.data + off + 4), 0x0200);
        assert_int_equal(tb_get_u16le(out.data + off + 6), 0x0002);
        /* The checksum covers everything but itself, and adds the file length. */
        tb_pe_csum_init(&c);
        tb_pe_csum_update(&c, out.data, IMG_CHECKSUM_OFF);
        tb_pe_csum_update(&c, zero4, 4);
        tb_pe_csum_update(&c, out.data + IMG_CHECKSUM_OFF + 4, out.len - IMG_CHECKSUM_OFF - 4);
        assert_int_equal(tb_get_u32le(out.data + IMG_CHECKSUM_OFF), tb_pe_csum_final(&c, out.len));
        assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
        assert_int_equal(tb_authenticode_verify(pe, k->leaf.cert), 1);
}

static void signing_twice_gives_identical_bytes(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, a = TB_BUF_INIT, b = TB_BUF_INIT;

        img_make_basic(&img);
        sign_image(&img, &k->leaf, &a);
        sign_image(&img, &k->leaf, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        /* Re-signing the signed image replaces the signature and gives the same bytes again. */
        sign_image(&a, &k->leaf, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
}

static void signature_has_no_signing_time(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        PKCS7_SIGNER_INFO *si;
        uint8_t d[32];

        img_make_basic(&img);
        digest_of(&img, d);
        sign_image(&img, &k->leaf, &out);
        assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
        assert_int_equal(tb_authenticode_read(pe, &sigs), 0);
        assert_int_equal(sigs.n, 1);
        assert_memory_equal(sigs.sig[0].digest, d, 32);
        assert_true(sigs.sig[0].digest_matches);
        assert_int_equal(sigs.sig[0].content_len, TB_AUTHENTICODE_IDC_SIZE - 2);
        si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(sigs.sig[0].p7), 0);
        assert_int_equal(sk_X509_ATTRIBUTE_num(PKCS7_get_signed_attributes(si)), 2);
        assert_null(PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime));
        assert_non_null(PKCS7_get_signed_attribute(si, NID_pkcs9_messageDigest));
        assert_non_null(PKCS7_get_signed_attribute(si, NID_pkcs9_contentType));
}

static void verify_accepts_signer_and_its_ca_but_not_others(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL, *unsigned_pe = NULL;

        img_make_basic(&img);
        sign_image(&img, &k->leaf, &out);
        assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
        assert_int_equal(tb_authenticode_verify(pe, k->leaf.cert), 1);
        assert_int_equal(tb_authenticode_verify(pe, k->ca.cert), 1);
        assert_int_equal(tb_authenticode_verify(pe, k->other.cert), 0);
        assert_int_equal(tb_pe_from_memory(img.data, img.len, &unsigned_pe), 0);
        assert_int_equal(tb_authenticode_verify(unsigned_pe, k->leaf.cert), 0);
}

static void verify_fails_after_any_hashed_byte_changes(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        static const size_t offsets[] = { 0x10, IMG_OPT_OFF + 40, 0x200, 0x5ff, 0x7ff };

        img_make_basic(&img);
        sign_image(&img, &k->leaf, &out);
        for (size_t i = 0; i < ARRAY_SIZE(offsets); i++) {
                _cleanup_(tb_pe_freep) tb_pe *pe = NULL;

                out.data[offsets[i]] ^= 0x40;
                assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
                assert_int_equal(tb_authenticode_verify(pe, k->leaf.cert), 0);
                out.data[offsets[i]] ^= 0x40;
        }
}

static void verify_report_names_the_signature_and_why(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        _cleanup_(tb_authenticode_verdict_done) tb_authenticode_verdict v = TB_AUTHENTICODE_VERDICT_INIT;

        img_make_basic(&img);
        sign_image(&img, &k->leaf, &out);
        {
                _cleanup_(tb_pe_freep) tb_pe *pe = NULL;

                assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
                assert_int_equal(tb_authenticode_verify_report(pe, k->leaf.cert, &v), 1);
                assert_int_equal(v.n_sigs, 1);
                assert_int_equal(v.index, 1);
                assert_null(v.why);
                assert_non_null(v.signer);
                assert_int_equal(tb_authenticode_verify_report(pe, k->other.cert, &v), 0);
                assert_string_equal(v.why, "invalid, or not by this certificate");
        }
        out.data[0x200] ^= 0x40;
        {
                _cleanup_(tb_pe_freep) tb_pe *pe = NULL;

                assert_int_equal(tb_pe_from_memory(out.data, out.len, &pe), 0);
                assert_int_equal(tb_authenticode_verify_report(pe, k->leaf.cert, &v), 0);
                assert_string_equal(v.why, "the image changed after signing");
        }
        {
                _cleanup_(tb_pe_freep) tb_pe *pe = NULL;

                assert_int_equal(tb_pe_from_memory(img.data, img.len, &pe), 0);
                assert_int_equal(tb_authenticode_verify_report(pe, k->leaf.cert, &v), 0);
                assert_int_equal(v.n_sigs, 0);
        }
}

static void read_rejects_malformed_certificate_tables(void **state) {
        keys *k = *state;
        _cleanup_(tb_buf_freep) tb_buf img = TB_BUF_INIT, out = TB_BUF_INIT;
        uint32_t off;

        img_make_basic(&img);
        sign_image(&img, &k->leaf, &out);
        off = tb_get_u32le(out.data + IMG_CERTDIR_OFF);
        for (int t = 0; t < 3; t++) {
                _cleanup_(tb_buf_freep) tb_buf bad = TB_BUF_INIT;
                _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
                _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;

                tb_buf_append(&bad, out.data, out.len);
                if (t == 0)
                        tb_put_u32le(bad.data + off, 0x100000); /* dwLength beyond the table */
                else if (t == 1)
                        tb_put_u32le(bad.data + off, 4); /* dwLength shorter than its header */
                else
                        bad.data[off + 8] = 0x05; /* not a DER SEQUENCE */
                assert_int_equal(tb_pe_from_memory(bad.data, bad.len, &pe), 0);
                assert_int_equal(tb_authenticode_read(pe, &sigs), -EBADMSG);
        }
}

static void idc_is_the_106_byte_der_sbsign_emits(void **state) {
        uint8_t idc[TB_AUTHENTICODE_IDC_SIZE], d[32];
        const unsigned char *p = idc;
        long len;
        int tag, cls;
        (void)state;

        memset(d, 0x5a, sizeof(d));
        tb_authenticode_idc(d, idc);
        assert_int_equal(ASN1_get_object(&p, &len, &tag, &cls, sizeof(idc)), V_ASN1_CONSTRUCTED);
        assert_int_equal(tag, V_ASN1_SEQUENCE);
        assert_int_equal(len, sizeof(idc) - 2);
        assert_memory_equal(idc + sizeof(idc) - 32, d, 32);
        assert_memory_equal(idc + sizeof(idc) - 34, "\x04\x20", 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(digest_is_formats_6_2_by_hand),
                cmocka_unit_test(digest_ignores_checksum_and_certificate_directory_only),
                cmocka_unit_test(signing_an_image_with_section_gaps_hashes_like_sbsign),
                cmocka_unit_test(signed_image_has_sbsign_layout),
                cmocka_unit_test(signing_twice_gives_identical_bytes),
                cmocka_unit_test(signature_has_no_signing_time),
                cmocka_unit_test(verify_accepts_signer_and_its_ca_but_not_others),
                cmocka_unit_test(verify_fails_after_any_hashed_byte_changes),
                cmocka_unit_test(read_rejects_malformed_certificate_tables),
                cmocka_unit_test(verify_report_names_the_signature_and_why),
                cmocka_unit_test(idc_is_the_106_byte_der_sbsign_emits),
        };

        return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
