/* inspect.c — the report of `trustboot inspect`, built as one JSON object and printed as JSON or
 * as text (the text reads only the object, so the two views cannot disagree). */
#include "medium/inspect.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "measure/mhash.h"
#include "measure/pcr.h"
#include "pe/authenticode.h"
#include "pe/sbat.h"
#include "pe/sdmagic.h"
#include "util/codec.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strset.h"

static json_object *flags_json(uint32_t c) {
        static const struct {
                uint32_t bit;
                const char *name;
        } flags[] = {
                { TB_PE_SCN_CNT_CODE, "code" },
                { TB_PE_SCN_CNT_INITIALIZED_DATA, "initialized-data" },
                { 0x00000080u, "uninitialized-data" },
                { 0x02000000u, "discardable" },
                { TB_PE_SCN_MEM_READ, "read" },
                { TB_PE_SCN_MEM_WRITE, "write" },
                { TB_PE_SCN_MEM_EXECUTE, "execute" },
        };
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
                if (c & flags[i].bit)
                        json_object_array_add(a, json_object_new_string(flags[i].name));
        return a;
}

static int mhash_chunk(const uint8_t *data, size_t len, void *userdata) {
        return tb_mhash_update(userdata, data, len);
}

static int section_sha256(const tb_pe *pe, const tb_pe_section *s, char out[65]) {
        _cleanup_(tb_mhash_freep) tb_mhash *h = NULL;
        tb_digests d;
        int r;

        r = tb_mhash_new(TB_BANK_BIT(TB_BANK_SHA256), &h);
        if (r >= 0)
                r = tb_pe_section_stream(pe, s, mhash_chunk, h);
        if (r >= 0)
                r = tb_mhash_final(h, &d, NULL);
        if (r < 0)
                return r;
        tb_hex_encode(d.d[TB_BANK_SHA256], 32, out);
        return 0;
}

static json_object *sections_json(const tb_pe *pe) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < tb_pe_n_sections(pe); i++) {
                const tb_pe_section *s = tb_pe_section_at(pe, i);
                json_object *o = json_object_new_object();

                json_object_object_add(o, "name", json_object_new_string(s->name));
                json_object_object_add(o, "virtual_address", json_object_new_int64(s->virtual_address));
                json_object_object_add(o, "virtual_size", json_object_new_int64(s->virtual_size));
                json_object_object_add(o, "raw_offset", json_object_new_int64(s->raw_offset));
                json_object_object_add(o, "raw_size", json_object_new_int64(s->raw_size));
                json_object_object_add(o, "characteristics", json_object_new_int64(s->characteristics));
                json_object_object_add(o, "flags", flags_json(s->characteristics));
                json_object_array_add(a, o);
        }
        return a;
}

