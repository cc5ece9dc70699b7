/* tests/unit/test-registry.c — the registry client's own parsing (--platform, the --json summary)
 * and a pull over plain HTTP on loopback from a static file server (python's http.server, which
 * knows nothing of registries: every check is the client's): a pinned image is unpacked; a layer
 * blob whose bytes are not its digest, and a manifest that is not the pinned one, are refused
 * and nothing of them is unpacked. The real registry and skopeo: interop rootfs-registry-*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs/registry.h"
#include "util/fileio.h"
#include "util/process.h"
#include "tmpdir.h"

/* Writes a two-repository registry tree (good: as it should be; bad: the layer blob's bytes
 * changed under its name), binds 127.0.0.1 on a free port and prints "PORT GOOD_DIGEST BAD_DIGEST". */
static const char server_py[] =
        "import functools,hashlib,http.server,io,json,os,sys,tarfile\n"
        "root=sys.argv[1]\n"
        "def sha(b): return 'sha256:'+hashlib.sha256(b).hexdigest()\n"
        "def put(repo,kind,name,data):\n"
        "    p=os.path.join(root,'v2',repo,kind); os.makedirs(p,exist_ok=True)\n"
        "    open(os.path.join(p,name),'wb').write(data)\n"
        "buf=io.BytesIO()\n"
        "with tarfile.open(fileobj=buf,mode='w',format=tarfile.PAX_FORMAT) as t:\n"
        "    d=b'hello from a layer\\n'; ti=tarfile.TarInfo('hello'); ti.size=len(d); ti.mode=0o644; t.addfile(ti,io.BytesIO(d))\n"
        "layer=buf.getvalue(); L=sha(layer); out=[]\n"
        "for repo in ('good','bad'):\n"
        "    put(repo,'blobs',L,layer if repo=='good' else layer.replace(b'hello from',b'HELLO FROM'))\n"
        "    cfg=json.dumps({'architecture':'amd64','os':'linux','rootfs':{'type':'layers','diff_ids':[L]}}).encode()\n"
        "    put(repo,'blobs',sha(cfg),cfg)\n"
        "    man=json.dumps({'schemaVersion':2,'mediaType':'application/vnd.oci.image.manifest.v1+json',\n"
        "        'config':{'mediaType':'application/vnd.oci.image.config.v1+json','digest':sha(cfg),'size':len(cfg)},\n"
        "        'layers':[{'mediaType':'application/vnd.oci.image.layer.v1.tar','digest':L,'size':len(layer)}]}).encode()\n"
        "    put(repo,'manifests',sha(man),man); out.append(sha(man))\n"
        "class H(http.server.SimpleHTTPRequestHandler):\n"
        "    def log_message(self,*a): pass\n"
        "s=http.server.HTTPServer(('127.0.0.1',0),functools.partial(H,directory=root))\n"
        "print(s.server_address[1],*out,flush=True)\n"
        "s.serve_forever()\n";

