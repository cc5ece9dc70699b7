/* installer.c — `trustboot install` as one run (see installer.h). */
#include "node/installer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "node/cmdline.h"
#include "node/install.h"
#include "util/log.h"
#include "util/macro.h"
#include "util/strset.h"

int tb_installer_config(const char *const *configs, size_t n, char ***ret_files, size_t *ret_n,
                        tb_cloudconfig **ret) {
        _cleanup_(tb_strv_freep) char **files = NULL;
        size_t n_files = 0;
        int r = 0;

        if (n == 0)
                r = tb_cloudconfig_discover(NULL, &files, &n_files);
        else {
                for (size_t i = 0; i < n && r >= 0; i++)
                        r = tb_strv_push(&files, &n_files, configs[i]);
                if (r < 0)
                        r = tb_log_oom();
        }
        if (r >= 0)
                r = tb_cloudconfig_load_files((const char *const *)files, n_files, ret);
        if (r < 0)
                return r;
        *ret_files = TAKE_PTR(files);
        *ret_n = n_files;
        return 0;
}

int tb_installer_device(const char *want, bool force, char **ret) {
        int r;

        if (strcmp(want, "auto") != 0) {
                *ret = strdup(want);
                return *ret ? 0 : tb_log_oom();
        }
        r = tb_disk_pick_auto(force, ret);
        if (r < 0)
                return r;
        tb_info("install.device auto: %s", *ret);
        return 0;
}

void tb_installer_print_layout(const tb_disk_layout *l, FILE *out) {
        for (size_t i = 0; i < l->n; i++)
                fprintf(out, "%u %s %s %s %llu%s\n", l->parts[i].partno, l->parts[i].name, l->parts[i].label,
                        l->parts[i].fs ? l->parts[i].fs : "-", (unsigned long long)l->parts[i].size_mib,
                        l->parts[i].size_mib ? "MiB" : " (rest)");
}

/* Refuses unless Secure Boot is on: without it nothing protects the keys sealed to the TPM. */
static int secure_boot_gate(const char *efivarfs) {
        int r = tb_install_secure_boot(efivarfs && *efivarfs ? efivarfs : NULL);

        if (r == 1)
                return 0;
        tb_err("Secure Boot is %s: refusing to install a system whose keys it could not protect "
               "(--insecure or trustboot.insecure to override)",
               r == 0 ? "off" : "unknown (no SecureBoot EFI variable)");
        return -EPERM;
}

/* install.poweroff / install.reboot. The kernel returns only on failure. */
static int lifecycle(const tb_cloudconfig *c) {
        sync();
        tb_info("%s", c->poweroff ? "powering off" : "rebooting");
        if (reboot(c->poweroff ? RB_POWER_OFF : RB_AUTOBOOT) < 0)
                return tb_log_errno(negative_errno(), "cannot %s", c->poweroff ? "power off" : "reboot");
        return 0;
}

int tb_installer_run(const tb_installer_options *o) {
        _cleanup_(tb_cloudconfig_freep) tb_cloudconfig *c = NULL;
        _cleanup_(tb_strv_freep) char **files = NULL;
        _cleanup_(freep) char *device = NULL;
        size_t n_files = 0;
        bool insecure = o->insecure || tb_cmdline_flag("trustboot.insecure");
        tb_disk_layout l;
        int r;

        r = tb_installer_config(o->configs, o->n_configs, &files, &n_files, &c);
        if (r < 0)
                return r;
        if (!insecure) {
                r = secure_boot_gate(o->efivarfs);
                if (r < 0)
                        return r;
        }
        r = tb_installer_device(o->device ? o->device : c->device, c->force, &device);
        if (r < 0)
                return r;

        tb_install_params p = {
                .config = c,
                .device = device,
                .source_dir = o->source_dir ? o->source_dir : TB_INSTALL_RUN_DIR "/medium",
                .config_files = (const char *const *)files,
                .n_config_files = n_files,
                .pcr_public_key = o->pcr_public_key,
                .tpm2_device = o->tpm2_device,
                .encrypt = !o->no_encrypt,
                .check_images = !insecure,
                .efivarfs = o->efivarfs,
        };
        r = tb_install_check(&p, &l);
        if (r < 0)
                return r;
        tb_installer_print_layout(&l, o->out);
        fflush(o->out);
        if (o->dry_run)
                return 0;
        r = tb_install_run(&p, &l);
        if (r < 0) {
                tb_err("%s: installation failed; the disk can be installed again from the start", device);
                return r;
        }
        tb_info("%s: installed", device);
        if (!o->no_lifecycle && (c->poweroff || c->reboot))
                return lifecycle(c);
        return 0;
}
