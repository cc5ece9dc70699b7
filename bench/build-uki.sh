#!/usr/bin/env bash
# bench/build-uki.sh ROOTFS_DIR [LEVEL] [RUNS] — trustboot build-uki against the pipeline a user
# would otherwise script (find|cpio|zstd, objcopy, sbsign, systemd-measure, mkfs.vfat+mcopy,
# xorriso) and against the bound: `zstd -T0 -LEVEL` alone over the same ready cpio. All in one
# run, on the same tree, page cache warm; RUNS rounds (default 3) of every command in turn, the minimum kept.
#
# Per command: wall time, CPU time (user+sys: what a loaded machine does not inflate), peak RSS,
# bytes written (write_bytes of /proc/PID/io: what reached the page cache for storage;
# "net" subtracts cancelled_write_bytes, i.e. scratch files deleted before write-back).
# Targets (issue 19): trustboot -t iso <= 1.15 x bound, >= 2 x peer, RSS < 128 MiB, bytes
# written <= 1.1 x the output. TYPES="iso uki container" picks the trustboot output types.
# ROOTFS_DIR needs etc/os-release and a kernel (boot/vmlinuz or boot/vmlinuz-*). Not in `make check`.
set -euo pipefail
root="$(realpath "$1")"; level="${2:-6}"; runs="${3:-3}"; types="${TYPES:-iso uki container}"
tb="${TRUSTBOOT:-$(dirname "$0")/../build/src/cli/trustboot}"; tb="$(realpath "$tb")"
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub; sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
kernel="$root/boot/vmlinuz"; [ -e "$kernel" ] || kernel="$(ls -v "$root"/boot/vmlinuz-* | tail -n1)"
w="$(mktemp -d "${TMPDIR:-/var/tmp}/tb-bench.XXXXXX")"; trap 'rm -rf "$w"' EXIT
cd "$w"
"$tb" -q genkey Bench -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null

# The peer pipeline as a script: the same steps, same zstd level, all cores.
cat > peer.sh <<EOF
set -e
root='$root'; kernel='$kernel'; level='$level'; tb='$tb'
rm -rf peer && mkdir peer && cd peer
(cd "\$root" && find . -path ./boot -prune -o -path ./proc -prune -o -path ./sys -prune -o -path ./dev -prune \\
   -o -path ./run -prune -o -path ./tmp -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet) \\
   | zstd -q -T0 -"\$level" > initrd
openssl pkey -in ../keys/tpm2-pcr-private.pem -pubout > pcrpkey.pem
printf 'console=tty1 console=ttyS0 panic=5 install-mode' > cmdline
/lib/systemd/systemd-measure calculate --linux="\$kernel" --osrel="\$root/etc/os-release" --cmdline=cmdline \\
   --initrd=initrd --pcrpkey=pcrpkey.pem --bank=sha256 >/dev/null 2>&1
# (systemd-measure 252 signs only with a TPM; trustboot measure sign stands in for the signature)
"\$tb" measure sign --linux="\$kernel" --osrel="\$root/etc/os-release" --cmdline=cmdline --initrd=initrd \\
   --pcrpkey=pcrpkey.pem --bank=sha256 --private-key=../keys/tpm2-pcr-private.pem > pcrsig.json
objcopy --add-section .osrel="\$root/etc/os-release" --change-section-vma .osrel=0x20000 \\
   --add-section .cmdline=cmdline --change-section-vma .cmdline=0x30000 \\
   --add-section .pcrpkey=pcrpkey.pem --change-section-vma .pcrpkey=0x40000 \\
   --add-section .pcrsig=pcrsig.json --change-section-vma .pcrsig=0x50000 \\
   --add-section .initrd=initrd --change-section-vma .initrd=0x3000000 \\
   --add-section .linux="\$kernel" --change-section-vma .linux=0x2000000 $stub uki.efi
sbsign --key ../keys/db.key --cert ../keys/db.pem --output uki-signed.efi uki.efi 2>/dev/null
sbsign --key ../keys/db.key --cert ../keys/db.pem --output BOOTX64.EFI $sdboot 2>/dev/null
size_kb=\$(( (\$(stat -c %s uki-signed.efi) + \$(stat -c %s BOOTX64.EFI)) / 1024 * 102 / 100 + 4096 ))
mkdir iso && mkfs.vfat -C -n EFIBOOT iso/efiboot.img "\$size_kb" >/dev/null
mmd -i iso/efiboot.img ::/EFI ::/EFI/BOOT ::/EFI/trustboot ::/loader
mcopy -i iso/efiboot.img BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI
mcopy -i iso/efiboot.img uki-signed.efi ::/EFI/trustboot/norole.efi
xorriso -as mkisofs -quiet -V UKI_ISO_INSTALL -isohybrid-gpt-basdat -e efiboot.img -no-emul-boot -o ../peer.iso iso 2>/dev/null
EOF

