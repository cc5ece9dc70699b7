/* tests/unit/test-container.c — the docker-archive of ESP files: a manifest naming a config and one
 * layer by their digests, only regular files in the layer, every timestamp the epoch, and the same
 * bytes for the same input. Read back with libarchive, as docker load and skopeo read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "medium/container.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "tmpdir.h"

#define EPOCH 1700000000

typedef struct member {
        char name[160];
        tb_buf data;
        int64_t mtime;
        mode_t type;
} member;

typedef struct tarball {
        member m[16];
        size_t n;
} tarball;

static void tar_read(const void *data, size_t len, tarball *t) {
        struct archive *a = archive_read_new();
        struct archive_entry *e;

        memset(t, 0, sizeof(*t));
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_memory(a, data, len), ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                member *m = &t->m[t->n++];
                char chunk[4096];
                la_ssize_t n;

                assert_true(t->n <= 16);
                snprintf(m->name, sizeof(m->name), "%s", archive_entry_pathname(e));
                m->mtime = archive_entry_mtime(e);
                m->type = archive_entry_filetype(e);
                m->data = (tb_buf)TB_BUF_INIT;
                while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0)
                        assert_int_equal(tb_buf_append(&m->data, chunk, (size_t)n), 0);
        }
        archive_read_free(a);
}

static void tar_done(tarball *t) {
        for (size_t i = 0; i < t->n; i++)
                tb_buf_free(&t->m[i].data);
}

static const member *tar_find(const tarball *t, const char *name) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->m[i].name, name) == 0)
                        return &t->m[i];
        return NULL;
}

static void sha256_hex(const tb_buf *b, char out[65]) {
        unsigned char d[32];

        assert_true(EVP_Digest(b->data, b->len, d, NULL, EVP_sha256(), NULL));
        tb_hex_encode(d, sizeof(d), out);
}

static json_object *json_from(const tb_buf *b) {
        json_tokener *tok = json_tokener_new();
        json_object *o = json_tokener_parse_ex(tok, (const char *)b->data, (int)b->len);

        json_tokener_free(tok);
        return o;
}

static int produce(int fd, uint64_t off, void *userdata) {
        (void)userdata;
        return tb_pwrite_all(fd, "made by a producer", 18, (off_t)off);
}

static tb_esp *sample_esp(const char *dir) {
        tb_esp *esp = NULL;
        char src[512];

        snprintf(src, sizeof(src), "%s/source.efi", dir);
        if (!tb_path_exists(src))
                assert_int_equal(tb_write_file_new(src, "MZ from a file", 14, 0644), 0);
        assert_int_equal(tb_esp_new(&esp), 0);
        assert_int_equal(tb_esp_add_dir(esp, "EFI/BOOT"), 0);
        assert_int_equal(tb_esp_add_file(esp, "EFI/BOOT/BOOTX64.EFI", src), 0);
        assert_int_equal(tb_esp_add_data(esp, "loader/loader.conf", "timeout 5\n", 10), 0);
        assert_int_equal(tb_esp_add_producer(esp, "EFI/trustboot/norole.efi", 18, produce, NULL), 0);
        return esp;
}

static void write_sample(const char *dir, const char *name, tb_buf *out) {
        _cleanup_(tb_esp_freep) tb_esp *esp = sample_esp(dir);
        tb_container_options o = { .repo_tag = "trustboot/test:v1", .arch = "amd64", .epoch = EPOCH };
        char path[512];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(tb_container_write(esp, &o, path), 0);
        assert_int_equal(tb_read_file(path, 1 << 24, out), 0);
}

static void manifest_config_and_layer_name_each_other_by_digest(void **state) {
        char dir[256], hex[65], want[100];
        tb_buf out = TB_BUF_INIT;
        tarball outer, layer;
        const member *mf, *cfg, *lay;
        json_object *manifest, *config, *m, *v;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "container");
        write_sample(dir, "image.tar", &out);
        tar_read(out.data, out.len, &outer);
        assert_int_equal(outer.n, 3);
        mf = tar_find(&outer, "manifest.json");
        assert_non_null(mf);

        manifest = json_from(&mf->data);
        assert_non_null(manifest);
        assert_int_equal(json_object_array_length(manifest), 1);
        m = json_object_array_get_idx(manifest, 0);
        assert_true(json_object_object_get_ex(m, "RepoTags", &v));
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), "trustboot/test:v1");
        assert_true(json_object_object_get_ex(m, "Config", &v));
        cfg = tar_find(&outer, json_object_get_string(v));
        assert_non_null(cfg);
        sha256_hex(&cfg->data, hex);
        snprintf(want, sizeof(want), "%s.json", hex);
        assert_string_equal(cfg->name, want);
        assert_true(json_object_object_get_ex(m, "Layers", &v));
        lay = tar_find(&outer, json_object_get_string(json_object_array_get_idx(v, 0)));
        assert_non_null(lay);
        sha256_hex(&lay->data, hex);
        snprintf(want, sizeof(want), "%s/layer.tar", hex);
        assert_string_equal(lay->name, want);

        /* The config's diff_id is the (uncompressed) layer's digest, its time the epoch. */
        config = json_from(&cfg->data);
        assert_non_null(config);
        assert_true(json_object_object_get_ex(config, "architecture", &v));
        assert_string_equal(json_object_get_string(v), "amd64");
        assert_true(json_object_object_get_ex(config, "created", &v));
        assert_string_equal(json_object_get_string(v), "2023-11-14T22:13:20Z");
        assert_true(json_object_object_get_ex(config, "rootfs", &v));
        assert_true(json_object_object_get_ex(v, "diff_ids", &v));
        snprintf(want, sizeof(want), "sha256:%s", hex);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), want);

        /* The layer: the three regular files with their bytes, no directories. */
        tar_read(lay->data.data, lay->data.len, &layer);
        assert_int_equal(layer.n, 3);
        for (size_t i = 0; i < layer.n; i++) {
                assert_int_equal(layer.m[i].type, AE_IFREG);
                assert_int_equal(layer.m[i].mtime, EPOCH);
        }
        assert_non_null(tar_find(&layer, "EFI/BOOT/BOOTX64.EFI"));
        assert_memory_equal(tar_find(&layer, "EFI/BOOT/BOOTX64.EFI")->data.data, "MZ from a file", 14);
        assert_memory_equal(tar_find(&layer, "loader/loader.conf")->data.data, "timeout 5\n", 10);
        assert_int_equal(tar_find(&layer, "EFI/trustboot/norole.efi")->data.len, 18);
        assert_memory_equal(tar_find(&layer, "EFI/trustboot/norole.efi")->data.data, "made by a producer", 18);
        for (size_t i = 0; i < outer.n; i++)
                assert_int_equal(outer.m[i].mtime, EPOCH);

        json_object_put(manifest);
        json_object_put(config);
        tar_done(&layer);
        tar_done(&outer);
        tb_buf_free(&out);
        tb_test_tmpdir_remove(dir);
}

