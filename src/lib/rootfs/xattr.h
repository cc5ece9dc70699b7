/* xattr.h — which extended attributes an image carries into the initrd. */
#pragma once

#include <stdbool.h>
#include <string.h>

/* security.* attributes newc cannot carry (file capabilities above all): build-uki records them
 * in the initrd's manifest and init restores them; OCI layers bring them as PAX
 * SCHILY.xattr.* records. SELinux labels are the booted system's policy to set, not the build
 * host's to copy. */
static inline bool tb_xattr_carried(const char *name) {
        return strncmp(name, "security.", 9) == 0 && strcmp(name, "security.selinux") != 0;
}
