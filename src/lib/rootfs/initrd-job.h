/* initrd-job.h — what `trustboot initrd` does with a root-filesystem source: write it as the
 * reproducible initrd (rootfs/initrd) to a file, atomically, optionally printing the file's
 * SHA-256 hashed in the same pass; print the path of the kernel it holds; or print the size
 * report (rootfs/report) and write nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rootfs/initrd.h"
#include "rootfs/rootfs.h"

typedef struct tb_initrd_job {
        const char *source;              /* dir:PATH, ocifile:FILE[:TAG], oci-layout:PATH[:TAG], … */
        const tb_rootfs_options *rootfs; /* how the source is opened */
        tb_initrd_options initrd;        /* its exclude, sink and sink_userdata are the job's own */
        const char *const *excludes;     /* --exclude patterns (rootfs/exclude) */
        size_t n_excludes;
        bool slim;
        const char *output;  /* where the initrd goes; NULL: written nowhere */
        bool print_kernel;   /* print "/PATH" of the source's kernel (before the initrd is written) */
        bool print_digest;   /* print "SHA256HEX  OUTPUT" once OUTPUT is in place */
        bool report;         /* print the size report instead; nothing is written */
        unsigned depth;      /* the report's directory depth */
        bool json;           /* the report as JSON */
} tb_initrd_job;

/* Does JOB, printing what it asks for to OUT; OUTPUT is replaced only once the whole initrd is
 * written. Logs what fails (and, on success, one line of what was written). */
int tb_initrd_job_run(const tb_initrd_job *job, FILE *out);