static void same_input_gives_the_same_bytes(void **state) {
        char dir[256];
        tb_buf a = TB_BUF_INIT, b = TB_BUF_INIT;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "container");
        write_sample(dir, "a.tar", &a);
        write_sample(dir, "b.tar", &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        tb_buf_free(&a);
        tb_buf_free(&b);
        tb_test_tmpdir_remove(dir);
}

/* A producer that records where it was asked to write (the data offset laid out must be that). */
typedef struct placed {
        const char *bytes;
        uint64_t off;
        int calls;
} placed;

static int produce_placed(int fd, uint64_t off, void *userdata) {
        placed *p = userdata;

        p->off = off;
        p->calls++;
        return tb_pwrite_all(fd, p->bytes, strlen(p->bytes), (off_t)off);
}

/* The same layer as a plain libarchive stream (every byte through archive_write_data), as the
 * writer made it before it placed data itself: the reference for the bytes. */
static void reference_layer(const char *const *names, const char *const *datas, size_t n, tb_buf *out) {
        struct archive *a = archive_write_new();
        size_t used = 0;
        static uint8_t mem[1 << 16];

        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, mem, sizeof(mem), &used), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();

                archive_entry_set_pathname(e, names[i]);
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_perm(e, 0644);
                archive_entry_set_size(e, (la_int64_t)strlen(datas[i]));
                archive_entry_set_mtime(e, EPOCH, 0);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                assert_int_equal(archive_write_data(a, datas[i], strlen(datas[i])), (la_ssize_t)strlen(datas[i]));
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        assert_int_equal(tb_buf_append(out, mem, used), 0);
}

