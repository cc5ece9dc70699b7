#!/usr/bin/env bash
# bench/boot.sh [RUNS] — a Debian 12 node (tests/images/debian.sh) installed from the seed's medium,
# then booted from its disk RUNS times (default 2) under QEMU as `trustboot vm` runs it (TCG here):
#   boot        QEMU start → systemd's "Reached target Multi-User System" on the serial console
#               (host wall clock: `trustboot vm --expect` stops the VM on that line)
#   init        trustboot init's share: its first console line → its "exec /sbin/init" line (host
#               arrival times of the serial lines), of which module loading (init's own count),
#               unlocking (booted from disk → /usr/local mounted) and the hand-over (→ exec)
#   memory      the guest's memory in use at the hand-over (init reports it from /proc/meminfo)
#               against the unpacked image (the tree's apparent size)
# Prints one table. Needs what the real-image test needs (make deps); every VM run under
# /work/bin/vmslot where that exists. Goal (issue 14): init ≤ 10 % of the boot, memory ≤ 1.1×.
set -euo pipefail
runs="${1:-2}"
top="$(cd "$(dirname "$0")/.." && pwd)"
tb="${TRUSTBOOT:-$top/build/src/cli/trustboot}"; tb="$(realpath "$tb")"
slot=(); [ -x /work/bin/vmslot ] && slot=(/work/bin/vmslot)
cache="${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}"
w="$(mktemp -d "${TMPDIR:-/var/tmp}/tb-bench-boot.XXXXXX")"; trap 'rm -rf "$w"' EXIT
log() { echo "bench/boot: $*" >&2; }

deb="$(bash "$top/scripts/build-deb.sh" "$cache/deb")"
img="$(bash "$top/tests/images/debian.sh" --deb "$deb" "$cache")"
cd "$w"
"$tb" -q genkey Bench -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
mkdir -p overlay/etc/trustboot
cp "$top/tests/e2e/fixtures/seed-install-config.yaml" overlay/etc/trustboot/config.yaml
iso="$("$tb" -q build-uki "dir:$img/rootfs" -o overlay -t iso -d out -k keys | tail -n 1)"
log "enroll + install (not timed)"
"${slot[@]}" "$tb" vm "$iso" --setup-mode --vars vars.fd --tpm-state tpm --timeout 600 >/dev/null 2>&1 || { log "enrollment failed"; exit 1; }
"${slot[@]}" "$tb" vm "$iso" --vars vars.fd --tpm-state tpm --disk disk.img:8G --memory 3G --serial install.txt --expect ': installed$' --timeout 1200 >/dev/null 2>&1 ||
  { log "install failed: $(tr -d '\r' <install.txt | grep -a trustboot | tail -n 5)"; exit 1; }
mkdir -p empty

# The serial console with the host's arrival time of each line (seconds since QEMU start).
stamp() { # SERIAL OUT T0: follows SERIAL until killed
  tail -n +1 -F "$1" 2>/dev/null | while IFS= read -r line; do
    printf '%s %s\n' "$(awk -v a="$3" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')" "${line//$'\r'/}"
  done >"$2"
}
# at FILE REGEX: the arrival time (s) of the first line matching REGEX, "-" when none.
at() { awk -v re="$2" '$0 ~ re { print $1; found = 1; exit } END { if (!found) print "-" }' "$1"; }
# span FILE FROM TO: seconds between two lines, "-" when one is missing.
span() { local a b; a=$(at "$1" "$2"); b=$(at "$1" "$3"); [ "$a" != - ] && [ "$b" != - ] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }' || echo -; }
unpacked_mib=$(( $(du -s --apparent-size -B1 "$img/rootfs" | cut -f1) / 1048576 ))
printf '%-4s %9s %9s %9s %7s %10s %9s %11s %9s %9s\n' run boot_s kernel_s init_s init_% modules_ms unlock_s handover_s mem_MiB mem/image
for i in $(seq 1 "$runs"); do
  : >"boot$i.txt"
  t0=$EPOCHREALTIME
  stamp "boot$i.txt" "boot$i.stamped" "$t0" & sp=$!
  "${slot[@]}" "$tb" vm empty --vars vars.fd --tpm-state tpm --disk disk.img --memory 3G --serial "boot$i.txt" \
    --expect 'Reached target.*Multi-User System' --timeout 900 >/dev/null 2>&1 || { kill $sp; log "boot $i did not reach multi-user.target"; exit 1; }
  boot=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  sleep 1; kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
  f="boot$i.stamped"
  kernel=$(at "$f" 'Linux version')                               # firmware + systemd-boot + stub
  init=$(span "$f" '^[0-9.]+ trustboot init: ' 'trustboot init: exec ')
  mods=$(grep -a -o 'kernel modules: .* in [0-9]* ms' "$f" | sed -n 's/.* in \([0-9]*\) ms$/\1/p' | head -n 1)
  unlock=$(span "$f" 'trustboot init: booted from disk' 'trustboot init: .* mounted at /usr/local')
  hand=$(span "$f" 'trustboot init: .* mounted at /efi|trustboot init: .* mounted at /usr/local' 'trustboot init: exec ')
  mem=$(grep -a -o 'memory in use [0-9.]* MiB before, [0-9.]* MiB after' "$f" | awk '{ b = $4; a = $7; print (a > b ? a : b) }' | head -n 1)
  pct=-; [ "$init" != - ] && pct=$(awk -v a="$init" -v b="$boot" 'BEGIN { printf "%.1f", 100 * a / b }')
  ratio=-; [ -n "$mem" ] && ratio=$(awk -v a="$mem" -v b="$unpacked_mib" 'BEGIN { printf "%.2f", a / b }')
  printf '%-4s %9s %9s %9s %7s %10s %9s %11s %9s %9s\n' "$i" "$boot" "$kernel" "$init" "$pct" "${mods:--}" "$unlock" "$hand" "${mem:--}" "$ratio"
done
echo "boot_s: QEMU start → 'Reached target Multi-User System'; kernel_s: → 'Linux version' (firmware, systemd-boot, stub, UKI load);"
echo "init_s: first 'trustboot init:' line → 'exec /sbin/init' (host arrival times of console lines); unpacked image $unpacked_mib MiB"