typedef struct fx {
        char dir[256], srv[300], cache[300];
        pid_t server;
        unsigned port;
        char good[80], bad[80];
} fx;

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        int pipefd[2];
        FILE *out;

        tb_test_tmpdir_make(f->dir, sizeof(f->dir), "registry");
        snprintf(f->srv, sizeof(f->srv), "%s/srv", f->dir);
        snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
        assert_int_equal(mkdir(f->srv, 0755), 0);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        char *const argv[] = { "python3", "-c", (char *)server_py, f->srv, NULL };
        assert_int_equal(tb_spawn(argv, -1, pipefd[1], -1, -1, NULL, &f->server), 0);
        close(pipefd[1]);
        out = fdopen(pipefd[0], "r");
        assert_non_null(out);
        assert_int_equal(fscanf(out, "%u %79s %79s", &f->port, f->good, f->bad), 3);
        fclose(out);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;

        tb_process_stop(&f->server, 5, NULL);
        tb_test_tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static void platforms_are_os_arch_and_an_optional_variant(void **state) {
        char buf[64];
        tb_oci_platform p;
        (void)state;

        assert_int_equal(tb_registry_parse_platform("linux/amd64", buf, sizeof(buf), &p), 0);
        assert_string_equal(p.os, "linux");
        assert_string_equal(p.arch, "amd64");
        assert_null(p.variant);
        assert_int_equal(tb_registry_parse_platform("linux/arm/v7", buf, sizeof(buf), &p), 0);
        assert_string_equal(p.arch, "arm");
        assert_string_equal(p.variant, "v7");
        assert_int_equal(tb_registry_parse_platform("linux", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("/amd64", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("linux/", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("linux/arm/", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("linux/arm/v7/x", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("Linux/AMD64", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("linux/amd64;rm", buf, sizeof(buf), &p), -EINVAL);
        assert_int_equal(tb_registry_parse_platform("linux/amd64", buf, 8, &p), -EINVAL); /* does not fit */
        assert_int_equal(tb_registry_parse_platform(NULL, buf, sizeof(buf), &p), -EINVAL);
}

static void summary_json_names_every_layer(void **state) {
        tb_registry_layer_info layers[2] = { { .digest = "sha256:aa", .size = 10, .cached = true },
                                             { .digest = "sha256:bb", .size = 20 } };
        tb_registry_summary s = { .reference = (char *)"r.example/x:1", .manifest_digest = "sha256:cc",
                                  .platform = "linux/amd64", .layers = layers, .n_layers = 2, .downloaded = 20,
                                  .from_cache = 10 };
        json_object *j = tb_registry_summary_json(&s), *v;
        (void)state;

        assert_non_null(j);
        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                            "{\"reference\":\"r.example\\/x:1\",\"digest\":\"sha256:cc\",\"platform\":\"linux\\/amd64\","
                            "\"layers\":[{\"digest\":\"sha256:aa\",\"size\":10,\"cached\":true},"
                            "{\"digest\":\"sha256:bb\",\"size\":20,\"cached\":false}],"
                            "\"downloaded_bytes\":20,\"cached_bytes\":10}");
        assert_true(json_object_object_get_ex(j, "layers", &v));
        json_object_put(j);
}

static int pull(const fx *f, const char *repo, const char *digest, const char *into, tb_registry_summary *sum) {
        tb_registry_options o = { .platform = "linux/amd64", .allow_insecure = true, .cache_dir = f->cache,
                                  .no_cache = true, .timeout = 10, .retries = 1 };
        tb_imageref *ref = NULL;
        tb_layer_budget budget;
        char name[200];
        int fd, r;

        snprintf(name, sizeof(name), "127.0.0.1:%u/%s@%s", f->port, repo, digest);
        assert_int_equal(tb_imageref_parse(name, &ref), 0);
        assert_int_equal(mkdir(into, 0755), 0);
        fd = open(into, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        tb_layer_budget_init(&budget, TB_LAYER_DEFAULT_MAX_BYTES, TB_LAYER_DEFAULT_MAX_ENTRIES);
        r = tb_registry_pull(ref, &o, fd, &budget, sum);
        close(fd);
        tb_imageref_free(ref);
        return r;
}

static void a_pinned_image_is_pulled_and_a_changed_blob_is_refused(void **state) {
        fx *f = *state;
        char root[400], file[500];
        tb_registry_summary sum = { 0 };
        tb_buf b = TB_BUF_INIT;

        snprintf(root, sizeof(root), "%s/good", f->dir);
        assert_int_equal(pull(f, "good", f->good, root, &sum), 0);
        snprintf(file, sizeof(file), "%s/hello", root);
        assert_int_equal(tb_read_file(file, 4096, &b), 0);
        assert_int_equal(b.len, 19);
        assert_memory_equal(b.data, "hello from a layer\n", 19);
        assert_string_equal(sum.manifest_digest, f->good);
        assert_int_equal(sum.n_layers, 1);
        tb_registry_summary_done(&sum);

        snprintf(root, sizeof(root), "%s/bad", f->dir);
        assert_int_equal(pull(f, "bad", f->bad, root, NULL), -EBADMSG);
        /* The blob streams into the tree while it is hashed, and the caller discards the tree on
         * the error: what matters is that the pull fails, so nothing of it is ever used. */
        tb_buf_free(&b);
}

static void a_manifest_that_is_not_the_pinned_one_is_refused(void **state) {
        fx *f = *state;
        char root[400], file[500];

        /* The bad repository's manifest names the same config and layer: only the digest differs. */
        snprintf(root, sizeof(root), "%s/swapped", f->dir);
        snprintf(file, sizeof(file), "%s/v2/good/manifests/%s", f->srv, f->bad);
        {
                char from[600];
                tb_buf m = TB_BUF_INIT;

                snprintf(from, sizeof(from), "%s/v2/good/manifests/%s", f->srv, f->good);
                assert_int_equal(tb_read_file(from, 1 << 16, &m), 0);
                assert_int_equal(tb_buf_append(&m, " ", 1), 0); /* same JSON, other bytes */
                assert_int_equal(tb_write_file_atomic(file, m.data, m.len, 0644, true), 0);
                tb_buf_free(&m);
        }
        assert_int_equal(pull(f, "good", f->bad, root, NULL), -EIO);
        snprintf(file, sizeof(file), "%s/hello", root);
        assert_false(tb_path_exists(file)); /* refused before any layer */
}

static void no_registry_there_is_a_clean_error(void **state) {
        fx *f = *state;
        char root[400];
        unsigned port = f->port;

        tb_process_stop(&f->server, 5, NULL); /* nothing listens on the port any more */
        f->port = port;
        snprintf(root, sizeof(root), "%s/none", f->dir);
        assert_true(pull(f, "good", f->good, root, NULL) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(platforms_are_os_arch_and_an_optional_variant),
                cmocka_unit_test(summary_json_names_every_layer),
                cmocka_unit_test_setup_teardown(a_pinned_image_is_pulled_and_a_changed_blob_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(a_manifest_that_is_not_the_pinned_one_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(no_registry_there_is_a_clean_error, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
