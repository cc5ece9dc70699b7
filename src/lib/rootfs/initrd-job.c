/* initrd-job.c — `trustboot initrd`: open the source, apply the exclusion, then the report, the
 * kernel's path or the initrd file. */
#include "rootfs/initrd-job.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "rootfs/exclude.h"
#include "rootfs/report.h"
#include "util/codec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/ossl.h"

/* The bytes are hashed as they are written: the file is not read back. */
static int hash_sink(const void *data, size_t len, void *userdata) {
        return EVP_DigestUpdate(userdata, data, len) == 1 ? 0 : -EIO;
}

static int print_kernel(tb_rootfs *fs, FILE *out) {
        _cleanup_(freep) char *path = NULL;
        _cleanup_(closep) int fd = -1;
        int r;

        r = tb_rootfs_find_kernel(fs, &path, &fd);
        if (r < 0)
                return r;
        fprintf(out, "/%s\n", path);
        return 0;
}

static int print_report(tb_rootfs *fs, const tb_initrd_job *job, const tb_exclude *exclude, FILE *out) {
        _cleanup_(tb_report_donep) tb_report rep = {};
        int level = job->initrd.level >= 0 ? job->initrd.level : 6;
        int r;

        r = tb_report_build(fs, exclude, job->depth, level, &rep);
        if (r < 0)
                return r;
        if (job->json)
                return tb_report_print_json(&rep, out);
        tb_report_print_text(&rep, exclude != NULL, out);
        return 0;
}

static int print_digest(EVP_MD_CTX *ctx, const char *output, FILE *out) {
        _cleanup_(freep) char *hex = NULL;
        uint8_t d[EVP_MAX_MD_SIZE];
        unsigned len;

        if (EVP_DigestFinal_ex(ctx, d, &len) != 1)
                return tb_log_errno(-EIO, "%s: cannot hash", output);
        hex = tb_hex_string(d, len);
        if (!hex)
                return tb_log_oom();
        fprintf(out, "%s  %s\n", hex, output);
        return 0;
}

static int write_initrd(tb_rootfs *fs, const tb_initrd_job *job, const tb_exclude *exclude, FILE *out) {
        _cleanup_(tb_atomic_abortp) tb_atomic_file af = TB_ATOMIC_FILE_INIT;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        tb_initrd_options o = job->initrd;
        tb_initrd_stats stats;
        int r;

        o.exclude = exclude;
        o.sink = NULL;
        o.sink_userdata = NULL;
        r = tb_atomic_open(job->output, 0644, &af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot create", job->output);
        if (job->print_digest) {
                ctx = EVP_MD_CTX_new();
                if (!ctx)
                        return tb_log_oom();
                if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                        return tb_log_errno(-EIO, "%s: cannot hash", job->output);
                o.sink = hash_sink;
                o.sink_userdata = ctx;
        }
        r = tb_initrd_write(fs, af.fd, &o, &stats);
        if (r < 0)
                return r;
        r = tb_atomic_commit(&af);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", job->output);
        if (ctx) {
                r = print_digest(ctx, job->output, out);
                if (r < 0)
                        return r;
        }
        tb_info("%s: %" PRIu64 " entries (%" PRIu64 " hardlinks, %" PRIu64 " excluded), %" PRIu64
                " bytes of cpio, %" PRIu64 " bytes written (%s)",
                job->output, stats.entries, stats.hardlinks, stats.excluded, stats.bytes_in, stats.bytes_out,
                tb_initrd_compression_to_string(o.compression));
        return 0;
}

int tb_initrd_job_run(const tb_initrd_job *job, FILE *out) {
        _cleanup_(tb_rootfs_freep) tb_rootfs *fs = NULL;
        _cleanup_(tb_exclude_freep) tb_exclude *exclude = NULL;
        int r;

        r = tb_rootfs_open(job->source, job->rootfs, &fs);
        if (r < 0)
                return r;
        r = tb_exclude_from_options(fs, job->excludes, job->n_excludes, job->slim, &exclude);
        if (r < 0)
                return r;
        if (job->report)
                return print_report(fs, job, exclude, out);
        if (job->print_kernel) {
                r = print_kernel(fs, out);
                if (r < 0)
                        return r;
        }
        if (!job->output)
                return 0;
        return write_initrd(fs, job, exclude, out);
}
