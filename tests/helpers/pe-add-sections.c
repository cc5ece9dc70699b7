/* pe-add-sections STUB OUT [--sign KEY CERT] [--replace NAME=FILE]... NAME=FILE... — test helper:
 * a UKI-shaped image from STUB via the pe editor (symbol table stripped, sections appended in
 * the order given, .linux as code), written once, signed in the same pass with --sign. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pe/authenticode.h"
#include "pe/pe.h"

static int parse_spec(char *spec, const char **name, tb_pe_source *src) {
        char *eq = strchr(spec, '=');
        struct stat st;

        if (!eq)
                return -1;
        *eq = '\0';
        *name = spec;
        if (stat(eq + 1, &st) < 0)
                return -1;
        *src = (tb_pe_source){ .path = eq + 1, .size = (uint64_t)st.st_size };
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_(tb_pe_freep) tb_pe *pe = NULL;
        tb_signer signer = {};
        bool sign = false;
        int fd, i = 3, r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s STUB OUT [--sign KEY CERT] [--replace NAME=FILE]... NAME=FILE...\n", argv[0]);
                return 2;
        }
        if (tb_pe_open(argv[1], &pe) < 0 || tb_pe_strip_symbols(pe) < 0)
                return 1;
        if (i + 2 < argc && strcmp(argv[i], "--sign") == 0) {
                if (tb_signer_load(argv[i + 1], argv[i + 2], &signer) < 0)
                        return 1;
                sign = true;
                i += 3;
        }
        for (; i < argc; i++) {
                bool replace = strcmp(argv[i], "--replace") == 0 && i + 1 < argc;
                const char *name;
                tb_pe_source src;

                if (replace)
                        i++;
                if (parse_spec(argv[i], &name, &src) < 0) {
                        fprintf(stderr, "%s: bad section spec or unreadable file\n", argv[i]);
                        return 2;
                }
                r = replace ? tb_pe_replace_section(pe, name, &src)
                            : tb_pe_add_section(pe, name, &src,
                                                TB_PE_SCN_MEM_READ | (strcmp(name, ".linux") == 0
                                                                              ? TB_PE_SCN_CNT_CODE
                                                                              : TB_PE_SCN_CNT_INITIALIZED_DATA));
                if (r < 0)
                        return 1;
        }
        fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                perror(argv[2]);
                return 1;
        }
        r = sign ? tb_authenticode_sign(pe, &signer, fd, argv[2]) : tb_pe_write_fd(pe, fd);
        if (close(fd) < 0 || r < 0)
                return 1;
        tb_signer_done(&signer);
        return 0;
}
