/* tests/unit/test-oci.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rootfs/oci.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static void digests_must_be_sha256_lowercase_hex(void **state) {
        (void)state;
        assert_true(tb_oci_digest_valid(D1));
        assert_false(tb_oci_digest_valid("sha512:1111111111111111111111111111111111111111111111111111111111111111"));
        assert_false(tb_oci_digest_valid("sha256:111111111111111111111111111111111111111111111111111111111111111"));
        assert_false(tb_oci_digest_valid("sha256:../../../../etc/passwd00000000000000000000000000000000000000"));
        assert_false(tb_oci_digest_valid("sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

static const char index_json[] =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D1 "\",\"size\":10,"
        "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"},\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"}},"
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D2 "\",\"size\":20,"
        "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v2\"},\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";

static void index_picks_by_tag_or_by_platform(void **state) {
        tb_oci_descriptor d;
        (void)state;

        assert_int_equal(tb_oci_parse_index("index.json", index_json, strlen(index_json), "v1", &d), 0);
        assert_string_equal(d.digest, D1);
        assert_int_equal(d.size, 10);
        assert_int_equal(tb_oci_parse_index("index.json", index_json, strlen(index_json), "v3", &d), -ENOENT);
#if defined(__x86_64__)
        assert_int_equal(tb_oci_parse_index("index.json", index_json, strlen(index_json), NULL, &d), 0);
        assert_string_equal(d.digest, D2);
#endif
}

static void index_rejects_trailing_garbage_and_bad_digests(void **state) {
        static const char bad_digest[] =
                "{\"manifests\":[{\"digest\":\"sha256:../../x\",\"size\":1}]}";
        char buf[sizeof(index_json) + 8];
        tb_oci_descriptor d;
        (void)state;

        snprintf(buf, sizeof(buf), "%s{}", index_json);
        assert_int_equal(tb_oci_parse_index("index.json", buf, strlen(buf), "v1", &d), -EBADMSG);
        snprintf(buf, sizeof(buf), "%s \n", index_json);
        assert_int_equal(tb_oci_parse_index("index.json", buf, strlen(buf), "v1", &d), 0);
        assert_int_equal(tb_oci_parse_index("index.json", bad_digest, strlen(bad_digest), NULL, &d), -EBADMSG);
        assert_int_equal(tb_oci_parse_index("index.json", "[]", 2, NULL, &d), -EBADMSG);
}

static void free_layers(tb_oci_image *img) {
        for (size_t i = 0; i < img->n_layers; i++) {
                free(img->layers[i].path);
                free(img->layers[i].digest);
                free(img->layers[i].diff_id);
        }
        free(img->layers);
        *img = (tb_oci_image){ 0 };
}

static void manifest_layers_come_in_order_with_paths_from_digests(void **state) {
        static const char m[] =
                "{\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D1 "\",\"size\":3},"
                "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" D2 "\",\"size\":5},"
                "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D1 "\",\"size\":6}]}";
        static const char cfg[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";
        static const char cfg_short[] = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]}}";
        static const char artifact[] =
                "{\"config\":{\"digest\":\"" D1 "\",\"size\":3},"
                "\"layers\":[{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"" D2 "\",\"size\":2}]}";
        tb_oci_image img = { 0 };
        tb_oci_descriptor c;
        (void)state;

        assert_int_equal(tb_oci_parse_manifest("m", m, strlen(m), &img, &c), 0);
        assert_string_equal(c.digest, D1);
        assert_int_equal(img.n_layers, 2);
        assert_string_equal(img.layers[0].path, "blobs/sha256/2222222222222222222222222222222222222222222222222222222222222222");
        assert_string_equal(img.layers[1].digest, D1);
        assert_int_equal(img.layers[1].size, 6);
        assert_int_equal(tb_oci_parse_config("c", cfg, strlen(cfg), &img), 0);
        assert_string_equal(img.layers[1].diff_id, D2);
        free_layers(&img);

        assert_int_equal(tb_oci_parse_manifest("m", m, strlen(m), &img, &c), 0);
        assert_int_equal(tb_oci_parse_config("c", cfg_short, strlen(cfg_short), &img), -EBADMSG);
        free_layers(&img);
        assert_int_equal(tb_oci_parse_manifest("m", artifact, strlen(artifact), &img, &c), -EBADMSG);
        free_layers(&img);
}

static void docker_manifest_matches_normalized_repo_tags(void **state) {
        static const char m[] =
                "[{\"Config\":\"c1.json\",\"RepoTags\":[\"docker.io/library/base:1\"],\"Layers\":[\"a/layer.tar\"]},"
                " {\"Config\":\"c2.json\",\"RepoTags\":[\"docker.io/example/app:v3\"],\"Layers\":[\"b.tar\",\"c.tar\"]}]";
        tb_oci_image img = { 0 };
        char *config = NULL;
        (void)state;

        assert_int_equal(tb_oci_parse_docker_manifest("manifest.json", m, strlen(m), "example/app:v3", &config, &img), 0);
        assert_string_equal(config, "c2.json");
        assert_int_equal(img.n_layers, 2);
        assert_string_equal(img.layers[1].path, "c.tar");
        assert_null(img.layers[1].digest);
        free(config);
        free_layers(&img);
        assert_int_equal(tb_oci_parse_docker_manifest("manifest.json", m, strlen(m), "base:1", &config, &img), 0);
        assert_string_equal(config, "c1.json");
        free(config);
        free_layers(&img);
        /* Two images and no tag: which one is meant is not ours to guess. */
        assert_int_equal(tb_oci_parse_docker_manifest("manifest.json", m, strlen(m), NULL, &config, &img), -ENOENT);
        free_layers(&img);
}