# The bound's input: the same entries as the initrd, as a ready cpio.
(cd "$root" && find . -path ./boot -prune -o -path ./proc -prune -o -path ./sys -prune -o -path ./dev -prune \
   -o -path ./run -prune -o -path ./tmp -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet) > plain.cpio
# Same start for everybody: the tree and the cpio in the page cache.
find "$root" -type f -exec cat {} + > /dev/null 2>&1 || true
cat plain.cpio > /dev/null

# measure NAME OUTPUT COMMAND...: one run; keeps the minimum wall and CPU time, the largest RSS,
# and the bytes written of the fastest run so far.
declare -A wall cpu rss wbytes cbytes osize
measure() {
  local name="$1" out="$2"
  shift 2
  rm -rf "$w/out"; sync
  /usr/bin/time -f "%e %U %S %M" -o t bash -c '"$@" >/dev/null; s=$?; grep -E "^(write_bytes|cancelled_write_bytes)" /proc/$$/io > io; exit $s' _ "$@"
  read -r e u s m < t
  local c; c=$(echo "$u + $s" | bc)
  if [ -z "${wall[$name]:-}" ] || [ "$(echo "$e < ${wall[$name]}" | bc)" = 1 ]; then
    wall[$name]=$e
    wbytes[$name]=$(awk '/^write_bytes/ {print $2}' io); cbytes[$name]=$(awk '/^cancelled/ {print $2}' io)
    osize[$name]=$(du -sb --apparent-size "$out" | cut -f1)
  fi
  if [ -z "${cpu[$name]:-}" ] || [ "$(echo "$c < ${cpu[$name]}" | bc)" = 1 ]; then cpu[$name]=$c; fi
  if [ -z "${rss[$name]:-}" ] || [ "$m" -gt "${rss[$name]}" ]; then rss[$name]=$m; fi
}

# Round-robin: every command once per round, so that a change of the machine's load during the
# bench (it is shared) falls on all of them alike.
loads=()
for ((i = 0; i < runs; i++)); do
  loads+=("$(cut -d' ' -f1 /proc/loadavg)")
  measure "bound (zstd -T0 -$level)" /dev/null bash -c 'zstd -q -T0 -"$1" -c plain.cpio > /dev/null' _ "$level"
  for t in $types; do
    measure "trustboot -t $t" "$w/out" "$tb" -q build-uki "dir:$root" -t "$t" -d "$w/out" -k keys --compression-level "$level"
  done
  measure "peer pipeline" "$w/peer.iso" bash peer.sh
done

printf 'rootfs %s (%s apparent, %s entries), zstd level %s, %s cores, min of %s rounds, 1-min load at each round %s, at the end %s\n' "$root" \
  "$(du -sh --apparent-size "$root" | cut -f1)" "$(find "$root" | wc -l)" "$level" "$(nproc)" "$runs" "${loads[*]}" "$(cut -d' ' -f1 /proc/loadavg)"
printf '  %-26s %8s %8s %9s %10s %10s %10s\n' "" "wall s" "CPU s" "RSS MiB" "output MiB" "written" "net"
for n in "${!wall[@]}"; do
  o=${osize[$n]}; [ "$o" -gt 0 ] 2>/dev/null || o=0
  printf '  %-26s %8.2f %8.2f %9d %10.1f %9.2fx %9.2fx\n' "$n" "${wall[$n]}" "${cpu[$n]}" $((rss[$n] / 1024)) \
    "$(echo "$o / 1048576" | bc -l)" "$(echo "if ($o > 0) ${wbytes[$n]} / $o else 0" | bc -l)" \
    "$(echo "if ($o > 0) (${wbytes[$n]} - ${cbytes[$n]}) / $o else 0" | bc -l)"
done | sort
b="bound (zstd -T0 -$level)"
if [ -n "${wall[trustboot -t iso]:-}" ]; then
  i="trustboot -t iso"
  printf '  -t iso / bound: wall %.2fx, CPU %.2fx (target <= 1.15); peer / -t iso: wall %.2fx, CPU %.2fx (target >= 2)\n' \
    "$(echo "${wall[$i]} / ${wall[$b]}" | bc -l)" "$(echo "${cpu[$i]} / ${cpu[$b]}" | bc -l)" \
    "$(echo "${wall[peer pipeline]} / ${wall[$i]}" | bc -l)" "$(echo "${cpu[peer pipeline]} / ${cpu[$i]}" | bc -l)"
fi
