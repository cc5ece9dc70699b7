/* tests/unit/test-imageref.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rootfs/imageref.h"
#include "util/log.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *in, const char *domain, const char *path, const char *tag, const char *digest) {
        _cleanup_(tb_imageref_freep) tb_imageref *r = NULL;

        if (tb_imageref_parse(in, &r) != 0)
                fail_msg("'%s' does not parse", in);
        if (strcmp(r->domain, domain) || strcmp(r->path, path) || (tag ? !r->tag || strcmp(r->tag, tag) : r->tag != NULL) ||
            (digest ? !r->digest || strcmp(r->digest, digest) : r->digest != NULL))
                fail_msg("'%s' → %s / %s : %s @ %s", in, r->domain, r->path, r->tag ?: "-", r->digest ?: "-");
}

static void docker_hub_short_names_normalize_as_docker_does(void **state) {
        (void)state;
        expect("alpine", "docker.io", "library/alpine", "latest", NULL);
        expect("alpine:3.20", "docker.io", "library/alpine", "3.20", NULL);
        expect("kairos/fedora:38", "docker.io", "kairos/fedora", "38", NULL);
        expect("docker.io/alpine", "docker.io", "library/alpine", "latest", NULL);
        expect("index.docker.io/library/alpine:edge", "docker.io", "library/alpine", "edge", NULL);
        expect("alpine@" DIGEST, "docker.io", "library/alpine", NULL, DIGEST);
        expect("alpine:3.20@" DIGEST, "docker.io", "library/alpine", "3.20", DIGEST);
}

static void registries_ports_and_localhost_are_domains(void **state) {
        (void)state;
        expect("quay.io/kairos/fedora:38-core-amd64-generic-v3.0.0-alpha1", "quay.io", "kairos/fedora",
               "38-core-amd64-generic-v3.0.0-alpha1", NULL);
        expect("127.0.0.1:5000/syn:v1", "127.0.0.1:5000", "syn", "v1", NULL);
        expect("localhost/a/b/c", "localhost", "a/b/c", "latest", NULL);
        expect("localhost:5000/a", "localhost:5000", "a", "latest", NULL);
        expect("[::1]:5000/a:t", "[::1]:5000", "a", "t", NULL);
        expect("Registry.Example/x", "Registry.Example", "x", "latest", NULL);
        expect("reg.example/a__b/c-d/e.f---g:_tag", "reg.example", "a__b/c-d/e.f---g", "_tag", NULL);
}

static void malformed_references_are_refused(void **state) {
        static const char *const bad[] = {
                "", "alpine:", ":tag", "alpine@sha256:abc", "alpine@md5:" "0123456789abcdef0123456789abcdef",
                "a//b", "a/", "/a", "a/-b", "a/b-", "a/b..c", "a/b___c", "alpine:-tag", "alpine:t@g", "host:port/a",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "reg.example/a b", "a:b:c",
                "reg.example:123456/a", "-reg.example/a", "reg..example/a", "[zz]:5000/a",
        };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                tb_imageref *r = NULL;

                if (tb_imageref_parse(bad[i], &r) != -EINVAL)
                        fail_msg("'%s' should not parse", bad[i]);
        }
}

static void long_names_and_tags_are_refused(void **state) {
        char name[300], tag[200];
        tb_imageref *r = NULL;
        (void)state;

        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        assert_int_equal(tb_imageref_parse(name, &r), -EINVAL);
        memset(tag, 't', sizeof(tag) - 1);
        tag[sizeof(tag) - 1] = '\0';
        tag[0] = 'x';
        memcpy(tag, "a:", 2);
        assert_int_equal(tb_imageref_parse(tag, &r), -EINVAL);
}

static void sources_say_which_form_they_are(void **state) {
        tb_imageref *r = NULL;
        (void)state;

        assert_int_equal(tb_imageref_from_source("docker://quay.io/a/b:1", &r), 1);
        assert_string_equal(r->domain, "quay.io");
        tb_imageref_free(r);
        assert_int_equal(tb_imageref_from_source("oci:alpine", &r), 1);
        assert_string_equal(r->path, "library/alpine");
        tb_imageref_free(r);
        assert_int_equal(tb_imageref_from_source("quay.io/a/b:1", &r), 1);
        tb_imageref_free(r);
        /* Not registry sources: other transports, existing paths, unparsable text. */
        assert_int_equal(tb_imageref_from_source("docker:alpine", &r), 0);
        assert_int_equal(tb_imageref_from_source("docker-daemon:alpine:3", &r), 0);
        assert_int_equal(tb_imageref_from_source("/tmp", &r), 0);
        assert_int_equal(tb_imageref_from_source("Not A Ref", &r), 0);
        assert_int_equal(tb_imageref_from_source("docker://Not A Ref", &r), -EINVAL);
}

static void strings_are_fully_qualified(void **state) {
        _cleanup_(tb_imageref_freep) tb_imageref *r = NULL;
        _cleanup_(freep) char *s = NULL;
        (void)state;

        assert_int_equal(tb_imageref_parse("alpine", &r), 0);
        s = tb_imageref_string(r);
        assert_string_equal(s, "docker.io/library/alpine:latest");
        assert_string_equal(tb_imageref_api_host(r), "registry-1.docker.io");
        assert_string_equal(tb_imageref_manifest_ref(r), "latest");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(docker_hub_short_names_normalize_as_docker_does),
                cmocka_unit_test(registries_ports_and_localhost_are_domains),
                cmocka_unit_test(malformed_references_are_refused),
                cmocka_unit_test(long_names_and_tags_are_refused),
                cmocka_unit_test(sources_say_which_form_they_are),
                cmocka_unit_test(strings_are_fully_qualified),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
