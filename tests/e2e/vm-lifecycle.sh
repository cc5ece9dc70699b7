#!/usr/bin/env bash
# How `trustboot vm` ends without a guest's help: SIGTERM/SIGINT (and SIGKILL), --timeout, the console escape,
# qemu failing to start; each with its one-line reason, exit status, and no process left behind.
# Also: --disk creation and usage errors. No boot needs to finish here.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"

cd "$WORK"
mkdir -p esp/EFI/BOOT
printf 'not an EFI program' >esp/EFI/BOOT/BOOTX64.EFI

# Signals: the command stops qemu and swtpm, reaps them, and says so.
for sig in TERM INT; do
  rm -f pids
  "$TRUSTBOOT" vm esp --setup-mode --pid-file pids >out.txt 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -s pids ] && break; sleep 0.1; done
  [ -s pids ] || fail "no pid file after 10 s"
  sleep 1
  kill -$sig $pid
  rc=0; wait $pid || rc=$?
  assert_eq "$rc" 1 "exit status after SIG$sig"
  contains "^trustboot vm: interrupted after [0-9.]* s: received SIG$sig\$" <out.txt || fail "SIG$sig report: $(cat out.txt)"
  assert_no_survivors pids
done

# Even SIGKILL, which we cannot handle, takes qemu and swtpm along (PR_SET_PDEATHSIG).
rm -f pids
"$TRUSTBOOT" vm esp --setup-mode --pid-file pids >out.txt 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s pids ] && break; sleep 0.1; done
[ -s pids ] || fail "no pid file after 10 s"
kill -KILL $pid
{ wait $pid; } 2>/dev/null || true
for _ in $(seq 50); do
  alive=0
  while read -r _ p; do [ "$p" -gt 0 ] && kill -0 "$p" 2>/dev/null && alive=1; done <pids
  [ $alive = 0 ] && break
  sleep 0.1
done
assert_no_survivors pids

# Timeout, with a new sparse disk and a second one.
vm esp --setup-mode --timeout 3 --expect NEVER --disk disk.img:2G --disk disk2.img:64M
assert_eq "$VM_RC" 1 "timeout exit status"
echo "$VM_OUT" | contains '^trustboot vm: timeout after 3\.[0-9] s: no match within 3 s$' || fail "timeout report: $VM_OUT"
assert_eq "$(stat -c %s disk.img)" $((2 << 30)) "--disk size"
[ "$(stat -c %b disk.img)" -lt 100 ] || fail "--disk is not sparse"
assert_eq "$(stat -c %s disk2.img)" $((64 << 20)) "second --disk size"

# The console: serial output on stdout, Ctrl-] on stdin ends the session (once the firmware spoke).
rm -f pids
mkfifo keys
"$TRUSTBOOT" vm esp --setup-mode --no-tpm --console --pid-file pids <keys >console.txt 2>&1 &
pid=$!
exec 3>keys
for _ in $(seq 600); do grep -a -q BdsDxe console.txt && break; sleep 0.1; done
printf '\035' >&3
rc=0; wait $pid || rc=$?
exec 3>&-
assert_eq "$rc" 0 "console exit status"
contains 'BdsDxe' <console.txt || fail "no serial output on the console: $(tail -c 300 console.txt)"
contains '^trustboot vm: console closed after' <console.txt || fail "console report: $(tail -c 300 console.txt)"
assert_no_survivors pids

# qemu refusing its configuration: its first error line is the reason.
head -c 1000 /dev/zero >bad-code.fd
vm esp --firmware bad-code.fd --vars-template /usr/share/OVMF/OVMF_VARS_4M.fd --no-tpm --timeout 60
assert_eq "$VM_RC" 1 "qemu failure exit status"
echo "$VM_OUT" | contains '^trustboot vm: qemu failed after [0-9.]* s: qemu-system-x86_64: ' || fail "qemu failure report: $VM_OUT"

# Usage and setup errors: one line, nothing started.
expect_error "$TRUSTBOOT" vm
expect_error "$TRUSTBOOT" vm esp --cdrom --usb
expect_error "$TRUSTBOOT" vm esp --disk d.img:12Q --timeout 0
expect_error "$TRUSTBOOT" vm esp --disk a --disk b --disk c --disk d --disk e
expect_error "$TRUSTBOOT" vm esp --no-tpm --tpm-state x
expect_error "$TRUSTBOOT" vm esp --expect '('
assert_eq "$EXIT_STATUS" 2 "bad regex exit status"
expect_error "$TRUSTBOOT" vm does-not-exist.iso
contains 'does-not-exist.iso: cannot use as boot medium: No such file or directory' <<<"$ERR" || fail "missing medium: $ERR"
expect_error "$TRUSTBOOT" vm esp --disk missing.img
contains 'missing.img: does not exist; give a size' <<<"$ERR" || fail "disk without size: $ERR"
exit 0
