/* boot-state.h — what init records about the boot for later commands: one line, "disk",
 * "medium" or "insecure" (boot-policy.h, tb_boot_state_word), then the reason. `trustboot
 * unlock-all` reads it to explain why the TPM unseals nothing on a medium or insecure boot. */
#pragma once

#define TB_BOOT_STATE_FILE "/run/trustboot/boot-source"

/* The file's text for WORD and WHY (NULL: none), malloc'ed in *RET. 0 or -ENOMEM. */
int tb_boot_state_format(const char *word, const char *why, char **ret);

/* Writes TB_BOOT_STATE_FILE (atomically, its directory made if missing). Best effort: init goes
 * on without it. */
void tb_boot_state_write(const char *word, const char *why);

/* Why the TPM unseals nothing, from the file's TEXT, as a sentence (*RET, malloc'ed): 1 for a
 * medium or insecure boot, 0 (and *RET NULL) for the installed disk or text that is no state,
 * -ENOMEM. */
int tb_boot_state_explain_text(const char *text, char **ret);

/* The same from TB_BOOT_STATE_FILE: 0 also when it is missing (not booted by trustboot init). */
int tb_boot_state_explain(char **ret);
