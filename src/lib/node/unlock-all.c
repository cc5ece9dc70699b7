/* unlock-all.c — open the node's TPM2-sealed volumes (see unlock-all.h). */
#include "node/unlock-all.h"

#include <stdlib.h>

#include "node/boot-state.h"
#include "util/log.h"
#include "util/macro.h"

int tb_unlock_all_volume(const char *device, const char *name, const tb_unlock_all_options *o) {
        int r;

        if (!o->test && tb_luks_is_active(name)) {
                fprintf(o->out, "%s %s: already open, skipped\n", name, device);
                return 0;
        }
        r = tb_luks_unlock(device, o->test ? NULL : name, &o->unlock);
        if (r < 0) {
                fprintf(o->out, "%s %s: FAILED\n", name, device);
                return 1;
        }
        fprintf(o->out, "%s %s: %s (keyslot %d)\n", name, device, o->test ? "key verified" : "unlocked", r);
        return 0;
}

struct walk {
        const tb_unlock_all_options *o;
        int failed;
};

static int unlock_one(const char *device, const char *name, void *userdata) {
        struct walk *w = userdata;

        w->failed += tb_unlock_all_volume(device, name, w->o);
        return 0;
}

int tb_unlock_all(const tb_unlock_all_options *o) {
        struct walk w = { .o = o };
        int r;

        r = tb_luks_foreach_tpm2_volume(unlock_one, &w);
        if (r < 0)
                return tb_log_errno(r, "cannot list block devices");
        if (w.failed) {
                _cleanup_(freep) char *why = NULL;

                if (tb_boot_state_explain(&why) > 0)
                        tb_err("%s", why);
        }
        return w.failed;
}
