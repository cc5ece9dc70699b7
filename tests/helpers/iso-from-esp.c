/* iso-from-esp ESP_IMAGE OUT.iso EPOCH [OVERLAY_DIR] — test helper for iso.c. */
#include <stdlib.h>

#include "medium/iso.h"

int main(int argc, char **argv) {
        tb_iso_options o = { .volume_id = "UKI_ISO_INSTALL" };

        if (argc < 4)
                return 2;
        o.esp_image = argv[1];
        o.epoch = atoll(argv[3]);
        o.overlay_dir = argc > 4 ? argv[4] : NULL;
        return tb_iso_write(&o, argv[2]) < 0 ? 1 : 0;
}
