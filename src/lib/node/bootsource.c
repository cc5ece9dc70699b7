/* bootsource.c — from disk or from a medium (see bootsource.h). */
#include "node/bootsource.h"

#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid.h>

#include "sb/efivar.h"
#include "tpm/luks.h"
#include "util/log.h"
#include "util/macro.h"

#define EFI_VARIABLE_NON_VOLATILE 0x1u

void tb_boot_origin_done(tb_boot_origin *o) {
        free(o->entry);
        free(o->esp_partuuid);
        free(o->esp_device);
        free(o->disk);
        free(o->why);
        *o = (tb_boot_origin){ .role = TB_ROLE_NONE };
}

/* A loader variable set by the boot chain of this boot: present and volatile. */
static int loader_string(const char *efivarfs, const char *name, char **ret) {
        _cleanup_(tb_buf_freep) tb_buf b = TB_BUF_INIT;
        uint32_t attrs = 0;
        int r;

        *ret = NULL;
        r = tb_efivar_read(efivarfs, name, &TB_GUID_LOADER, &attrs, &b);
        if (r < 0)
                return r;
        if (attrs & EFI_VARIABLE_NON_VOLATILE) {
                tb_warn("%s is a non-volatile variable: not set by this boot's loader, ignored", name);
                return -EPERM;
        }
        return tb_efivar_read_string(efivarfs, name, &TB_GUID_LOADER, ret);
}

int tb_block_whole_disk(const char *device, char **ret) {
        char sys[64], real[PATH_MAX], part[PATH_MAX + 16];
        struct stat st;

        *ret = NULL;
        if (stat(device, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
        if (!realpath(sys, real))
                return negative_errno();
        snprintf(part, sizeof(part), "%s/partition", real);
        if (access(part, F_OK) == 0) {
                char *slash = strrchr(real, '/');
                if (!slash)
                        return -EINVAL;
                *slash = 0; /* the partition's directory sits in its disk's */
        }
        const char *base = strrchr(real, '/');
        return asprintf(ret, "/dev/%s", base ? base + 1 : real) < 0 ? -ENOMEM : 0;
}

bool tb_block_on_disk(const char *device, const char *disk) {
        _cleanup_(freep) char *a = NULL, *b = NULL;

        return tb_block_whole_disk(device, &a) == 0 && tb_block_whole_disk(disk, &b) == 0 && strcmp(a, b) == 0;
}

bool tb_block_disk_has_sealed_volume(const char *disk) {
        const char *name = strrchr(disk, '/');
        char dir[PATH_MAX];
        struct dirent *de;
        bool found = false;
        DIR *d;

        name = name ? name + 1 : disk;
        if (tb_luks_has_tpm2_token(disk, NULL))
                return true;
        snprintf(dir, sizeof(dir), "/sys/class/block/%s", name);
        if (!(d = opendir(dir)))
                return false;
        while (!found && (de = readdir(d))) {
                char part[PATH_MAX + 512], node[300];
                if (strncmp(de->d_name, name, strlen(name)) != 0)
                        continue;
                snprintf(part, sizeof(part), "%s/%s/partition", dir, de->d_name);
                if (access(part, F_OK) != 0)
                        continue;
                snprintf(node, sizeof(node), "/dev/%s", de->d_name);
                found = tb_luks_has_tpm2_token(node, NULL);
        }
        closedir(d);
        return found;
}

static int set_why(tb_boot_origin *o, const char *fmt, ...) _printf_(2, 3);
static int set_why(tb_boot_origin *o, const char *fmt, ...) {
        va_list ap;
        int r;

        free(o->why);
        va_start(ap, fmt);
        r = vasprintf(&o->why, fmt, ap);
        va_end(ap);
        if (r < 0) {
                o->why = NULL;
                return tb_log_oom();
        }
        return 0;
}

int tb_boot_origin_probe(const char *efivarfs, tb_boot_origin *o) {
        *o = (tb_boot_origin){ .source = TB_BOOT_SOURCE_MEDIUM, .role = TB_ROLE_NONE };

        (void)loader_string(efivarfs, TB_LOADER_ENTRY_SELECTED, &o->entry);
        if (o->entry)
                o->role = tb_role_from_entry(o->entry);
        (void)loader_string(efivarfs, TB_LOADER_DEVICE_PART_UUID, &o->esp_partuuid);
        if (o->esp_partuuid)
                for (char *p = o->esp_partuuid; *p; p++)
                        *p = (char)tolower((unsigned char)*p);

        if (o->esp_partuuid && *o->esp_partuuid) {
                o->esp_device = blkid_evaluate_tag("PARTUUID", o->esp_partuuid, NULL);
                if (o->esp_device && tb_block_whole_disk(o->esp_device, &o->disk) < 0) {
                        free(o->esp_device);
                        o->esp_device = NULL;
                }
        }

        if (o->role == TB_ROLE_NONE)
                return set_why(o, "entry %s is not an installed role", o->entry ? o->entry : "unknown");
        if (!o->esp_partuuid || !*o->esp_partuuid)
                return set_why(o, "the loader did not say which ESP it started from (LoaderDevicePartUUID)");
        if (!o->disk)
                return set_why(o, "the ESP the loader started from (PARTUUID %s) is not a partition here",
                               o->esp_partuuid);
        if (!tb_block_disk_has_sealed_volume(o->disk))
                return set_why(o, "%s, which holds the ESP the loader started from, holds no TPM-sealed volume", o->disk);
        o->source = TB_BOOT_SOURCE_DISK;
        return set_why(o, "entry %s (role %s) from the ESP %s on %s, which holds the sealed volumes", o->entry,
                       tb_role_to_string(o->role), o->esp_device, o->disk);
}
