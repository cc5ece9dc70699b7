/* tests/unit/test-regauth.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rootfs/regauth.h"
#include "util/fileio.h"
#include "util/log.h"

static int challenge(const char *h, tb_regauth_challenge *c) {
        return tb_regauth_parse_challenge(h, strlen(h), c);
}

static void bearer_challenge_gives_realm_service_scope(void **state) {
        tb_regauth_challenge c = { 0 };
        (void)state;

        assert_int_equal(challenge("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                                   "scope=\"repository:library/alpine:pull\"", &c), 0);
        assert_int_equal(c.scheme, TB_REGAUTH_BEARER);
        assert_string_equal(c.realm, "https://auth.docker.io/token");
        assert_string_equal(c.service, "registry.docker.io");
        assert_string_equal(c.scope, "repository:library/alpine:pull");
        tb_regauth_challenge_done(&c);
        /* Case-insensitive names, tokens unquoted, escapes, spaces around '='. */
        assert_int_equal(challenge("bearer Realm = \"https://r/t\" , service=\"a\\\"b\"", &c), 0);
        assert_string_equal(c.realm, "https://r/t");
        assert_string_equal(c.service, "a\"b");
        assert_null(c.scope);
        tb_regauth_challenge_done(&c);
}

static void bearer_wins_over_basic_among_several(void **state) {
        tb_regauth_challenge c = { 0 };
        (void)state;

        assert_int_equal(challenge("Basic realm=\"x\", Bearer realm=\"https://t\", Negotiate abc==", &c), 0);
        assert_int_equal(c.scheme, TB_REGAUTH_BEARER);
        assert_string_equal(c.realm, "https://t");
        tb_regauth_challenge_done(&c);
        assert_int_equal(challenge("Basic realm=\"Registry Realm\"", &c), 0);
        assert_int_equal(c.scheme, TB_REGAUTH_BASIC);
        tb_regauth_challenge_done(&c);
}

static void malformed_challenges_are_refused(void **state) {
        static const char *const bad[] = {
                "", "Negotiate", "Bearer", "Bearer service=\"x\"", "Bearer realm=\"unterminated", "Bearer realm=",
                "Bearer realm=\"a\" junk junk=", "Basic realm=\"a\\", "=", ",,,",
        };
        tb_regauth_challenge c = { 0 };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (challenge(bad[i], &c) != -EINVAL)
                        fail_msg("'%s' should be refused", bad[i]);
}

static void authfile_most_specific_entry_wins(void **state) {
        /* dGI6c2VjcmV0 = "tb:secret", b3RoZXI6cHc= = "other:pw", aHViOmh1Yg== = "hub:hub" */
        const char *j = "{\"auths\":{\"quay.io\":{\"auth\":\"b3RoZXI6cHc=\"},\"quay.io/kairos\":{\"auth\":\"dGI6c2VjcmV0\"},"
                        "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1Yg==\"},\"quay.io/kai\":{\"auth\":\"b3RoZXI6cHc=\"}}}";
        tb_regauth_creds c = { 0 };
        (void)state;

        assert_int_equal(tb_regauth_parse_authfile(j, strlen(j), "quay.io", "kairos/fedora", &c), 1);
        assert_string_equal(c.username, "tb");
        assert_string_equal(c.password, "secret");
        tb_regauth_creds_done(&c);
        assert_int_equal(tb_regauth_parse_authfile(j, strlen(j), "quay.io", "other/x", &c), 1);
        assert_string_equal(c.username, "other");
        tb_regauth_creds_done(&c);
        assert_int_equal(tb_regauth_parse_authfile(j, strlen(j), "docker.io", "library/alpine", &c), 1);
        assert_string_equal(c.username, "hub");
        tb_regauth_creds_done(&c);
        assert_int_equal(tb_regauth_parse_authfile(j, strlen(j), "ghcr.io", "a/b", &c), 0);
}

static void authfile_malformed_is_an_error(void **state) {
        static const char *const bad[] = {
                "[]", "{\"auths\":[]}", "{\"auths\":{\"r\":{\"auth\":\"!!!!\"}}}", "{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}",
        };
        tb_regauth_creds c = { 0 };
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (tb_regauth_parse_authfile(bad[i], strlen(bad[i]), "r", "x", &c) != -EBADMSG)
                        fail_msg("'%s' should be malformed", bad[i]);
}

static void lookup_reads_registry_auth_file_first(void **state) {
        char dir[] = "/tmp/test-regauth.XXXXXX", path[64], home[80];
        tb_regauth_creds c = { 0 };
        FILE *f;
        (void)state;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/auth.json", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"auths\":{\"127.0.0.1:5000\":{\"username\":\"u\",\"password\":\"p\"}}}", f);
        fclose(f);
        snprintf(home, sizeof(home), "%s/home", dir);
        setenv("HOME", home, 1);
        unsetenv("XDG_RUNTIME_DIR");
        setenv("REGISTRY_AUTH_FILE", path, 1);
        assert_int_equal(tb_regauth_lookup("127.0.0.1:5000", "a", &c), 1);
        assert_string_equal(c.username, "u");
        assert_string_equal(c.file, path);
        tb_regauth_creds_done(&c);
        assert_int_equal(tb_regauth_lookup("127.0.0.1:5001", "a", &c), 0);
        unsetenv("REGISTRY_AUTH_FILE");
        assert_int_equal(tb_regauth_lookup("127.0.0.1:5000", "a", &c), 0);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(bearer_challenge_gives_realm_service_scope),
                cmocka_unit_test(bearer_wins_over_basic_among_several),
                cmocka_unit_test(malformed_challenges_are_refused),
                cmocka_unit_test(authfile_most_specific_entry_wins),
                cmocka_unit_test(authfile_malformed_is_an_error),
                cmocka_unit_test(lookup_reads_registry_auth_file_first),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
