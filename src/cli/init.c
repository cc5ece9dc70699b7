/* init.c — trustboot init: PID 1 of the UKI's initrd (shared/research/kairos.md §3; the policy is
 * node/boot.h). */
#include <unistd.h>

#include "cli.h"
#include "node/boot.h"
#include "node/initrd-boot.h"
#include "options.h"

static const char synopsis[] =
        "Usage: trustboot init\n"
        "\n"
        "PID 1 of the UKI's initrd (/init links to trustboot). Mounts the API file systems, loads the\n"
        "kernel modules the machine needs from the image (libkmod, as udev's coldplug) and those its\n"
        "job needs, refuses to go on without Secure Boot unless trustboot.insecure (then PCR 11 gets\n"
        "trustboot-insecure and nothing unlocks), extends PCR 11 with enter-initrd. Booted from the\n"
        "installed disk it unlocks that disk's TPM-sealed volumes and mounts COS_OEM at /oem,\n"
        "COS_PERSISTENT at /usr/local and the ESP at /efi; booted from anything else PCR 11 gets\n"
        "trustboot-medium, and with install-mode the installer runs. Then the image, exactly as\n"
        "built, becomes the root, PCR 11 gets leave-initrd and its /sbin/init (or init=, when no\n"
        "volume was unlocked) runs. See trustboot-init(1).\n";

int cmd_init(int argc, char **argv) {
        static const cli_option options[] = { {} };
        const cli_command cmd = { "init", synopsis, options, NULL, false };
        const char *why = NULL;
        int r;

        /* As PID 1 the words the kernel hands over are its command line's, not options. */
        if (getpid() != 1) {
                r = cli_parse(&cmd, argc, argv);
                if (r != CLI_CONTINUE)
                        return r;
                return cli_usage_error(argv[0], "only runs as PID 1 (the initrd's /init)");
        }
        (void)tb_boot_run(&why);
        tb_initrd_fail(why);
}
