#!/usr/bin/env bash
# bench/initrd-levels.sh ROOTFS_DIR [LEVELS] [BOOTS] — what the zstd level of the initrd costs and
# buys (issue 19): per level (default "3 6 9"), on the host: build-uki -t iso wall and CPU time,
# the initrd's size, and its single-threaded decompression time (`zstd -d -T1`, as the kernel
# unpacks it: one CPU, the same library); in the guest (BOOTS boots per level, default 1, 0 to
# skip; every QEMU run under /work/bin/vmslot where that exists; TCG here): the medium booted in
# setup mode until the kernel runs /init, split by the serial console into
#   menu_s     QEMU start (the VM slot taken) → systemd-boot's menu on the console
#   load_s     the menu → the stub's first line, less the menu's 5 s timeout: the UKI read from the
#              CD by systemd-boot through the firmware, and measured (host arrival times)
#   unpack_s   the kernel's own clock: "Trying to unpack rootfs image" → "Freeing initrd memory"
#   init_s     the kernel's own clock: "Freeing initrd memory" → "Run /init"
# Under TCG on a loaded machine every figure is stretched; compare the levels with each other.
# ROOTFS_DIR as for bench/build-uki.sh (a tree with a kernel, e.g. tests/images/debian.sh's).
set -euo pipefail
root="$(realpath "$1")"; levels="${2:-3 6 9}"; boots="${3:-1}"
tb="${TRUSTBOOT:-$(dirname "$0")/../build/src/cli/trustboot}"; tb="$(realpath "$tb")"
slot=(); [ -x /work/bin/vmslot ] && slot=(/work/bin/vmslot)
w="$(mktemp -d "${TMPDIR:-/var/tmp}/tb-bench-levels.XXXXXX")"; trap 'rm -rf "$w"' EXIT
cd "$w"
"$tb" -q genkey Bench -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
find "$root" -type f -exec cat {} + >/dev/null 2>&1 || true # page cache warm for every level

# The serial console with the host's arrival time of each line (absolute: no process per line,
# so that the stamps do not lag behind a fast console).
stamp() { # SERIAL OUT: follows SERIAL until killed
  tail -n +1 -F "$1" 2>/dev/null | while IFS= read -r line; do
    printf '%s %s\n' "$EPOCHREALTIME" "${line//$'\r'/}"
  done >"$2"
}
# at FILE REGEX T0: the arrival time (s after T0) of the first line matching REGEX, "-" when none.
at() { awk -v re="$2" -v t0="$3" '$0 ~ re { printf "%.2f\n", $1 - t0; found = 1; exit } END { if (!found) print "-" }' "$1"; }
# ktime FILE REGEX: the kernel's timestamp [ s.us ] of the first matching line.
ktime() { awk -v re="$2" '$0 ~ re { if (match($0, /\[ *[0-9]+\.[0-9]+\]/)) { s = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "", s); print s; found = 1; exit } } END { if (!found) print "-" }' "$1"; }
sub() { [ "$1" != - ] && [ "$2" != - ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }' || echo -; }

printf 'rootfs %s (%s apparent), %s cores, load %s\n' "$root" "$(du -sh --apparent-size "$root" | cut -f1)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %9s %8s %11s %12s %5s %7s %7s %9s %7s\n' level build_s cpu_s initrd_MiB decompress_s boot menu_s load_s unpack_s init_s
for l in $levels; do
  rm -rf "out$l"
  /usr/bin/time -f "%e %U %S" -o t "$tb" -q build-uki "dir:$root" -t iso -d "out$l" -k keys --compression-level "$l" >/dev/null
  read -r e u s < t; cpu=$(echo "$u + $s" | bc)
  iso=$(ls "out$l"/*.iso)
  xorriso -osirrox on -indev "$iso" -extract /efiboot.img esp.img >/dev/null 2>&1
  mcopy -n -i esp.img ::/EFI/trustboot/norole.efi uki.efi && rm -f esp.img
  objcopy -O binary --only-section=.initrd uki.efi initrd.zst && rm -f uki.efi
  size=$(stat -c %s initrd.zst)
  best=
  for i in 1 2 3; do # min of 3
    /usr/bin/time -f "%e" -o d zstd -q -d -T1 -c initrd.zst >/dev/null
    d=$(cat d); if [ -z "$best" ] || [ "$(echo "$d < $best" | bc)" = 1 ]; then best=$d; fi
  done
  rm -f initrd.zst
  for b in $(seq 1 "$boots"); do
    : >"boot$l.$b.txt"
    stamp "boot$l.$b.txt" "boot$l.$b.stamped" & sp=$!
    # t0 when the slot is taken (waiting for one is not boot time).
    "${slot[@]}" bash -c 'echo "$EPOCHREALTIME" > t0; exec "$@"' _ "$tb" vm "$iso" --setup-mode --memory 3G \
      --serial "boot$l.$b.txt" --expect 'Run /init as init process' --timeout 900 \
      >/dev/null 2>&1 || echo "level $l boot $b: the kernel did not start /init" >&2
    sleep 2; kill $sp 2>/dev/null; wait $sp 2>/dev/null || true
    f="boot$l.$b.stamped"; t0=$(cat t0)
    menu=$(at "$f" 'Reboot Into Firmware' "$t0")
    load=$(sub "$menu" "$(at "$f" 'EFI stub: ' "$t0")"); [ "$load" = - ] || load=$(awk -v a="$load" 'BEGIN { printf "%.2f", a - 5 }')
    unpack=$(sub "$(ktime "$f" 'Trying to unpack rootfs image')" "$(ktime "$f" 'Freeing initrd memory')")
    init=$(sub "$(ktime "$f" 'Freeing initrd memory')" "$(ktime "$f" 'Run /init as init process')")
    printf '%-5s %9.2f %8.2f %11.1f %12.3f %5s %7s %7s %9s %7s\n' "$l" "$e" "$cpu" "$(echo "$size / 1048576" | bc -l)" "$best" "$b" "$menu" "$load" "$unpack" "$init"
  done
  [ "$boots" -gt 0 ] || printf '%-5s %9.2f %8.2f %11.1f %12.3f %5s %7s %7s %9s %7s\n' "$l" "$e" "$cpu" "$(echo "$size / 1048576" | bc -l)" "$best" - - - - -
  rm -rf "out$l"
done
