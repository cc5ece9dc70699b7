/* boot-state.c — the boot's record for later commands (see boot-state.h). */
#include "node/boot-state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/boot-policy.h"
#include "node/install.h"
#include "util/buf.h"
#include "util/fileio.h"
#include "util/macro.h"

int tb_boot_state_format(const char *word, const char *why, char **ret) {
        if (asprintf(ret, "%s\n%s\n", word, why ? why : "") < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

void tb_boot_state_write(const char *word, const char *why) {
        _cleanup_(freep) char *text = NULL;

        (void)mkdir(TB_INSTALL_RUN_DIR, 0755);
        if (tb_boot_state_format(word, why, &text) == 0)
                (void)tb_write_file_atomic(TB_BOOT_STATE_FILE, text, strlen(text), 0644, true);
}

int tb_boot_state_explain_text(const char *text, char **ret) {
        const char *nl = strchr(text, '\n'), *why = nl ? nl + 1 : "", *word;
        size_t len = nl ? (size_t)(nl - text) : strlen(text), why_len = strcspn(why, "\n");
        int r;

        *ret = NULL;
        if (len == strlen("medium") && strncmp(text, "medium", len) == 0)
                word = TB_BOOT_WORD_MEDIUM;
        else if (len == strlen("insecure") && strncmp(text, "insecure", len) == 0)
                word = TB_BOOT_WORD_INSECURE;
        else
                return 0;
        r = asprintf(ret, "this system did not boot from the installed disk with Secure Boot (%.*s%s%.*s): PCR 11 "
                     "carries %s, so no signed policy lets the TPM unseal; boot the installed disk to unlock",
                     (int)len, text, why_len ? ": " : "", (int)why_len, why, word);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 1;
}

int tb_boot_state_explain(char **ret) {
        _cleanup_(tb_buf_freep) tb_buf buf = TB_BUF_INIT;

        *ret = NULL;
        if (tb_read_file(TB_BOOT_STATE_FILE, 4096, &buf) < 0 || tb_buf_append(&buf, "", 1) < 0)
                return 0;
        return tb_boot_state_explain_text((const char *)buf.data, ret);
}
