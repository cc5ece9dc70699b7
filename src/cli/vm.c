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

static const char usage[] =
        "Usage: trustboot vm MEDIUM [OPTIONS]\n"
        "\n"
        "Boot MEDIUM (an ISO, a disk image, or a directory served as a FAT drive) in QEMU with OVMF\n"
        "Secure Boot firmware and a software TPM (swtpm), and report in one line why the VM ended.\n"
        "\n"
        "Medium and disks:\n"
        "      --cdrom                 attach MEDIUM as a CD-ROM (default for ISO 9660 images)\n"
        "      --usb                   attach MEDIUM as a USB stick (default for other images; writes\n"
        "                              are discarded)\n"
        "      --disk FILE[:SIZE]      add a virtio disk; created sparse with SIZE (e.g. 8G) if missing;\n"
        "                              repeatable (up to 4: /dev/vda, /dev/vdb, … in this order)\n"
        "Firmware and TPM:\n"
        "      --vars FILE             persistent UEFI variable store (created from the template if missing)\n"
        "      --setup-mode            start from the empty store (no PK: setup mode, Secure Boot off);\n"
        "                              with --vars, FILE is reset to it first\n"
        "      --vars-template FILE    store to copy instead of the empty one (e.g. OVMF_VARS_4M.snakeoil.fd)\n"
        "      --firmware FILE         OVMF Secure Boot code (default: found in the Debian, Fedora or Arch\n"
        "                              layout)\n"
        "      --tpm-state DIR         persistent swtpm state (default: a fresh TPM each run)\n"
        "      --no-tpm                no TPM\n"
        "Machine:\n"
        "      --memory SIZE           guest memory, MiB or with a K/M/G suffix (default 1024)\n"
        "      --cpus N                virtual CPUs (default 1 under TCG, 2 with KVM)\n"
        "      --accel auto|tcg|kvm    accelerator (default auto: KVM only if a probe guest runs on it)\n"
        "Watching:\n"
        "      --serial FILE           write the serial console output to FILE\n"
        "      --expect REGEX          stop with success as soon as a serial line matches REGEX (POSIX ERE)\n"
        "      --timeout S             stop after S seconds (failure)\n"
        "      --console               interactive serial console on the terminal (Ctrl-] stops the VM)\n"
        "      --pid-file FILE         write \"qemu PID\" and \"swtpm PID\" lines once they run\n"
        "  -h, --help                  show this help\n"
        "\n"
        "Without --vars or --setup-mode the VM gets a private copy of the empty store, discarded at the\n"
        "end. The firmware's refusal of the boot image (\"Access Denied\") stops the VM at once.\n"
        "Exit status: 0 when REGEX matched (or, without --expect, when the guest powered off or reset),\n"
        "1 on timeout, refusal, qemu failure or interruption, 2 on usage errors.\n";

enum {
        OPT_CDROM = 0x100, OPT_USB, OPT_DISK, OPT_VARS, OPT_SETUP, OPT_VARS_TEMPLATE, OPT_FIRMWARE,
        OPT_TPM_STATE, OPT_NO_TPM, OPT_MEMORY, OPT_CPUS, OPT_ACCEL, OPT_SERIAL, OPT_EXPECT, OPT_TIMEOUT,
        OPT_CONSOLE, OPT_PID_FILE,
};

static const struct option options[] = {
        { "cdrom", no_argument, NULL, OPT_CDROM },
        { "usb", no_argument, NULL, OPT_USB },
        { "disk", required_argument, NULL, OPT_DISK },
        { "vars", required_argument, NULL, OPT_VARS },
        { "setup-mode", no_argument, NULL, OPT_SETUP },
        { "vars-template", required_argument, NULL, OPT_VARS_TEMPLATE },
        { "firmware", required_argument, NULL, OPT_FIRMWARE },
        { "tpm-state", required_argument, NULL, OPT_TPM_STATE },
        { "no-tpm", no_argument, NULL, OPT_NO_TPM },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "cpus", required_argument, NULL, OPT_CPUS },
        { "accel", required_argument, NULL, OPT_ACCEL },
        { "serial", required_argument, NULL, OPT_SERIAL },
        { "expect", required_argument, NULL, OPT_EXPECT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "console", no_argument, NULL, OPT_CONSOLE },
        { "pid-file", required_argument, NULL, OPT_PID_FILE },
        { "help", no_argument, NULL, 'h' },
        {},
};

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] as in telnet: Ctrl-C belongs to the guest */

static int report(const tb_vm_config *c, const tb_vm_result *res) {
        const char *what = tb_vm_end_to_string(res->end);
        bool ok;

        switch (res->end) {
        case TB_VM_END_EXPECT_MATCHED:
        case TB_VM_END_CONSOLE_QUIT:
                ok = true;
                break;
        case TB_VM_END_POWEROFF:
        case TB_VM_END_RESET:
                ok = !c->expect;
                break;
        default:
                ok = false;
        }
        if (ok) {
                if (cli_verbosity >= 0)
                        printf("trustboot vm: %s after %.1f s%s%s\n", what, res->seconds, res->detail[0] ? ": " : "",
                               res->detail);
                return TB_EXIT_OK;
        }
        if ((res->end == TB_VM_END_POWEROFF || res->end == TB_VM_END_RESET) && c->expect)
                tb_err("%s after %.1f s without matching '%s'", what, res->seconds, c->expect);
        else
                tb_err("%s after %.1f s%s%s", what, res->seconds, res->detail[0] ? ": " : "", res->detail);
        return TB_EXIT_FAILURE;
}