/* Data placed straight into the output lands where tb_container_data_offset() said (a name long
 * enough for a pax record in front of its header included), each producer is called once, and
 * the layer's bytes are those of a plain libarchive stream of the same files. */
static void data_is_placed_where_laid_out_and_the_layer_is_a_plain_tar(void **state) {
        char dir[256], path[512], src[512], longname[200];
        _cleanup_(tb_esp_freep) tb_esp *esp = NULL;
        tb_container_options o = { .repo_tag = "t:1", .arch = "amd64", .epoch = EPOCH };
        placed a = { .bytes = "the first UKI, 29 bytes long." }, b = { .bytes = "a second one" };
        tb_buf out = TB_BUF_INIT, ref = TB_BUF_INIT;
        tarball outer;
        const member *lay = NULL;
        uint64_t off_a, off_b, off_long;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "container");
        snprintf(src, sizeof(src), "%s/file.efi", dir);
        assert_int_equal(tb_write_file_new(src, "copied from a file", 18, 0644), 0);
        /* 130 characters and no '/' in the last 100: ustar cannot split it, pax needed. */
        snprintf(longname, sizeof(longname), "EFI/Linux/%s.efi", "x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456");
        assert_int_equal(tb_esp_new(&esp), 0);
        assert_int_equal(tb_esp_add_file(esp, "EFI/BOOT/BOOTX64.EFI", src), 0);
        assert_int_equal(tb_esp_add_producer(esp, longname, strlen(b.bytes), produce_placed, &b), 0);
        assert_int_equal(tb_esp_add_producer(esp, "EFI/trustboot/norole.efi", strlen(a.bytes), produce_placed, &a), 0);
        assert_int_equal(tb_esp_add_data(esp, "loader/loader.conf", "timeout 5\n", 10), 0);
        assert_int_equal(tb_container_data_offset(esp, &o, "EFI/trustboot/norole.efi", &off_a), 0);
        assert_int_equal(tb_container_data_offset(esp, &o, longname, &off_long), 0);
        assert_int_equal(tb_container_data_offset(esp, &o, "loader/loader.conf", &off_b), 0); /* in memory: */
        assert_int_equal(tb_container_data_offset(esp, &o, "EFI/none.efi", &off_b), -ENOENT); /* not placed */

        snprintf(path, sizeof(path), "%s/out.tar", dir);
        assert_int_equal(tb_container_write(esp, &o, path), 0);
        assert_int_equal(a.calls, 1);
        assert_int_equal(b.calls, 1);
        assert_int_equal(a.off, off_a);
        assert_int_equal(b.off, off_long);
        /* outer header (512) + BOOTX64.EFI (512 + 512) + pax record for the long name (1024) + its
         * header (512): the offsets are the tar's, not just plausible. */
        assert_int_equal(off_long, 512 + 1024 + 1024 + 512);
        assert_int_equal(off_a, off_long + 512 + 512);

        assert_int_equal(tb_read_file(path, 1 << 24, &out), 0);
        assert_memory_equal(out.data + off_a, a.bytes, strlen(a.bytes));
        tar_read(out.data, out.len, &outer);
        for (size_t i = 0; i < outer.n; i++)
                if (strstr(outer.m[i].name, "/layer.tar"))
                        lay = &outer.m[i];
        assert_non_null(lay);
        reference_layer((const char *const[]){ "EFI/BOOT/BOOTX64.EFI", longname, "EFI/trustboot/norole.efi",
                                               "loader/loader.conf" },
                        (const char *const[]){ "copied from a file", b.bytes, a.bytes, "timeout 5\n" }, 4, &ref);
        assert_int_equal(lay->data.len, ref.len);
        assert_memory_equal(lay->data.data, ref.data, ref.len);
        /* The whole file is the stream: no trailing hole, no bytes after the end blocks. */
        assert_int_equal(out.len % 512, 0);
        assert_memory_equal(out.data + out.len - 1024, (uint8_t[1024]){ 0 }, 1024);

        tar_done(&outer);
        tb_buf_free(&out);
        tb_buf_free(&ref);
        tb_test_tmpdir_remove(dir);
}

