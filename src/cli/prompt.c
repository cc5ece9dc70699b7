/* prompt.c — reading a secret (PIN) from the terminal without echo, or from stdin when it is
 * not a terminal (scripts, tests). Secrets never come from argv or the environment. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "util/macro.h"
#include "util/log.h"

#define SECRET_MAX 256

static int read_line(int fd, char *buf, size_t size) {
        size_t n = 0;

        for (;;) {
                char c;
                ssize_t k = read(fd, &c, 1);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0 || c == '\n')
                        break;
                if (n + 1 >= size)
                        return -E2BIG;
                buf[n++] = c;
        }
        buf[n] = 0;
        return (int)n;
}

int cli_read_secret(const char *prompt, char **ret) {
        char buf[SECRET_MAX];
        struct termios old, quiet;
        int fd = STDIN_FILENO, tty = -1, r;

        if (isatty(STDIN_FILENO)) {
                tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (tty < 0)
                        return negative_errno();
                fd = tty;
                if (tcgetattr(tty, &old) < 0) {
                        r = negative_errno();
                        close(tty);
                        return r;
                }
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                quiet.c_lflag |= ECHONL;
                (void)!write(tty, prompt, strlen(prompt));
                (void)tcsetattr(tty, TCSAFLUSH, &quiet);
        }
        r = read_line(fd, buf, sizeof(buf));
        if (tty >= 0) {
                (void)tcsetattr(tty, TCSAFLUSH, &old);
                close(tty);
        }
        if (r == 0)
                r = -ENODATA;
        if (r >= 0) {
                *ret = strdup(buf);
                r = *ret ? 0 : tb_log_oom();
        }
        OPENSSL_cleanse(buf, sizeof(buf));
        return r;
}

void cli_secret_freep(char **p) {
        if (*p) {
                OPENSSL_cleanse(*p, strlen(*p));
                free(*p);
        }
}

int cli_pkcs11_pin_prompt(const char *token_label, char *buf, size_t size) {
        _cleanup_(cli_secret_freep) char *pin = NULL;
        _cleanup_(freep) char *prompt = NULL;
        int r;

        /* Only a person at a terminal is asked; a pipe on stdin is not a PIN source here. */
        if (!isatty(STDIN_FILENO))
                return -ENOKEY;
        if (asprintf(&prompt, "PIN for token '%s': ", token_label) < 0)
                return tb_log_oom();
        r = cli_read_secret(prompt, &pin);
        if (r < 0)
                return r;
        size_t len = strlen(pin);
        if (len >= size)
                return -E2BIG;
        memcpy(buf, pin, len + 1);
        return 0;
}
