/* src/cli/vm.c — `trustboot vm MEDIUM`: boot a medium under Secure Boot OVMF with a software TPM. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "util/log.h"
#include "util/strset.h"
#include "vm/vm.h"

static const char synopsis[] =
        "Usage: trustboot vm MEDIUM [OPTIONS]\n"
        "\n"
        "Boot MEDIUM (an ISO, a disk image, or a directory served as a FAT drive) in QEMU with OVMF\n"
        "Secure Boot firmware and a software TPM (swtpm), and report in one line why the VM ended.\n"
        "\n";

static const char epilog[] =
        "Without --vars or --setup-mode the VM gets a private copy of the empty store, discarded at the\n"
        "end. The firmware's refusal of the boot image (\"Access Denied\") stops the VM at once.\n"
        "Exit status: 0 when REGEX matched (or, without --expect, when the guest powered off or reset),\n"
        "1 on timeout, refusal, qemu failure or interruption, 2 on usage errors.\n";

/* What the option callbacks fill: the VM configuration and the disk paths it points into. */
struct vm_args {
        tb_vm_config c;
        char **disk_paths;
};

static int set_media(tb_vm_config *c, const char *cmd, enum tb_vm_media m) {
        if (c->media != TB_VM_MEDIA_AUTO)
                return cli_usage_error(cmd, "--cdrom and --usb exclude each other");
        c->media = m;
        return 0;
}

static int parse_cdrom(const char *cmd, const char *arg, void *target) {
        (void)arg;
        return set_media(target, cmd, TB_VM_MEDIA_CDROM);
}

static int parse_usb(const char *cmd, const char *arg, void *target) {
        (void)arg;
        return set_media(target, cmd, TB_VM_MEDIA_USB);
}

static int parse_disk(const char *cmd, const char *arg, void *target) {
        struct vm_args *a = target;
        tb_vm_disk *d = &a->c.disks[a->c.n_disks];

        if (a->c.n_disks == TB_VM_MAX_DISKS)
                return cli_usage_error(cmd, "at most %d --disk", TB_VM_MAX_DISKS);
        if (tb_vm_parse_disk(arg, &a->disk_paths[a->c.n_disks], &d->size) < 0)
                return cli_usage_error(cmd, "--disk: '%s' is not FILE or FILE:SIZE", arg);
        d->path = a->disk_paths[a->c.n_disks++];
        return 0;
}

static int parse_memory(const char *cmd, const char *arg, void *target) {
        uint64_t *mib = target, v;

        if (cli_parse_u64(arg, 64, 1u << 20, &v) == 0)
                *mib = v;
        else if (tb_vm_parse_size(arg, &v) == 0 && v >= (64u << 20) && v <= (1ull << 40))
                *mib = v >> 20;
        else
                return cli_usage_error(cmd, "--memory: '%s' is not a size from 64M to 1T", arg);
        return 0;
}

static int parse_accel(const char *cmd, const char *arg, void *target) {
        enum tb_vm_accel *accel = target;

        if (strcmp(arg, "auto") == 0)
                *accel = TB_VM_ACCEL_AUTO;
        else if (strcmp(arg, "tcg") == 0)
                *accel = TB_VM_ACCEL_TCG;
        else if (strcmp(arg, "kvm") == 0)
                *accel = TB_VM_ACCEL_KVM;
        else
                return cli_usage_error(cmd, "--accel: '%s' is not auto, tcg or kvm", arg);
        return 0;
}

static int parse_expect(const char *cmd, const char *arg, void *target) {
        regex_t re;

        if (!*arg || regcomp(&re, arg, REG_EXTENDED | REG_NOSUB) != 0)
                return cli_usage_error(cmd, "--expect: '%s' is not a POSIX extended regular expression", arg);
        regfree(&re);
        *(const char **)target = arg;
        return 0;
}

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] as in telnet: Ctrl-C belongs to the guest */

/* The verdict and its line are vm/'s; a success is data on stdout, a failure the error line. */
static int report(const tb_vm_config *c, const tb_vm_result *res) {
        _cleanup_(freep) char *line = NULL;
        bool ok = tb_vm_succeeded(c, res);

        if (tb_vm_describe(c, res, &line) < 0)
                return tb_log_oom(), TB_EXIT_FAILURE;
        if (!ok) {
                tb_err("%s", line);
                return TB_EXIT_FAILURE;
        }
        if (cli_verbosity >= 0)
                printf("trustboot vm: %s\n", line);
        return TB_EXIT_OK;
}