/* The check runs on the complete layer (every file's data in place), before the digest; its
 * refusal is the write's. */
typedef struct check_seen {
        const char *want;
        uint64_t off;
        int calls;
        int result;
} check_seen;

static int check_layer(int fd, void *userdata) {
        check_seen *c = userdata;
        char buf[64] = { 0 };

        c->calls++;
        assert_int_equal(tb_pread_full(fd, buf, strlen(c->want), (off_t)c->off), 0);
        assert_memory_equal(buf, c->want, strlen(c->want));
        return c->result;
}

static void the_check_sees_the_complete_layer_and_its_refusal_fails_the_write(void **state) {
        char dir[256];
        _cleanup_(tb_esp_freep) tb_esp *esp = NULL;
        tb_container_options o = { .repo_tag = "t:1", .arch = "amd64", .epoch = EPOCH };
        placed a = { .bytes = "signed into its place" };
        check_seen c = { .want = a.bytes };
        FILE *f;
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "container");
        assert_int_equal(tb_esp_new(&esp), 0);
        assert_int_equal(tb_esp_add_producer(esp, "EFI/trustboot/norole.efi", strlen(a.bytes), produce_placed, &a), 0);
        assert_int_equal(tb_esp_add_data(esp, "loader/loader.conf", "timeout 5\n", 10), 0);
        assert_int_equal(tb_container_data_offset(esp, &o, "EFI/trustboot/norole.efi", &c.off), 0);

        f = tmpfile();
        assert_non_null(f);
        assert_int_equal(tb_container_write_fd(esp, &o, fileno(f), "x.tar", check_layer, &c), 0);
        assert_int_equal(c.calls, 1);
        fclose(f);

        c.result = -EBADMSG;
        f = tmpfile();
        assert_int_equal(tb_container_write_fd(esp, &o, fileno(f), "x.tar", check_layer, &c), -EBADMSG);
        assert_int_equal(c.calls, 2);
        /* Refused before the outer tar: nothing at 0 but the hole where its header would go. */
        {
                uint8_t hdr[512], zero[512] = { 0 };

                assert_int_equal(tb_pread_full(fileno(f), hdr, sizeof(hdr), 0), 0);
                assert_memory_equal(hdr, zero, sizeof(zero));
        }
        fclose(f);
        tb_test_tmpdir_remove(dir);
}

static void a_failed_write_leaves_nothing(void **state) {
        char dir[256], path[512], missing[512];
        _cleanup_(tb_esp_freep) tb_esp *esp = NULL;
        tb_container_options o = { .repo_tag = "t:1", .arch = "amd64", .epoch = EPOCH };
        (void)state;

        tb_test_tmpdir_make(dir, sizeof(dir), "container");
        snprintf(missing, sizeof(missing), "%s/gone.efi", dir);
        assert_int_equal(tb_esp_new(&esp), 0);
        assert_int_equal(tb_esp_add_file(esp, "EFI/x.efi", missing), 0);
        snprintf(path, sizeof(path), "%s/out.tar", dir);
        assert_true(tb_container_write(esp, &o, path) < 0);
        assert_false(tb_path_exists(path));
        snprintf(path, sizeof(path), "%s/out.tar.layer", dir);
        assert_false(tb_path_exists(path));
        tb_test_tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(manifest_config_and_layer_name_each_other_by_digest),
                cmocka_unit_test(same_input_gives_the_same_bytes),
                cmocka_unit_test(a_failed_write_leaves_nothing),
                cmocka_unit_test(data_is_placed_where_laid_out_and_the_layer_is_a_plain_tar),
                cmocka_unit_test(the_check_sees_the_complete_layer_and_its_refusal_fails_the_write),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