/* An image as a table of in-memory files, opened through memfds. */
struct file {
        const char *path;
        char *data;
};

static int mem_open(void *userdata, const char *path, int *ret_fd) {
        struct file *f = userdata;

        for (; f->path; f++)
                if (strcmp(f->path, path) == 0) {
                        int fd = memfd_create("blob", MFD_CLOEXEC);

                        assert_true(fd >= 0);
                        assert_int_equal(write(fd, f->data, strlen(f->data)), (ssize_t)strlen(f->data));
                        lseek(fd, 0, SEEK_SET);
                        *ret_fd = fd;
                        return 0;
                }
        return -ENOENT;
}

static void digest_of(const char *s, char out[TB_OCI_DIGEST_MAX]) {
        uint8_t md[32];

        assert_int_equal(EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL), 1);
        tb_oci_digest_format(md, out);
}

static void load_verifies_manifest_and_config_digests(void **state) {
        char cfg[] = "{\"rootfs\":{\"diff_ids\":[\"" D2 "\"]}}";
        char cd[TB_OCI_DIGEST_MAX], md[TB_OCI_DIGEST_MAX], man[1024], idx[1024], mpath[128], cpath[128];
        struct file files[5];
        tb_oci_image *img = NULL;
        (void)state;

        digest_of(cfg, cd);
        snprintf(man, sizeof(man),
                 "{\"config\":{\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
                 "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D1 "\",\"size\":1}]}",
                 cd, strlen(cfg));
        digest_of(man, md);
        snprintf(idx, sizeof(idx), "{\"manifests\":[{\"digest\":\"%s\",\"size\":%zu}]}", md, strlen(man));
        snprintf(mpath, sizeof(mpath), "blobs/sha256/%s", md + 7);
        snprintf(cpath, sizeof(cpath), "blobs/sha256/%s", cd + 7);
        files[0] = (struct file){ "index.json", idx };
        files[1] = (struct file){ mpath, man };
        files[2] = (struct file){ cpath, cfg };
        files[3] = (struct file){ NULL, NULL };

        assert_int_equal(tb_oci_load(mem_open, files, NULL, &img), 0);
        assert_int_equal(img->n_layers, 1);
        assert_string_equal(img->layers[0].diff_id, D2);
        tb_oci_image_free(img);

        cfg[2] = 'R'; /* the config no longer matches its digest */
        assert_int_equal(tb_oci_load(mem_open, files, NULL, &img), -EIO);
        cfg[2] = 'r';
        man[strlen(man) - 1] = ' '; /* nor the manifest */
        assert_int_equal(tb_oci_load(mem_open, files, NULL, &img), -EIO);
        files[0].path = "other.json"; /* neither index.json nor manifest.json */
        assert_int_equal(tb_oci_load(mem_open, files, NULL, &img), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(digests_must_be_sha256_lowercase_hex),
                cmocka_unit_test(index_picks_by_tag_or_by_platform),
                cmocka_unit_test(index_rejects_trailing_garbage_and_bad_digests),
                cmocka_unit_test(manifest_layers_come_in_order_with_paths_from_digests),
                cmocka_unit_test(docker_manifest_matches_normalized_repo_tags),
                cmocka_unit_test(load_verifies_manifest_and_config_digests),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
