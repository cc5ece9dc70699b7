#include "cli.h"

int cmd_genkey(int argc, char **argv) {
        (void)argc;
        (void)argv;
        return TB_EXIT_FAILURE;
}
