#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/process.h"
#include "util/strset.h"
#include "vm/vmfw.h"
#include "vm/vmserial.h"

#define STDERR_KEEP ((size_t)64 * 1024)
#define PARTIAL_QUIET_MS 200 /* console silence after which an unterminated line is matched */

/* ---- small helpers ------------------------------------------------------------------------ */

/* QEMU option values are comma separated; a comma inside a path is written twice. */
static char *qemu_escape(const char *path) {
        size_t n = strlen(path), extra = 0;
        char *out, *p;

        for (const char *q = path; *q; q++)
                extra += *q == ',';
        out = malloc(n + extra + 1);
        if (!out)
                return NULL;
        p = out;
        for (const char *q = path; *q; q++) {
                *p++ = *q;
                if (*q == ',')
                        *p++ = ',';
        }
        *p = '\0';
        return out;
}

int tb_vm_parse_size(const char *s, uint64_t *ret) {
        unsigned long long v;
        unsigned shift = 0;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -EINVAL;
        switch (*end) {
        case '\0':
                break;
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        case 'T': case 't': shift = 40; break;
        default:
                return -EINVAL;
        }
        if (*end && end[1] != '\0' && !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0'))
                return -EINVAL;
        if (v == 0 || (shift && v > (UINT64_MAX >> shift)))
                return -ERANGE;
        *ret = (uint64_t)v << shift;
        return 0;
}

int tb_vm_parse_disk(const char *arg, char **ret_path, uint64_t *ret_size) {
        const char *colon = strrchr(arg, ':');
        uint64_t size = 0;
        char *path;

        if (colon && tb_vm_parse_size(colon + 1, &size) == 0)
                path = strndup(arg, (size_t)(colon - arg));
        else {
                size = 0;
                path = strdup(arg);
        }
        if (!path)
                return tb_log_oom();
        if (!*path) {
                free(path);
                return -EINVAL;
        }
        *ret_path = path;
        *ret_size = size;
        return 0;
}

const char *tb_vm_end_to_string(tb_vm_end e) {
        switch (e) {
        case TB_VM_END_EXPECT_MATCHED: return "expect matched";
        case TB_VM_END_POWEROFF: return "guest powered off";
        case TB_VM_END_RESET: return "guest reset (firmware or guest rebooted)";
        case TB_VM_END_TIMEOUT: return "timeout";
        case TB_VM_END_REFUSED: return "refused by firmware";
        case TB_VM_END_QEMU_FAILED: return "qemu failed";
        case TB_VM_END_SIGNAL: return "interrupted";
        case TB_VM_END_CONSOLE_QUIT: return "console closed";
        }
        return "?";
}

bool tb_vm_succeeded(const tb_vm_config *c, const tb_vm_result *res) {
        switch (res->end) {
        case TB_VM_END_EXPECT_MATCHED:
        case TB_VM_END_CONSOLE_QUIT:
                return true;
        case TB_VM_END_POWEROFF:
        case TB_VM_END_RESET:
                return !c->expect;
        default:
                return false;
        }
}

int tb_vm_describe(const tb_vm_config *c, const tb_vm_result *res, char **ret) {
        const char *what = tb_vm_end_to_string(res->end);
        int n;

        if ((res->end == TB_VM_END_POWEROFF || res->end == TB_VM_END_RESET) && c->expect)
                n = asprintf(ret, "%s after %.1f s without matching '%s'", what, res->seconds, c->expect);
        else
                n = asprintf(ret, "%s after %.1f s%s%s", what, res->seconds, res->detail[0] ? ": " : "", res->detail);
        if (n < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* ---- processes ---------------------------------------------------------------------------- */

static int listen_unix(const char *path, int *ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 2) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        *ret = fd;
        return 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct vm_run {
        const tb_vm_config *c;
        tb_vm_result *res;
        char *rundir;
        char *vars_path;
        char *tpm_dir;
        tb_vmfw fw;
        const char *accel;
        int sigfd, serial_rd, err_rd, in_wr, qmp_listen, qmp_fd, tpm_listen, serial_file;
        pid_t qemu, swtpm;
        sigset_t old_mask;
        struct sigaction old_pipe;
        bool signals_set;
        tb_buf err;   /* qemu's stderr, first STDERR_KEEP bytes */
        tb_buf qmp;   /* partial QMP line */
        char shutdown_reason[64];
        tb_vmserial *scan;
} vm_run;

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static int setup_firmware(vm_run *v) {
        const tb_vm_config *c = v->c;
        const char *tmpl;
        int r;

        if (c->firmware_code) {
                if (access(c->firmware_code, R_OK) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot read firmware", c->firmware_code);
                v->fw.code = strdup(c->firmware_code);
                if (!v->fw.code)
                        return tb_log_oom();
                if (!c->vars_template && tb_vmfw_vars_for_code(c->firmware_code, &v->fw.vars) < 0) {
                        tb_err("%s: no empty variable store known beside it; give --vars-template", c->firmware_code);
                        return -ENOENT;
                }
        } else {
                r = tb_vmfw_find(NULL, &v->fw);
                if (r == -ENOENT) {
                        tb_err("no OVMF Secure Boot firmware found (looked in /usr/share/OVMF, /usr/share/edk2/ovmf, "
                               "/usr/share/edk2/x64, /usr/share/edk2-ovmf/x64); install ovmf or edk2-ovmf");
                        return r;
                }
                if (r < 0)
                        return r;
        }
        tmpl = c->vars_template ? c->vars_template : v->fw.vars;

        if (c->vars) {
                v->vars_path = strdup(c->vars);
                if (!v->vars_path)
                        return tb_log_oom();
                if (c->reset_vars || !tb_path_exists(c->vars))
                        return tb_copy_file(tmpl, c->vars, 0600, true);
                return 0;
        }
        v->vars_path = tb_path_join(v->rundir, "vars.fd");
        if (!v->vars_path)
                return tb_log_oom();
        return tb_copy_file(tmpl, v->vars_path, 0600, true);
}

static int setup_disk(const tb_vm_disk *d) {
        _cleanup_(closep) int fd = -1;

        if (tb_path_exists(d->path))
                return 0;
        if (d->size == 0) {
                tb_err("%s: does not exist; give a size to create it (--disk %s:8G)", d->path, d->path);
                return -ENOENT;
        }
        fd = open(d->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create disk", d->path);
        if (ftruncate(fd, (off_t)d->size) < 0) {
                int r = negative_errno();
                unlink(d->path);
                return tb_log_errno(r, "%s: cannot set size", d->path);
        }
        return 0;
}

static int medium_args(vm_run *v, char ***a, size_t *n) {
        const tb_vm_config *c = v->c;
        _cleanup_(freep) char *esc = qemu_escape(c->medium);
        tb_vm_media media = c->media;
        struct stat st;
        int r = 0;

        if (!esc)
                return tb_log_oom();
        if (stat(c->medium, &st) < 0)
                return tb_log_errno(negative_errno(), "%s: cannot use as boot medium", c->medium);

        if (S_ISDIR(st.st_mode)) {
                /* vvfat; writes (systemd-boot's random seed) go to a throw-away overlay, never
                 * into the directory. */
                r = tb_strv_pushf(a, n, "-drive") ?: tb_strv_pushf(a, n, "if=none,id=medium,format=raw,snapshot=on,file=fat:%s", esc);
                if (r < 0)
                        return r;
                if (media == TB_VM_MEDIA_USB)
                        return tb_strv_pushf(a, n, "-device") ?: tb_strv_pushf(a, n, "qemu-xhci,id=xhci") ?: tb_strv_pushf(a, n, "-device") ?:
                               tb_strv_pushf(a, n, "usb-storage,bus=xhci.0,drive=medium,removable=on,bootindex=1");
                return tb_strv_pushf(a, n, "-device") ?: tb_strv_pushf(a, n, "ide-hd,drive=medium,bootindex=1");
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
                tb_err("%s: not an image file, block device or directory", c->medium);
                return -EINVAL;
        }
        if (media == TB_VM_MEDIA_AUTO) {
                _cleanup_(closep) int fd = open(c->medium, O_RDONLY | O_CLOEXEC);
                char magic[5] = { 0 };

                if (fd < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot open", c->medium);
                media = tb_pread_full(fd, magic, 5, 0x8001) == 0 && memcmp(magic, "CD001", 5) == 0
                                ? TB_VM_MEDIA_CDROM
                                : TB_VM_MEDIA_USB;
        }
        if (media == TB_VM_MEDIA_CDROM)
                return tb_strv_pushf(a, n, "-drive") ?:
                       tb_strv_pushf(a, n, "if=none,id=medium,media=cdrom,readonly=on,format=raw,file=%s", esc) ?:
                       tb_strv_pushf(a, n, "-device") ?: tb_strv_pushf(a, n, "ide-cd,drive=medium,bootindex=1");
        /* A USB stick that the guest may write to without touching the image. */
        return tb_strv_pushf(a, n, "-drive") ?: tb_strv_pushf(a, n, "if=none,id=medium,format=raw,snapshot=on,file=%s", esc) ?:
               tb_strv_pushf(a, n, "-device") ?: tb_strv_pushf(a, n, "qemu-xhci,id=xhci") ?: tb_strv_pushf(a, n, "-device") ?:
               tb_strv_pushf(a, n, "usb-storage,bus=xhci.0,drive=medium,removable=on,bootindex=1");
}

static int qemu_args(vm_run *v, char ***a, size_t *n) {
        const tb_vm_config *c = v->c;
        _cleanup_(freep) char *code = qemu_escape(v->fw.code);
        _cleanup_(freep) char *vars = qemu_escape(v->vars_path);
        _cleanup_(freep) char *run = qemu_escape(v->rundir);
        int r;

        if (!code || !vars || !run)
                return tb_log_oom();
        r = tb_strv_pushf(a, n, "qemu-system-x86_64") ?: tb_strv_pushf(a, n, "-name") ?: tb_strv_pushf(a, n, "trustboot-vm") ?:
            tb_strv_pushf(a, n, "-nodefaults") ?: tb_strv_pushf(a, n, "-no-user-config") ?: tb_strv_pushf(a, n, "-display") ?:
            tb_strv_pushf(a, n, "none") ?: tb_strv_pushf(a, n, "-no-reboot") ?: tb_strv_pushf(a, n, "-machine") ?:
            tb_strv_pushf(a, n, "q35,smm=on") ?: tb_strv_pushf(a, n, "-accel") ?: tb_strv_pushf(a, n, "%s", v->accel) ?:
            tb_strv_pushf(a, n, "-m") ?: tb_strv_pushf(a, n, "%" PRIu64, c->memory_mib) ?: tb_strv_pushf(a, n, "-smp") ?:
            tb_strv_pushf(a, n, "%u", c->cpus ? c->cpus : strcmp(v->accel, "kvm") == 0 ? 2 : 1) ?:
            /* The Secure Boot code requires SMM, and the variable flash must be SMM-only. */
            tb_strv_pushf(a, n, "-global") ?: tb_strv_pushf(a, n, "driver=cfi.pflash01,property=secure,value=on") ?:
            tb_strv_pushf(a, n, "-global") ?: tb_strv_pushf(a, n, "ICH9-LPC.disable_s3=1") ?: tb_strv_pushf(a, n, "-drive") ?:
            tb_strv_pushf(a, n, "if=pflash,format=raw,unit=0,readonly=on,file=%s", code) ?: tb_strv_pushf(a, n, "-drive") ?:
            tb_strv_pushf(a, n, "if=pflash,format=raw,unit=1,file=%s", vars) ?:
            /* Serial on qemu's stdio (our pipes), QMP on a socket we listen on. */
            tb_strv_pushf(a, n, "-chardev") ?: tb_strv_pushf(a, n, "stdio,id=serial0,signal=off") ?: tb_strv_pushf(a, n, "-serial") ?:
            tb_strv_pushf(a, n, "chardev:serial0") ?: tb_strv_pushf(a, n, "-chardev") ?:
            tb_strv_pushf(a, n, "socket,id=qmp,path=%s/qmp.sock", run) ?: tb_strv_pushf(a, n, "-mon") ?:
            tb_strv_pushf(a, n, "chardev=qmp,mode=control");
        if (r < 0)
                return r;
        if (!c->no_tpm) {
                r = tb_strv_pushf(a, n, "-chardev") ?: tb_strv_pushf(a, n, "socket,id=chrtpm,path=%s/swtpm.sock", run) ?:
                    tb_strv_pushf(a, n, "-tpmdev") ?: tb_strv_pushf(a, n, "emulator,id=tpm0,chardev=chrtpm") ?:
                    /* CRB: about 2 s faster than TIS under TCG, and both OVMF and Linux drive it. */
                    tb_strv_pushf(a, n, "-device") ?: tb_strv_pushf(a, n, "tpm-crb,tpmdev=tpm0");
                if (r < 0)
                        return r;
        }
        r = medium_args(v, a, n);
        if (r < 0)
                return r;
        /* Boot order: the medium (bootindex 1), then the disks in the order given. */
        for (size_t i = 0; i < c->n_disks && r >= 0; i++) {
                _cleanup_(freep) char *disk = qemu_escape(c->disks[i].path);

                if (!disk)
                        return tb_log_oom();
                r = tb_strv_pushf(a, n, "-drive") ?:
                    tb_strv_pushf(a, n, "if=none,id=disk%zu,format=raw,discard=unmap,file=%s", i, disk) ?:
                    tb_strv_pushf(a, n, "-device") ?: tb_strv_pushf(a, n, "virtio-blk-pci,drive=disk%zu,bootindex=%zu", i, i + 2);
        }
        return r;
}

static int start_swtpm(vm_run *v) {
        const tb_vm_config *c = v->c;
        _cleanup_(freep) char *sock = tb_path_join(v->rundir, "swtpm.sock");
        _cleanup_(freep) char *log = tb_path_join(v->rundir, "swtpm.log");
        _cleanup_(closep) int err_fd = -1, null_fd = -1;
        _cleanup_(tb_strv_freep) char **a = NULL;
        size_t n = 0;
        int r;

        if (!sock || !log)
                return tb_log_oom();
        if (c->tpm_state) {
                struct stat st;

                if (mkdir(c->tpm_state, 0700) < 0 && errno != EEXIST)
                        return tb_log_errno(negative_errno(), "%s: cannot create TPM state directory", c->tpm_state);
                if (stat(c->tpm_state, &st) < 0 || !S_ISDIR(st.st_mode))
                        return tb_log_errno(-ENOTDIR, "%s: cannot use as TPM state directory", c->tpm_state);
                v->tpm_dir = strdup(c->tpm_state);
        } else {
                v->tpm_dir = tb_path_join(v->rundir, "tpm");
                if (v->tpm_dir && mkdir(v->tpm_dir, 0700) < 0)
                        return tb_log_errno(negative_errno(), "%s: cannot create", v->tpm_dir);
        }
        if (!v->tpm_dir)
                return tb_log_oom();
        /* We bind the socket and hand it over: it exists before qemu starts, no polling. */
        r = listen_unix(sock, &v->tpm_listen);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot listen", sock);
        err_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (err_fd < 0)
                return tb_log_errno(negative_errno(), "%s: cannot create", log);
        _cleanup_(freep) char *state = qemu_escape(v->tpm_dir);
        if (!state)
                return tb_log_oom();
        r = tb_strv_pushf(&a, &n, "swtpm") ?: tb_strv_pushf(&a, &n, "socket") ?: tb_strv_pushf(&a, &n, "--tpm2") ?:
            tb_strv_pushf(&a, &n, "--tpmstate") ?: tb_strv_pushf(&a, &n, "dir=%s", state) ?: tb_strv_pushf(&a, &n, "--ctrl") ?:
            tb_strv_pushf(&a, &n, "type=unixio,fd=3") ?: tb_strv_pushf(&a, &n, "--terminate");
        if (r < 0)
                return r;
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return negative_errno();
        r = tb_spawn(a, null_fd, err_fd, err_fd, v->tpm_listen, &v->old_mask, &v->swtpm);
        if (r < 0)
                return tb_log_errno(r, "cannot run swtpm");
        v->res->swtpm_pid = v->swtpm;
        tb_debug("started swtpm (pid %d), state %s", (int)v->swtpm, v->tpm_dir);
        close_fd(&v->tpm_listen);
        return 0;
}

static int start_qemu(vm_run *v) {
        _cleanup_(tb_strv_freep) char **a = NULL;
        size_t n = 0;
        _cleanup_(freep) char *qmp = tb_path_join(v->rundir, "qmp.sock");
        int in[2] = { -1, -1 }, out[2], err[2], r;

        if (!qmp)
                return tb_log_oom();
        r = listen_unix(qmp, &v->qmp_listen);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot listen", qmp);
        r = qemu_args(v, &a, &n);
        if (r < 0)
                return r;
        if (v->c->console_in >= 0) {
                if (pipe2(in, O_CLOEXEC) < 0)
                        return negative_errno();
        } else {
                in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (in[0] < 0)
                        return negative_errno();
        }
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = negative_errno();
                close(in[0]);
                if (in[1] >= 0)
                        close(in[1]);
                return r;
        }
        if (pipe2(err, O_CLOEXEC) < 0) {
                r = negative_errno();
                close(in[0]);
                if (in[1] >= 0)
                        close(in[1]);
                close(out[0]);
                close(out[1]);
                return r;
        }
        if (tb_log_get_level() >= TB_LOG_DEBUG) {
                _cleanup_(tb_buf_freep) tb_buf line = TB_BUF_INIT;
                for (size_t i = 0; i < n; i++)
                        if (tb_buf_append(&line, " ", i > 0) < 0 || tb_buf_append(&line, a[i], strlen(a[i])) < 0)
                                return tb_log_oom();
                if (tb_buf_append_zero(&line, 1) < 0)
                        return tb_log_oom();
                tb_debug("%s", (const char *)line.data);
        }
        r = tb_spawn(a, in[0], out[1], err[1], -1, &v->old_mask, &v->qemu);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        v->in_wr = in[1];
        v->serial_rd = out[0];
        v->err_rd = err[0];
        if (r < 0)
                return tb_log_errno(r, "cannot run qemu-system-x86_64");
        v->res->qemu_pid = v->qemu;
        tb_debug("started qemu (pid %d, %s)", (int)v->qemu, v->accel);
        fcntl(v->serial_rd, F_SETFL, O_NONBLOCK);
        fcntl(v->err_rd, F_SETFL, O_NONBLOCK);
        return 0;
}

static int write_pid_file(vm_run *v) {
        char text[64];
        int n, r;

        if (!v->c->pid_file)
                return 0;
        n = snprintf(text, sizeof(text), "qemu %d\nswtpm %d\n", (int)v->qemu, (int)v->swtpm);
        r = tb_write_file_atomic(v->c->pid_file, text, (size_t)n, 0644, true);
        if (r < 0)
                return tb_log_errno(r, "%s: cannot write", v->c->pid_file);
        return 0;
}

static void set_end(vm_run *v, tb_vm_end end, const char *detail) {
        v->res->end = end;
        snprintf(v->res->detail, sizeof(v->res->detail), "%s", detail ? detail : "");
}

/* Serial bytes: copy them out, then look for the marker or a refusal. True when the VM ends. */
static bool on_serial(vm_run *v, const char *buf, size_t n) {
        char line[sizeof(v->res->detail)];
        tb_vmserial_event ev;

        if (v->serial_file >= 0 && tb_write_all(v->serial_file, buf, n) < 0) {
                tb_warn("%s: cannot write serial output: %m", v->c->serial_path);
                close_fd(&v->serial_file);
        }
        if (v->c->console_out >= 0)
                (void)tb_write_all(v->c->console_out, buf, n);
        ev = tb_vmserial_feed(v->scan, buf, n, line, sizeof(line));
        if (ev == TB_VMSERIAL_MATCHED)
                set_end(v, TB_VM_END_EXPECT_MATCHED, line);
        else if (ev == TB_VMSERIAL_REFUSED)
                set_end(v, TB_VM_END_REFUSED, line);
        return ev != TB_VMSERIAL_NONE;
}

/* Returns >0 at the end of the stream (EOF or a read error), 0 when drained for now. */
static int read_serial(vm_run *v, bool *ended) {
        char buf[4096];

        for (;;) {
                ssize_t n = read(v->serial_rd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        return 1;
                if (on_serial(v, buf, (size_t)n)) {
                        *ended = true;
                        return 0;
                }
        }
}

static void read_stderr(vm_run *v) {
        char buf[4096];
        ssize_t n;

        while ((n = read(v->err_rd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
                if (n > 0 && v->err.len < STDERR_KEEP)
                        (void)tb_buf_append(&v->err, buf, MIN((size_t)n, STDERR_KEEP - v->err.len));
                if (n > 0 && tb_log_get_level() >= TB_LOG_DEBUG)
                        (void)!write(STDERR_FILENO, buf, (size_t)n);
        }
        if (n == 0)
                close_fd(&v->err_rd);
}

/* QMP: the greeting, our capabilities negotiation, then one JSON object per line. We only care
 * about SHUTDOWN's reason, which is what tells a guest poweroff from a reset. */
static void read_qmp(vm_run *v) {
        char buf[2048];

        for (;;) {
                ssize_t n = read(v->qmp_fd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        close_fd(&v->qmp_fd);
                        break;
                }
                if (tb_buf_append(&v->qmp, buf, (size_t)n) < 0)
                        return;
        }
        for (;;) {
                uint8_t *nl = v->qmp.len ? memchr(v->qmp.data, '\n', v->qmp.len) : NULL;
                size_t len;

                if (!nl)
                        break;
                len = (size_t)(nl - v->qmp.data);
                *nl = '\0';
                json_object *o = json_tokener_parse((const char *)v->qmp.data), *ev, *data, *reason;
                if (o) {
                        if (json_object_object_get_ex(o, "QMP", NULL) && v->qmp_fd >= 0) {
                                static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
                                (void)!send(v->qmp_fd, caps, sizeof(caps) - 1, MSG_NOSIGNAL);
                        } else if (json_object_object_get_ex(o, "event", &ev) &&
                                   strcmp(json_object_get_string(ev), "SHUTDOWN") == 0 &&
                                   json_object_object_get_ex(o, "data", &data) &&
                                   json_object_object_get_ex(data, "reason", &reason)) {
                                snprintf(v->shutdown_reason, sizeof(v->shutdown_reason), "%s",
                                         json_object_get_string(reason));
                        }
                        json_object_put(o);
                }
                memmove(v->qmp.data, nl + 1, v->qmp.len - len - 1);
                v->qmp.len -= len + 1;
        }
}

/* Console keystrokes go to the guest; the escape byte ends the session. */
static bool read_console(vm_run *v) {
        char buf[256];
        ssize_t n = read(v->c->console_in, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
                return false;
        if (n <= 0) {
                close_fd(&v->in_wr); /* the guest sees no more input; keep running */
                return false;
        }
        if (v->c->console_escape >= 0 && memchr(buf, v->c->console_escape, (size_t)n)) {
                set_end(v, TB_VM_END_CONSOLE_QUIT, "");
                return true;
        }
        if (v->in_wr >= 0 && tb_write_all(v->in_wr, buf, (size_t)n) < 0)
                close_fd(&v->in_wr);
        return false;
}

static void first_line(const tb_buf *b, char *out, size_t size) {
        const char *s = (const char *)b->data;
        size_t len = b->len, n;

        /* qemu prefixes its messages with "qemu-system-x86_64: "; keep the message. */
        while (len > 0 && (*s == '\n' || *s == '\r'))
                s++, len--;
        n = 0;
        while (n < len && s[n] != '\n')
                n++;
        snprintf(out, size, "%.*s", (int)n, s ? s : "");
}

/* qemu is gone: tell why from the serial tail, the QMP event and its exit status. */
static void qemu_exited(vm_run *v, int status) {
        char line[sizeof(v->res->detail)];
        bool ended = false;

        if (v->serial_rd >= 0)
                (void)read_serial(v, &ended);
        if (ended)
                return;
        if (tb_vmserial_flush(v->scan, line, sizeof(line)) == TB_VMSERIAL_MATCHED) {
                set_end(v, TB_VM_END_EXPECT_MATCHED, line);
                return;
        }
        if (v->qmp_fd >= 0)
                read_qmp(v);
        if (v->err_rd >= 0)
                read_stderr(v);
        if (strcmp(v->shutdown_reason, "guest-reset") == 0)
                set_end(v, TB_VM_END_RESET, "");
        else if (strcmp(v->shutdown_reason, "guest-panic") == 0)
                set_end(v, TB_VM_END_RESET, "guest panic");
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                set_end(v, TB_VM_END_POWEROFF, "");
        else {
                char msg[sizeof(v->res->detail)], why[sizeof(v->res->detail)] = "";

                first_line(&v->err, msg, sizeof(msg));
                if (strstr(msg, "tpm-emulator")) {
                        /* qemu only says that the TPM failed; swtpm's own words say why. */
                        _cleanup_(tb_buf_freep) tb_buf log = TB_BUF_INIT;
                        _cleanup_(freep) char *path = tb_path_join(v->rundir, "swtpm.log");

                        if (path && tb_read_file(path, 4096, &log) >= 0)
                                first_line(&log, why, sizeof(why));
                }
                if (!msg[0])
                        snprintf(msg, sizeof(msg), WIFEXITED(status) ? "exit status %d" : "killed by signal %d",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                v->res->end = TB_VM_END_QEMU_FAILED;
                snprintf(v->res->detail, sizeof(v->res->detail), "%.300s%s%.150s%s", msg, why[0] ? " (swtpm: " : "",
                         why, why[0] ? ")" : "");
        }
}

static void supervise(vm_run *v) {
        const tb_vm_config *c = v->c;
        double start = tb_monotonic_s(), deadline = c->timeout_s ? start + c->timeout_s : 0;

        for (;;) {
                struct pollfd p[6] = {
                        { v->sigfd, POLLIN, 0 },
                        { v->serial_rd, POLLIN, 0 },
                        { v->err_rd, POLLIN, 0 },
                        { v->qmp_fd >= 0 ? v->qmp_fd : v->qmp_listen, POLLIN, 0 },
                        { v->in_wr >= 0 ? c->console_in : -1, POLLIN, 0 },
                };
                bool partial = tb_vmserial_pending(v->scan);
                int timeout = partial ? PARTIAL_QUIET_MS : -1, status, n;

                if (deadline) {
                        double left = deadline - tb_monotonic_s();
                        if (left <= 0) {
                                char d[64];
                                snprintf(d, sizeof(d), "no match within %u s", c->timeout_s);
                                set_end(v, TB_VM_END_TIMEOUT, c->expect ? d : "");
                                break;
                        }
                        if (timeout < 0 || left * 1000 < timeout)
                                timeout = (int)(left * 1000) + 1;
                }
                n = poll(p, 5, timeout);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        set_end(v, TB_VM_END_QEMU_FAILED, "poll failed");
                        break;
                }
                if (n == 0 && partial) {
                        char line[sizeof(v->res->detail)];
                        if (tb_vmserial_check_partial(v->scan, line, sizeof(line)) == TB_VMSERIAL_MATCHED) {
                                set_end(v, TB_VM_END_EXPECT_MATCHED, line);
                                break;
                        }
                }
                if (p[0].revents) {
                        struct signalfd_siginfo si;
                        bool stop = false;

                        while (read(v->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        continue;
                                char d[32];
                                snprintf(d, sizeof(d), "received SIG%s", sigabbrev_np((int)si.ssi_signo) ?: "?");
                                set_end(v, TB_VM_END_SIGNAL, d);
                                stop = true;
                        }
                        if (stop)
                                break;
                        if (waitpid(v->qemu, &status, WNOHANG) == v->qemu) {
                                v->qemu = 0;
                                qemu_exited(v, status);
                                break;
                        }
                }
                if (p[1].revents) {
                        bool ended = false;
                        if (read_serial(v, &ended) > 0)
                                close_fd(&v->serial_rd);
                        if (ended)
                                break;
                }
                if (p[2].revents)
                        read_stderr(v);
                if (p[3].revents) {
                        if (v->qmp_fd >= 0)
                                read_qmp(v);
                        else {
                                v->qmp_fd = accept4(v->qmp_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                                close_fd(&v->qmp_listen);
                        }
                }
                if (p[4].revents && read_console(v))
                        break;
        }
        v->res->seconds = tb_monotonic_s() - start;
}

static void vm_run_done(vm_run *v) {
        if (v->qemu > 0)
                tb_process_stop(&v->qemu, 5, NULL);
        /* swtpm leaves by itself once qemu has closed the control channel. */
        if (v->swtpm > 0) {
                int st;
                if (!tb_process_wait(v->swtpm, 2, &st))
                        tb_process_stop(&v->swtpm, 2, NULL);
                v->swtpm = 0;
        }
        close_fd(&v->sigfd);
        close_fd(&v->serial_rd);
        close_fd(&v->err_rd);
        close_fd(&v->in_wr);
        close_fd(&v->qmp_listen);
        close_fd(&v->qmp_fd);
        close_fd(&v->tpm_listen);
        close_fd(&v->serial_file);
        if (v->signals_set) {
                sigprocmask(SIG_SETMASK, &v->old_mask, NULL);
                sigaction(SIGPIPE, &v->old_pipe, NULL);
        }
        if (v->rundir)
                tb_rm_rf(v->rundir);
        if (v->scan)
                tb_vmserial_free(v->scan);
        tb_buf_free(&v->err);
        tb_buf_free(&v->qmp);
        tb_vmfw_done(&v->fw);
        free(v->rundir);
        free(v->vars_path);
        free(v->tpm_dir);
}

static int make_rundir(char **ret) {
        const char *tmp = tb_tmpdir_default();

        /* Socket paths must fit sockaddr_un (108 bytes): fall back to /tmp for a deep TMPDIR. */
        if (strlen(tmp) > 60)
                tmp = "/tmp";
        return tb_workdir_create(tmp, "trustboot-vm", ret);
}

int tb_vm_run(const tb_vm_config *c, tb_vm_result *ret) {
        vm_run v = {
                .c = c, .res = ret, .sigfd = -1, .serial_rd = -1, .err_rd = -1, .in_wr = -1,
                .qmp_listen = -1, .qmp_fd = -1, .tpm_listen = -1, .serial_file = -1,
                .err = TB_BUF_INIT, .qmp = TB_BUF_INIT,
        };
        struct sigaction ign = { .sa_handler = SIG_IGN };
        sigset_t mask;
        int r;

        *ret = (tb_vm_result){ 0 };
        r = tb_vmserial_new(c->expect, &v.scan);
        if (r == -EINVAL) {
                tb_err("--expect: '%s' is not a valid extended regular expression", c->expect);
                goto out;
        }
        if (r < 0)
                goto out;
        switch (c->accel) {
        case TB_VM_ACCEL_TCG: v.accel = "tcg"; break;
        case TB_VM_ACCEL_KVM: v.accel = "kvm"; break;
        case TB_VM_ACCEL_AUTO: v.accel = tb_vmfw_kvm_usable() ? "kvm" : "tcg"; break;
        }
        ret->accel = v.accel;
        r = make_rundir(&v.rundir);
        if (r < 0)
                goto out;
        r = setup_firmware(&v);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < c->n_disks && r >= 0; i++)
                r = setup_disk(&c->disks[i]);
        if (r < 0)
                goto out;
        if (c->serial_path) {
                v.serial_file = open(c->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (v.serial_file < 0) {
                        r = tb_log_errno(negative_errno(), "%s: cannot create", c->serial_path);
                        goto out;
                }
        }

        /* From here on signals are events in the poll loop; children get the old mask back. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, &v.old_mask);
        sigaction(SIGPIPE, &ign, &v.old_pipe);
        v.signals_set = true;
        v.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (v.sigfd < 0) {
                r = tb_log_errno(negative_errno(), "signalfd");
                goto out;
        }

        if (!c->no_tpm) {
                r = start_swtpm(&v);
                if (r < 0)
                        goto out;
        }
        r = start_qemu(&v);
        if (r < 0)
                goto out;
        r = write_pid_file(&v);
        if (r < 0)
                goto out;
        supervise(&v);
out:
        vm_run_done(&v);
        return r < 0 ? r : 0;
}
