/* Fuzz what an image source feeds us: index.json, manifests, image configs, docker-archive
 * manifest.json, and layer tars (plain, gzip or zstd) applied to a scratch directory.
 * The first byte picks the parser; the rest is the document. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rootfs/layer.h"
#include "rootfs/oci.h"
#include "util/safefs.h"
#include "util/log.h"

static int scratch = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char tmpl[] = "/tmp/fuzz-oci.XXXXXX";
        (void)argc;
        (void)argv;

        if (!mkdtemp(tmpl))
                abort();
        scratch = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (scratch < 0)
                abort();
        /* Unlinked at once: nothing is left behind however the run ends (fds keep it usable). */
        if (rmdir(tmpl) < 0)
                abort();
        return 0;
}

static void apply_layer(const uint8_t *data, size_t size) {
        tb_layer_source src = { .name = "fuzz", .digest = NULL, .diff_id = NULL, .size = UINT64_MAX };
        int fd = memfd_create("layer", MFD_CLOEXEC);

        if (fd < 0)
                abort();
        if (size > 0 && write(fd, data, size) != (ssize_t)size)
                abort();
        lseek(fd, 0, SEEK_SET);
        (void)tb_layer_apply(scratch, fd, &src);
        close(fd);
        (void)tb_rm_children_at(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* The library logs every input it refuses; only sanitizer reports belong on stderr. */
__attribute__((constructor)) static void quiet_log(void) {
        tb_log_set_level(TB_LOG_QUIET);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        tb_oci_image img = { 0 };
        tb_oci_descriptor d;
        char *config = NULL;

        if (size < 1)
                return 0;
        switch (data[0] % 4) {
        case 0:
                (void)tb_oci_parse_index("fuzz", (const char *)data + 1, size - 1, NULL, &d);
                (void)tb_oci_parse_index("fuzz", (const char *)data + 1, size - 1, "latest", &d);
                break;
        case 1:
                if (tb_oci_parse_manifest("fuzz", (const char *)data + 1, size - 1, &img, &d) >= 0)
                        (void)tb_oci_parse_config("fuzz", (const char *)data + 1, size - 1, &img);
                break;
        case 2:
                (void)tb_oci_parse_docker_manifest("fuzz", (const char *)data + 1, size - 1, NULL, &config, &img);
                free(config);
                break;
        case 3:
                apply_layer(data + 1, size - 1);
                break;
        }
        for (size_t i = 0; i < img.n_layers; i++) {
                free(img.layers[i].path);
                free(img.layers[i].digest);
                free(img.layers[i].diff_id);
        }
        free(img.layers);
        return 0;
}
