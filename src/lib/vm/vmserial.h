/* vmserial.h — reading a VM's serial console as lines: the expected marker, firmware refusals. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util/macro.h"

typedef struct tb_vmserial tb_vmserial;

typedef enum tb_vmserial_event {
        TB_VMSERIAL_NONE,
        TB_VMSERIAL_MATCHED, /* the expect regex matched a line (or the unfinished last line) */
        TB_VMSERIAL_REFUSED, /* the firmware refused to run the boot image */
} tb_vmserial_event;

/* EXPECT is a POSIX extended regex, or NULL. -EINVAL if it does not compile. */
int tb_vmserial_new(const char *expect, tb_vmserial **ret);
void tb_vmserial_free(tb_vmserial *s);

/* Feeds raw console bytes. Returns the first event a complete line brings; LINE then holds that
 * line (escape sequences and control characters removed, truncated to LINE_SIZE). Once an event
 * was returned the caller stops the VM; later bytes are not expected.
 *
 * Refusal: "Access Denied" (OVMF's and systemd-boot's words for a failed signature check) ends
 * the boot at once. "Security Violation" alone does not: OVMF's built-in shell entry always
 * fails that way under Secure Boot, even when a good entry follows, so it only counts once the
 * firmware reports that nothing is left to boot. */
tb_vmserial_event tb_vmserial_feed(tb_vmserial *s, const char *data, size_t len, char *line, size_t line_size);

/* True when an unterminated line is buffered. */
bool tb_vmserial_pending(const tb_vmserial *s);

/* A prompt or marker need not end with a newline: the caller checks the unterminated line once
 * the console has been quiet for a moment (checking it on every byte would report half lines). */
tb_vmserial_event tb_vmserial_check_partial(tb_vmserial *s, char *line, size_t line_size);

/* The full check (refusal too) on whatever is buffered, e.g. the unterminated last line after qemu exited. */
tb_vmserial_event tb_vmserial_flush(tb_vmserial *s, char *line, size_t line_size);

TB_DEFINE_CLEANUP(tb_vmserial *, tb_vmserial_free)
