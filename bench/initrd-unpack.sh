#!/usr/bin/env bash
# bench/initrd-unpack.sh KERNEL INITRD... — the guest kernel's own time to unpack each initrd
# (its clock: "Trying to unpack rootfs image" → "Freeing initrd memory") and to reach /init, booted
# directly (-kernel/-initrd: no firmware, so one VM slot serves every initrd in a few minutes
# where a firmware boot of a 170 MiB UKI under TCG takes several). Runs the guests one after the
# other under /work/bin/vmslot where that exists (call it directly, not under vmslot). TCG: the
# absolute figures are the emulator's; compare the initrds with each other.
# Make the initrds with e.g. `trustboot initrd dir:ROOT -o initrd.6 --compression-level 6`.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 KERNEL INITRD..." >&2; exit 2; }
if [ -x /work/bin/vmslot ] && [ -z "${TB_IN_VMSLOT:-}" ]; then
  TB_IN_VMSLOT=1 exec /work/bin/vmslot "$0" "$@"
fi
kernel="$1"; shift
w="$(mktemp -d "${TMPDIR:-/var/tmp}/tb-bench-unpack.XXXXXX")"; trap 'rm -rf "$w"' EXIT
ktime() { sed -n "/$2/ s/^\[ *\([0-9.]*\)\].*/\1/p" "$1" | head -n 1; }
printf '%-24s %10s %9s %10s %7s\n' initrd MiB unpack_s to_init_s load
for rd in "$@"; do
  s="$w/serial"; rm -f "$s"
  qemu-system-x86_64 -accel tcg -m 3G -smp 1 -nodefaults -display none -no-reboot \
    -kernel "$kernel" -initrd "$rd" -append "console=ttyS0 panic=-1" -serial "file:$s" & q=$!
  for _ in $(seq 1 1200); do grep -a -q 'Run /init' "$s" 2>/dev/null && break; sleep 0.5; done
  kill "$q" 2>/dev/null; wait "$q" 2>/dev/null || true
  a=$(ktime "$s" 'Trying to unpack rootfs'); b=$(ktime "$s" 'Freeing initrd memory'); c=$(ktime "$s" 'Run \/init')
  printf '%-24s %10.1f %9s %10s %7s\n' "$(basename "$rd")" "$(echo "$(stat -c %s "$rd") / 1048576" | bc -l)" \
    "$([ -n "$a" ] && [ -n "$b" ] && echo "$b - $a" | bc || echo -)" "${c:--}" "$(cut -d' ' -f1 /proc/loadavg)"
done
