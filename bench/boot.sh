#!/usr/bin/env bash
# bench/boot.sh [RUNS] — a Debian 12 node (tests/images/debian.sh) installed from the seed's medium,
# then booted from its disk RUNS times (default 2) under QEMU as `trustboot vm` runs it (TCG here):
#   boot        QEMU start → systemd's "Reached target Multi-User System" on the serial console
#               (host wall clock: `trustboot vm --expect` stops the VM on that line)
#   init        trustboot init's own share, from its timing lines on the console: module loading,
#               unlocking, the hand-over, and its total (PID 1 start → exec of /sbin/init)
#   memory      the guest's memory in use at the hand-over (its /proc/meminfo, as init reports it)
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
"${slot[@]}" "$tb" vm "$iso" --vars vars.fd --tpm-state tpm --disk disk.img:8G --memory 3G --serial install.txt --timeout 1200 >/dev/null 2>&1 ||
  { log "install failed: $(tr -d '\r' <install.txt | grep -a trustboot | tail -n 5)"; exit 1; }
mkdir -p empty

# ms VALUE UNIT → milliseconds
ms() { awk -v v="$1" -v u="$2" 'BEGIN { printf "%d", (u == "s" ? v * 1000 : u == "us" ? v / 1000 : v) }'; }
# init_ms SERIAL WHAT: the first "trustboot init: … WHAT … in N ms|s" timing on the console.
init_ms() {
  local line
  line="$(tr -d '\r' <"$1" | grep -a -i "^trustboot init: .*$2.* in [0-9.]* *[mu]\?s\b" | head -n 1)" || true
  [ -n "$line" ] || { echo "-"; return; }
  set -- $(echo "$line" | sed -n 's/.* in \([0-9.]*\) *\([mu]\?s\)\b.*/\1 \2/p')
  ms "$1" "$2"
}
unpacked_mib=$(( $(du -s --apparent-size -B1 "$img/rootfs" | cut -f1) / 1048576 ))
printf '%-4s %10s %10s %10s %10s %10s %8s %12s %12s\n' run boot_ms init_ms init_% modules_ms unlock_ms handover_ms mem_MiB mem/image
for i in $(seq 1 "$runs"); do
  t0=$EPOCHREALTIME
  "${slot[@]}" "$tb" vm empty --vars vars.fd --tpm-state tpm --disk disk.img --memory 3G --serial "boot$i.txt" \
    --expect 'Reached target.*Multi-User System' --timeout 900 >/dev/null 2>&1 || { log "boot $i did not reach multi-user.target"; exit 1; }
  boot=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
  init=$(init_ms "boot$i.txt" 'total\|init done\|handing over\|exec')
  mods=$(init_ms "boot$i.txt" 'module')
  unlock=$(init_ms "boot$i.txt" 'unlock')
  hand=$(init_ms "boot$i.txt" 'hand-over\|handover\|switch')
  mem="$(tr -d '\r' <"boot$i.txt" | grep -a -i '^trustboot init: .*mem' | sed -n 's/.*[^0-9]\([0-9][0-9]*\) *MiB.*/\1/p' | head -n 1)"
  pct=-; [ "$init" != - ] && pct=$(awk -v a="$init" -v b="$boot" 'BEGIN { printf "%.1f", 100 * a / b }')
  ratio=-; [ -n "$mem" ] && ratio=$(awk -v a="$mem" -v b="$unpacked_mib" 'BEGIN { printf "%.2f", a / b }')
  printf '%-4s %10s %10s %10s %10s %10s %8s %12s %12s\n' "$i" "$boot" "$init" "$pct" "$mods" "$unlock" "$hand" "${mem:--}" "$ratio"
done
echo "unpacked image: $unpacked_mib MiB ($img/rootfs); UKI: $(du -h "$iso" | cut -f1) ISO; accel: $(grep -a -o 'accel=[a-z]*' boot1.txt 2>/dev/null | head -n 1 || echo 'as trustboot vm chose')"