/* The .sbat lines (the "sbat,1,…" header first), or NULL when the image has no .sbat. */
static int sbat_json(const tb_pe *pe, json_object **ret) {
        const tb_pe_section *s = tb_pe_find_section(pe, ".sbat");
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        _cleanup_(tb_strv_freep) char **l = NULL;
        json_object *a;
        int r;

        *ret = NULL;
        if (!s)
                return 0;
        r = tb_pe_section_read(pe, s, (size_t)64 * 1024, &b);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot read .sbat", tb_pe_name(pe));
        r = tb_sbat_lines(b.data, b.len, &l, NULL);
        if (r < 0)
                return tb_log_oom();
        a = json_object_new_array();
        for (char **p = l; *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        *ret = a;
        return 0;
}

static int signatures_json(const tb_pe *pe, json_object **ret) {
        _cleanup_(tb_authenticode_sigs_donep) tb_authenticode_sigs sigs = TB_AUTHENTICODE_SIGS_INIT;
        json_object *a;
        int r;

        r = tb_authenticode_read(pe, &sigs);
        if (r < 0)
                return r;
        a = json_object_new_array();
        for (size_t i = 0; i < sigs.n; i++) {
                const tb_authenticode_sig *sig = &sigs.sig[i];
                _cleanup_(freep) char *who = tb_authenticode_signer_name(sig);
                json_object *o = json_object_new_object();
                char h[2 * EVP_MAX_MD_SIZE + 1];

                json_object_object_add(o, "signer", who ? json_object_new_string(who) : NULL);
                json_object_object_add(o, "digest_algorithm", json_object_new_string(EVP_MD_get0_name(sig->md)));
                tb_hex_encode(sig->digest, sig->digest_len, h);
                json_object_object_add(o, "digest", json_object_new_string(h));
                json_object_object_add(o, "matches_image", json_object_new_boolean(sig->digest_matches));
                json_object_array_add(a, o);
        }
        *ret = a;
        return 0;
}

/* The sections the UKI's own stub measures into PCR 11, in its order (exact names; see
 * `trustboot measure` for the full lookup rules of each stub generation). */
static int uki_json(const tb_pe *pe, json_object **ret) {
        int gen = tb_stub_gen_from_pe(pe);
        json_object *o, *a;
        int r;

        *ret = NULL;
        if (!tb_pe_find_section(pe, ".linux"))
                return 0;
        if (gen < 0)
                gen = TB_STUB_258; /* unknown stub: the newest rules */
        o = json_object_new_object();
        a = json_object_new_array();
        json_object_object_add(o, "measured_by_stub", json_object_new_int(gen));
        /* a multi-profile UKI (257+): the measured sections below are profile 0's, the default boot;
         * `trustboot measure --uki --profile N` predicts another */
        json_object_object_add(o, "profiles", json_object_new_int((int)tb_uki_n_profiles(pe)));
        json_object_object_add(o, "measured_sections", a);
        for (int i = 0; i < _TB_UKI_SECTION_MAX; i++) {
                const tb_pe_section *s = tb_pe_find_section(pe, tb_uki_section_name(i));
                json_object *m;
                char h[65];

                if (!tb_stub_measures(gen, i) || !s || s->virtual_size == 0)
                        continue;
                r = section_sha256(pe, s, h);
                if (r < 0) {
                        json_object_put(o);
                        return r;
                }
                m = json_object_new_object();
                json_object_object_add(m, "name", json_object_new_string(s->name));
                json_object_object_add(m, "size", json_object_new_int64(s->virtual_size));
                json_object_object_add(m, "sha256", json_object_new_string(h));
                json_object_array_add(a, m);
        }
        *ret = o;
        return 0;
}

int tb_inspect_build(const tb_pe *pe, const char *path, json_object **ret) {
        const tb_pe_info *in = tb_pe_get_info(pe);
        json_object *o = json_object_new_object(), *sigs = NULL, *uki = NULL, *sbat = NULL;
        _cleanup_(freep) char *stub = NULL;
        uint8_t d[EVP_MAX_MD_SIZE];
        char h[2 * EVP_MAX_MD_SIZE + 1];
        unsigned dlen;
        int r;

        json_object_object_add(o, "file", json_object_new_string(path));
        json_object_object_add(o, "size", json_object_new_int64((int64_t)in->file_size));
        json_object_object_add(o, "format", json_object_new_string(in->pe32plus ? "PE32+" : "PE32"));
        json_object_object_add(o, "machine", json_object_new_string(tb_pe_machine_name(in->machine)));
        json_object_object_add(o, "section_alignment", json_object_new_int64(in->section_alignment));
        json_object_object_add(o, "file_alignment", json_object_new_int64(in->file_alignment));
        json_object_object_add(o, "size_of_headers", json_object_new_int64(in->size_of_headers));
        json_object_object_add(o, "size_of_image", json_object_new_int64(in->size_of_image));
        json_object_object_add(o, "checksum", json_object_new_int64(in->checksum));
        if (tb_pe_sdmagic_info(pe, &stub) < 0)
                stub = NULL;
        json_object_object_add(o, "stub", stub ? json_object_new_string(stub) : NULL);
        json_object_object_add(o, "sections", sections_json(pe));
        r = tb_authenticode_digest(pe, EVP_sha256(), d, &dlen);
        if (r < 0)
                goto fail;
        tb_hex_encode(d, dlen, h);
        json_object_object_add(o, "authenticode_sha256", json_object_new_string(h));
        r = signatures_json(pe, &sigs);
        if (r < 0)
                goto fail;
        json_object_object_add(o, "signatures", sigs);
        r = sbat_json(pe, &sbat);
        if (r < 0)
                goto fail;
        json_object_object_add(o, "sbat", sbat);
        r = uki_json(pe, &uki);
        if (r < 0)
                goto fail;
        json_object_object_add(o, "uki", uki);
        *ret = o;
        return 0;
fail:
        json_object_put(o);
        return r;
}

void tb_inspect_print_text(json_object *o, FILE *out) {
        json_object *v, *a;

        fprintf(out, "%s: %s %s, %zu bytes\n", json_object_get_string(json_object_object_get(o, "file")),
               json_object_get_string(json_object_object_get(o, "format")),
               json_object_get_string(json_object_object_get(o, "machine")),
               (size_t)json_object_get_int64(json_object_object_get(o, "size")));
        fprintf(out, "  SizeOfImage 0x%" PRIx64 ", SizeOfHeaders 0x%" PRIx64 ", alignment file 0x%" PRIx64
               " section 0x%" PRIx64 ", CheckSum 0x%" PRIx64 "\n",
               json_object_get_int64(json_object_object_get(o, "size_of_image")),
               json_object_get_int64(json_object_object_get(o, "size_of_headers")),
               json_object_get_int64(json_object_object_get(o, "file_alignment")),
               json_object_get_int64(json_object_object_get(o, "section_alignment")),
               json_object_get_int64(json_object_object_get(o, "checksum")));
        if ((v = json_object_object_get(o, "stub")))
                fprintf(out, "  stub: %s\n", json_object_get_string(v));
        fprintf(out, "  Authenticode SHA-256: %s\n", json_object_get_string(json_object_object_get(o, "authenticode_sha256")));
        fprintf(out, "\n  %-8s  %-10s  %-10s  %-10s  %-10s  %s\n", "Section", "VirtAddr", "VirtSize", "RawOffset", "RawSize",
               "Flags");
        a = json_object_object_get(o, "sections");
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i), *f = json_object_object_get(s, "flags");

                fprintf(out, "  %-8s  0x%08" PRIx64 "  0x%08" PRIx64 "  0x%08" PRIx64 "  0x%08" PRIx64 " ",
                       json_object_get_string(json_object_object_get(s, "name")),
                       json_object_get_int64(json_object_object_get(s, "virtual_address")),
                       json_object_get_int64(json_object_object_get(s, "virtual_size")),
                       json_object_get_int64(json_object_object_get(s, "raw_offset")),
                       json_object_get_int64(json_object_object_get(s, "raw_size")));
                for (size_t j = 0; j < json_object_array_length(f); j++)
                        fprintf(out, " %s", json_object_get_string(json_object_array_get_idx(f, j)));
                fprintf(out, "\n");
        }
        a = json_object_object_get(o, "signatures");
        fprintf(out, "\n  Signatures: %zu\n", json_object_array_length(a));
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i), *who = json_object_object_get(s, "signer");

                fprintf(out, "  %zu: %s\n     %s %s (%s)\n", i + 1, who ? json_object_get_string(who) : "(unknown signer)",
                       json_object_get_string(json_object_object_get(s, "digest_algorithm")),
                       json_object_get_string(json_object_object_get(s, "digest")),
                       json_object_get_boolean(json_object_object_get(s, "matches_image")) ? "matches the image"
                                                                                           : "DOES NOT match the image");
        }
        if ((a = json_object_object_get(o, "sbat"))) {
                fprintf(out, "\n  SBAT (.sbat):\n");
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        fprintf(out, "  %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
        }
        if ((v = json_object_object_get(o, "uki"))) {
                a = json_object_object_get(v, "measured_sections");
                int profiles = json_object_get_int(json_object_object_get(v, "profiles"));

                fprintf(out, "\n  UKI sections measured into PCR 11 (by a systemd-stub %d%s):\n",
                       json_object_get_int(json_object_object_get(v, "measured_by_stub")),
                       profiles > 0 ? ", profile 0 of a multi-profile UKI" : "");
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        json_object *m = json_object_array_get_idx(a, i);

                        fprintf(out, "  %-8s  %10" PRId64 "  %s\n", json_object_get_string(json_object_object_get(m, "name")),
                               json_object_get_int64(json_object_object_get(m, "size")),
                               json_object_get_string(json_object_object_get(m, "sha256")));
                }
        }
}

int tb_inspect_print_json(json_object *report, FILE *out) {
        const char *s = json_object_to_json_string_ext(report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

        if (!s)
                return tb_log_oom();
        fprintf(out, "%s\n", s);
        return 0;
}

int tb_inspect(const tb_inspect_options *o, FILE *out) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        _cleanup_(json_object_putp) json_object *report = NULL;
        int r;

        r = tb_pe_open(o->path, &pe);
        if (r < 0)
                return r;
        r = tb_inspect_build(pe, o->path, &report);
        if (r < 0) {
                if (r == -ENOMEM)
                        tb_log_errno(r, "%s", o->path);
                return r;
        }
        if (o->json)
                return tb_inspect_print_json(report, out);
        tb_inspect_print_text(report, out);
        return 0;
}
