/* vm.h — boot a medium in QEMU with Secure Boot OVMF and a software TPM, watch its serial
 * console, stop every process it started, and say why the VM ended. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum tb_vm_media {
        TB_VM_MEDIA_AUTO,  /* an ISO 9660 image: CD-ROM; another file: USB; a directory: FAT disk */
        TB_VM_MEDIA_CDROM,
        TB_VM_MEDIA_USB,
} tb_vm_media;

typedef enum tb_vm_accel {
        TB_VM_ACCEL_AUTO, /* KVM if a probe guest runs on it, else TCG */
        TB_VM_ACCEL_TCG,
        TB_VM_ACCEL_KVM,
} tb_vm_accel;

/* A virtio disk, raw; the first one is the guest's /dev/vda. */
typedef struct tb_vm_disk {
        const char *path;
        uint64_t size; /* create PATH sparse with this size when missing (0: must exist) */
} tb_vm_disk;

#define TB_VM_MAX_DISKS 4

typedef struct tb_vm_config {
        const char *medium;         /* image file, or a directory served as a FAT drive */
        tb_vm_media media;
        tb_vm_disk disks[TB_VM_MAX_DISKS];
        size_t n_disks;
        const char *firmware_code;  /* OVMF Secure Boot code; NULL: search the distribution layouts */
        const char *vars_template;  /* NULL: the empty variable store that goes with the code */
        const char *vars;           /* persisted variable store; NULL: a private copy of the template */
        bool reset_vars;            /* start VARS (or the private copy) from the template: setup mode */
        const char *tpm_state;      /* persisted swtpm state dir; NULL: a fresh private one */
        bool no_tpm;
        uint64_t memory_mib;
        unsigned cpus;              /* 0: 1 under TCG (a second vCPU slows OVMF down a lot), 2 with KVM */
        tb_vm_accel accel;
        const char *serial_path;    /* copy of the raw serial output */
        unsigned timeout_s;         /* 0: none */
        const char *expect;         /* POSIX extended regex matched against each serial line */
        int console_in;             /* -1, or bytes typed into the serial console */
        int console_out;            /* -1, or where the serial output is shown */
        int console_escape;         /* byte on console_in that ends the session (-1: none) */
        const char *pid_file;       /* "qemu PID" and "swtpm PID" lines, written once both run */
} tb_vm_config;

#define TB_VM_CONFIG_INIT                                                                   \
        {                                                                                   \
                .memory_mib = 1024, .console_in = -1, .console_out = -1,          \
                .console_escape = -1,                                                       \
        }

typedef enum tb_vm_end {
        TB_VM_END_EXPECT_MATCHED,
        TB_VM_END_POWEROFF,
        TB_VM_END_RESET,        /* -no-reboot turns a guest or firmware reset into an exit */
        TB_VM_END_TIMEOUT,
        TB_VM_END_REFUSED,      /* the firmware would not run the boot image */
        TB_VM_END_QEMU_FAILED,
        TB_VM_END_SIGNAL,       /* we got SIGINT/SIGTERM/SIGHUP */
        TB_VM_END_CONSOLE_QUIT, /* the console escape byte */
} tb_vm_end;

typedef struct tb_vm_result {
        tb_vm_end end;
        char detail[512]; /* the matched/refusal line, qemu's first stderr line, the signal */
        double seconds;   /* from qemu's start */
        pid_t qemu_pid, swtpm_pid;
        const char *accel;
} tb_vm_result;

/* Runs the VM to its end. Returns 0 with RET filled whenever the VM was started (whatever the
 * end), or a negative errno, logged, when it could not be set up. Every child is reaped before
 * returning; SIGINT, SIGTERM and SIGHUP are handled (as an end) while it runs. */
int tb_vm_run(const tb_vm_config *c, tb_vm_result *ret);

/* "expect matched", "guest powered off", … */
const char *tb_vm_end_to_string(tb_vm_end e);

/* The verdict on a run: success when C->expect matched, the console was closed, or (without
 * C->expect) the guest powered off or reset; every other end is a failure. */
bool tb_vm_succeeded(const tb_vm_config *c, const tb_vm_result *res);

/* The one line that says how the run ended: "END after S s[: DETAIL]", or for a power-off or a
 * reset that C->expect did not see "END after S s without matching 'REGEX'". Malloc'ed in *RET;
 * 0 or -ENOMEM (not logged). */
int tb_vm_describe(const tb_vm_config *c, const tb_vm_result *res, char **ret);

/* "8G", "512M", "1048576" (bytes, K/M/G/T are powers of 1024) -> bytes. */
int tb_vm_parse_size(const char *s, uint64_t *ret);

/* Splits "FILE[:SIZE]": the suffix counts as SIZE only when it parses as one. */
int tb_vm_parse_disk(const char *arg, char **ret_path, uint64_t *ret_size);