int cmd_vm(int argc, char **argv) {
        tb_vm_config c = TB_VM_CONFIG_INIT;
        tb_vm_result res;
        _cleanup_(tb_strv_freep) char **disk_paths = calloc(TB_VM_MAX_DISKS + 1, sizeof(char *));
        struct termios saved;
        regex_t re;
        bool console = false, raw = false;
        uint64_t v;
        int opt, r;

        if (!disk_paths) {
                tb_err("out of memory");
                return TB_EXIT_FAILURE;
        }
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case OPT_CDROM:
                case OPT_USB:
                        if (c.media != TB_VM_MEDIA_AUTO)
                                return cli_usage_error("vm", "--cdrom and --usb exclude each other");
                        c.media = opt == OPT_CDROM ? TB_VM_MEDIA_CDROM : TB_VM_MEDIA_USB;
                        break;
                case OPT_DISK: {
                        tb_vm_disk *d = &c.disks[c.n_disks];
                        if (c.n_disks == TB_VM_MAX_DISKS)
                                return cli_usage_error("vm", "at most %d --disk", TB_VM_MAX_DISKS);
                        if (tb_vm_parse_disk(optarg, &disk_paths[c.n_disks], &d->size) < 0)
                                return cli_usage_error("vm", "--disk: '%s' is not FILE or FILE:SIZE", optarg);
                        d->path = disk_paths[c.n_disks++];
                        break;
                }
                case OPT_VARS:
                        c.vars = optarg;
                        break;
                case OPT_SETUP:
                        c.reset_vars = true;
                        break;
                case OPT_VARS_TEMPLATE:
                        c.vars_template = optarg;
                        break;
                case OPT_FIRMWARE:
                        c.firmware_code = optarg;
                        break;
                case OPT_TPM_STATE:
                        c.tpm_state = optarg;
                        break;
                case OPT_NO_TPM:
                        c.no_tpm = true;
                        break;
                case OPT_MEMORY:
                        if (cli_parse_u64(optarg, 64, 1u << 20, &v) == 0)
                                c.memory_mib = v;
                        else if (tb_vm_parse_size(optarg, &v) == 0 && v >= (64u << 20) && v <= (1ull << 40))
                                c.memory_mib = v >> 20;
                        else
                                return cli_usage_error("vm", "--memory: '%s' is not a size from 64M to 1T", optarg);
                        break;
                case OPT_CPUS:
                        if (cli_parse_u64(optarg, 1, 64, &v) < 0)
                                return cli_usage_error("vm", "--cpus: '%s' is not a number from 1 to 64", optarg);
                        c.cpus = (unsigned)v;
                        break;
                case OPT_ACCEL:
                        if (strcmp(optarg, "auto") == 0)
                                c.accel = TB_VM_ACCEL_AUTO;
                        else if (strcmp(optarg, "tcg") == 0)
                                c.accel = TB_VM_ACCEL_TCG;
                        else if (strcmp(optarg, "kvm") == 0)
                                c.accel = TB_VM_ACCEL_KVM;
                        else
                                return cli_usage_error("vm", "--accel: '%s' is not auto, tcg or kvm", optarg);
                        break;
                case OPT_SERIAL:
                        c.serial_path = optarg;
                        break;
                case OPT_EXPECT:
                        if (!*optarg || regcomp(&re, optarg, REG_EXTENDED | REG_NOSUB) != 0)
                                return cli_usage_error("vm", "--expect: '%s' is not a POSIX extended regular expression",
                                                       optarg);
                        regfree(&re);
                        c.expect = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (cli_parse_u64(optarg, 1, 86400, &v) < 0)
                                return cli_usage_error("vm", "--timeout: '%s' is not a number of seconds from 1 to 86400",
                                                       optarg);
                        c.timeout_s = (unsigned)v;
                        break;
                case OPT_CONSOLE:
                        console = true;
                        break;
                case OPT_PID_FILE:
                        c.pid_file = optarg;
                        break;
                case 'h':
                        return cli_print_help(usage);
                default:
                        return cli_bad_option("vm", argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error("vm", "missing MEDIUM (an ISO, a disk image or an ESP directory)");
        if (optind + 1 < argc)
                return cli_usage_error("vm", "unexpected argument '%s'", argv[optind + 1]);
        c.medium = argv[optind];
        if (c.no_tpm && c.tpm_state)
                return cli_usage_error("vm", "--tpm-state and --no-tpm exclude each other");
        if (c.vars_template && c.reset_vars)
                return cli_usage_error("vm", "--setup-mode starts from the empty store, not --vars-template");

        if (console) {
                c.console_in = STDIN_FILENO;
                c.console_out = STDOUT_FILENO;
                c.console_escape = CONSOLE_ESCAPE;
                if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                        struct termios t = saved;

                        cfmakeraw(&t);
                        t.c_oflag |= OPOST | ONLCR; /* our own messages still start at column 0 */
                        raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
                        if (raw && cli_verbosity >= 0)
                                fputs("trustboot vm: serial console; press Ctrl-] to stop the VM.\r\n", stderr);
                }
        }
        r = tb_vm_run(&c, &res);
        if (raw)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (console) {
                /* The guest's last line may be unterminated: our report starts a line of its own. */
                fputc('\n', stdout);
                fflush(stdout);
        }
        if (r < 0)
                return TB_EXIT_FAILURE;
        return report(&c, &res);
}
