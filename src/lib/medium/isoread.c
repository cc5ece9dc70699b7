/* isoread.c — files out of an ISO and its FAT boot image (see isoread.h). */
#include "medium/isoread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <libisofs/libisofs.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/exec.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

TB_DEFINE_CLEANUP(IsoImage *, iso_image_unref)
TB_DEFINE_CLEANUP(IsoDataSource *, iso_data_source_unref)
TB_DEFINE_CLEANUP(IsoReadOpts *, iso_read_opts_free)

int tb_isoread_extract(const char *iso, const char *path, const char *out) {
        _cleanup_(iso_image_unrefp) IsoImage *image = NULL;
        _cleanup_(iso_data_source_unrefp) IsoDataSource *src = NULL;
        _cleanup_(iso_read_opts_freep) IsoReadOpts *opts = NULL;
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *abs = realpath(iso, NULL);
        IsoNode *node = NULL;
        IsoStream *stream;
        char buf[65536];
        int r, n;

        if (!abs)
                return tb_log_errno(negative_errno(), "%s: cannot open", iso);
        r = iso_init();
        if (r < 0)
                return tb_log_errno(-EIO, "cannot initialize libisofs");
        iso_set_msgs_severities("NEVER", "FAILURE", "trustboot");
        if (iso_data_source_new_from_file(abs, &src) < 0 || iso_read_opts_new(&opts, 0) < 0 ||
            iso_image_new("", &image) < 0)
                return tb_log_oom();
        r = iso_image_import(image, src, opts, NULL);
        if (r < 0)
                return tb_log_errno(-EBADMSG, "%s: not a readable ISO 9660 image (%s)", iso, iso_error_to_msg(r));
        r = iso_tree_path_to_node(image, path, &node);
        if (r != 1 || !node || !ISO_NODE_IS_FILE(node))
                return tb_log_errno(-ENOENT, "%s: no file %s", iso, path);
        stream = iso_file_get_stream((IsoFile *)node);
        fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", out);
        if (iso_stream_open(stream) < 0)
                return tb_log_errno(-EIO, "%s: %s: cannot open", iso, path);
        while ((n = iso_stream_read(stream, buf, sizeof(buf))) > 0) {
                r = tb_write_all(fd, buf, (size_t)n);
                if (r < 0) {
                        iso_stream_close(stream);
                        return tb_log_errno(r, "%s: cannot write", out);
                }
        }
        iso_stream_close(stream);
        if (n < 0)
                return tb_log_errno(-EIO, "%s: %s: read error", iso, path);
        return 0;
}

int tb_isoread_fat_extract(const char *img, const char *dir) {
        int r;

        if (mkdir(dir, 0700) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", dir);
        /* "::/" copies the root's contents; -n never asks about existing files. */
        const char *const argv[] = { "mcopy", "-s", "-n", "-i", img, "::/", dir, NULL };
        r = tb_exec_checked(argv, NULL);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot copy the files out of the FAT image", img);
        return 0;
}