int cmd_vm(int argc, char **argv) {
        _cleanup_(tb_strv_freep) char **disk_paths = calloc(TB_VM_MAX_DISKS + 1, sizeof(char *));
        struct vm_args a = { .c = TB_VM_CONFIG_INIT, .disk_paths = disk_paths };
        tb_vm_config *cp = &a.c;
        tb_vm_result res;
        struct termios saved;
        bool console = false, raw = false;
        const cli_option options[] = {
                CLI_OPT_GROUP("Medium and disks:"),
                CLI_OPT_CALL("cdrom", 0, NULL, parse_cdrom, cp, "attach MEDIUM as a CD-ROM (default for ISO 9660 images)"),
                CLI_OPT_CALL("usb", 0, NULL, parse_usb, cp,
                             "attach MEDIUM as a USB stick (default for other images; writes\n"
                             "are discarded)"),
                CLI_OPT_CALL("disk", 0, "FILE[:SIZE]", parse_disk, &a,
                             "add a virtio disk; created sparse with SIZE (e.g. 8G) if missing;\n"
                             "repeatable (up to 4: /dev/vda, /dev/vdb, … in this order)"),
                CLI_OPT_GROUP("Firmware and TPM:"),
                CLI_OPT_STRING("vars", 0, "FILE", &cp->vars,
                               "persistent UEFI variable store (created from the template if missing)"),
                CLI_OPT_FLAG("setup-mode", 0, &cp->reset_vars,
                             "start from the empty store (no PK: setup mode, Secure Boot off);\n"
                             "with --vars, FILE is reset to it first"),
                CLI_OPT_STRING("vars-template", 0, "FILE", &cp->vars_template,
                               "store to copy instead of the empty one (e.g. OVMF_VARS_4M.snakeoil.fd)"),
                CLI_OPT_STRING("firmware", 0, "FILE", &cp->firmware_code,
                               "OVMF Secure Boot code (default: found in the Debian, Fedora or Arch\n"
                               "layout)"),
                CLI_OPT_STRING("tpm-state", 0, "DIR", &cp->tpm_state, "persistent swtpm state (default: a fresh TPM each run)"),
                CLI_OPT_FLAG("no-tpm", 0, &cp->no_tpm, "no TPM"),
                CLI_OPT_GROUP("Machine:"),
                CLI_OPT_CALL("memory", 0, "SIZE", parse_memory, &cp->memory_mib,
                             "guest memory, MiB or with a K/M/G suffix (default 1024)"),
                CLI_OPT_UINT("cpus", 0, "N", &cp->cpus, 1, 64, "virtual CPUs (default 1 under TCG, 2 with KVM)"),
                CLI_OPT_CALL("accel", 0, "auto|tcg|kvm", parse_accel, &cp->accel,
                             "accelerator (default auto: KVM only if a probe guest runs on it)"),
                CLI_OPT_GROUP("Watching:"),
                CLI_OPT_STRING("serial", 0, "FILE", &cp->serial_path, "write the serial console output to FILE"),
                CLI_OPT_CALL("expect", 0, "REGEX", parse_expect, &cp->expect,
                             "stop with success as soon as a serial line matches REGEX (POSIX ERE)"),
                CLI_OPT_UINT("timeout", 0, "S", &cp->timeout_s, 1, 86400, "stop after S seconds (failure)"),
                CLI_OPT_FLAG("console", 0, &console, "interactive serial console on the terminal (Ctrl-] stops the VM)"),
                CLI_OPT_STRING("pid-file", 0, "FILE", &cp->pid_file, "write \"qemu PID\" and \"swtpm PID\" lines once they run"),
                {},
        };
        const cli_command cmd = { "vm", synopsis, options, epilog };
        int r;

        if (!disk_paths) {
                tb_err("out of memory");
                return TB_EXIT_FAILURE;
        }
        r = cli_parse(&cmd, argc, argv);
        if (r != CLI_CONTINUE)
                return r;
        if (optind >= argc)
                return cli_usage_error(cmd.name, "missing MEDIUM (an ISO, a disk image or an ESP directory)");
        if (optind + 1 < argc)
                return cli_usage_error(cmd.name, "unexpected argument '%s'", argv[optind + 1]);
        a.c.medium = argv[optind];
        if (a.c.no_tpm && a.c.tpm_state)
                return cli_usage_error(cmd.name, "--tpm-state and --no-tpm exclude each other");
        if (a.c.vars_template && a.c.reset_vars)
                return cli_usage_error(cmd.name, "--setup-mode starts from the empty store, not --vars-template");

        if (console) {
                a.c.console_in = STDIN_FILENO;
                a.c.console_out = STDOUT_FILENO;
                a.c.console_escape = CONSOLE_ESCAPE;
                if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                        struct termios t = saved;

                        cfmakeraw(&t);
                        t.c_oflag |= OPOST | ONLCR; /* our own messages still start at column 0 */
                        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
                        if (raw && cli_verbosity >= 0)
                                fputs("trustboot vm: serial console; press Ctrl-] to stop the VM.\r\n", stderr);
                }
        }
        r = tb_vm_run(&a.c, &res);
        if (raw)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (console) {
                /* The guest's last line may be unterminated: our report starts a line of its own. */
                fputc('\n', stdout);
                fflush(stdout);
        }
        if (r < 0)
                return TB_EXIT_FAILURE;
        return report(&a.c, &res);
}
