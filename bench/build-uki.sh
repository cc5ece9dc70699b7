#!/usr/bin/env bash
# bench/build-uki.sh — issue 19's acceptance bench, in one invocation: trustboot build-uki
# (-t iso, -t uki, -t container) against the pipeline a user would otherwise script
# (find|cpio|zstd, systemd-measure, objcopy, sbsign, mkfs.vfat+mcopy, xorriso) and against the
# bound: `zstd -T0 -LEVEL` alone over the same ready cpio. Same tree, page cache warm, RUNS
# rounds of every command in turn (round-robin: a change of a shared machine's load falls on all
# alike), the minimum kept. Optionally the same on a ~2 GiB tree (scale check), and a CPU profile
# of every command (perf) splitting its CPU into compression, libcrypto (hashing, signing), own
# code (cpio, tar, PE) and kernel. Writes a summary table with a yes/NO per acceptance target.
#
#   bench/build-uki.sh [OPTIONS] ROOTFS_DIR
#   bench/build-uki.sh --acceptance            # what issue 19 asks, see below
#
#   -l LEVEL          zstd level (default 6)
#   -r RUNS           rounds on ROOTFS_DIR (default 3)
#   -t TYPES          trustboot output types (default "iso uki container")
#   --big DIR         the scale check on DIR as well (a tree of ~2 GiB)
#   --make-big        create DIR if missing: ROOTFS_DIR plus the host's /usr/lib/x86_64-linux-gnu
#                     and /usr/lib/gcc, hard-linked (no space used; same file system needed)
#   --big-runs N      rounds on DIR (default 1)
#   --big-types TYPES trustboot types on DIR (default "iso")
#   --no-profile      no perf profile
#   --summary FILE    where the summary table goes (default ./build-uki-bench.md); it is also printed
#   --acceptance      = -l 6 -r 3 --big /var/tmp/tree2g --make-big --big-runs 1 --big-types iso
#                       /var/cache/trustboot-bench/debian12 (unless a ROOTFS_DIR is given); that tree
#                       is Debian 12 minbase + linux-image-amd64 + systemd (697 MB), made once with
#                       mmdebstrap --variant=minbase --include=linux-image-amd64,systemd
#                       --skip=cleanup/apt/lists bookworm /var/cache/trustboot-bench/debian12
#                     Takes ~5-6 min on a quiet 2-core machine with the inputs cached (27 min at
#                     load 12); perf (Debian: linux-perf) for the profile, else it is skipped.
#
# Per command: wall time, CPU time (user+sys of the command and its children), peak RSS, bytes
# written (write_bytes of /proc/PID/io: what reached the page cache for storage; "net" subtracts
# cancelled_write_bytes, i.e. scratch files deleted before write-back). Ratios: wall and CPU
# against the bound, and the peer against trustboot. On a machine whose cores the bound keeps
# busy, trustboot's CPU over the bound's is the floor of its wall ratio (the same cores must do
# that much more work); the summary prints both and each command's core utilisation
# (CPU / (wall x cores)) so that a loaded run can be told from a slow program.
# Targets (issue 19): -t iso <= 1.15 x bound and >= 2 x peer (wall), RSS < 128 MiB, bytes written
# <= 1.1 x the output. Duration on a quiet 2-core machine with cached inputs: see
# docs/notes/perf.md ("Measured"). ROOTFS_DIR needs etc/os-release and a kernel (boot/vmlinuz*).
# Not in `make check`. Run it `nice` on a shared machine: CPU times stay valid, wall times do not.
set -euo pipefail

level=6; runs=3; types="iso uki container"; big=""; make_big=0; big_runs=1; big_types="iso"
profile=1; summary="$PWD/build-uki-bench.md"; root=""; acceptance=0
while [ $# -gt 0 ]; do
  case "$1" in
    -l) level="$2"; shift 2 ;;
    -r) runs="$2"; shift 2 ;;
    -t) types="$2"; shift 2 ;;
    --big) big="$2"; shift 2 ;;
    --make-big) make_big=1; shift ;;
    --big-runs) big_runs="$2"; shift 2 ;;
    --big-types) big_types="$2"; shift 2 ;;
    --no-profile) profile=0; shift ;;
    --summary) summary="$(realpath -m "$2")"; shift 2 ;;
    --acceptance) acceptance=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-uki.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) root="$1"; shift ;;
  esac
done
if [ "$acceptance" = 1 ]; then
  level=6; runs=3; big="${big:-/var/tmp/tree2g}"; make_big=1; big_runs=1; big_types="iso"
  root="${root:-/var/cache/trustboot-bench/debian12}"
fi
[ -n "$root" ] || { echo "build-uki.sh: ROOTFS_DIR missing (see --help)" >&2; exit 2; }
root="$(realpath "$root")"
[ -e "$root/etc/os-release" ] || { echo "build-uki.sh: $root: no etc/os-release (see --help for the Debian tree)" >&2; exit 2; }
for tool in zstd cpio objcopy sbsign mkfs.vfat mcopy xorriso bc /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "build-uki.sh: $tool is needed" >&2; exit 2; }
done
if [ -n "$big" ] && [ ! -d "$big" ]; then
  [ "$make_big" = 1 ] || { echo "build-uki.sh: $big: missing (--make-big creates it)" >&2; exit 2; }
  mkdir -p "$(dirname "$big")"
  cp -al "$root" "$big.tmp"
  cp -al /usr/lib/x86_64-linux-gnu "$big.tmp/usr/lib/host-x86_64-linux-gnu"
  cp -al /usr/lib/gcc "$big.tmp/usr/lib/host-gcc"
  mv "$big.tmp" "$big"
fi
[ -z "$big" ] || big="$(realpath "$big")"
if [ "$profile" = 1 ] && ! command -v perf >/dev/null; then
  echo "build-uki.sh: perf not found: no CPU profile (apt-get install linux-perf)" >&2; profile=0
fi

tb="${TRUSTBOOT:-$(dirname "$0")/../build/src/cli/trustboot}"; tb="$(realpath "$tb")"
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub; sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
cores=$(nproc)
w="$(mktemp -d "${TMPDIR:-/var/tmp}/tb-bench.XXXXXX")"; trap 'rm -rf "$w"' EXIT
cd "$w"
started=$(date +%s)
export SOURCE_DATE_EPOCH=1700000000
"$tb" -q genkey Bench -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null 2>&1

kernel_of() { local k="$1/boot/vmlinuz"; [ -e "$k" ] || k="$(ls -v "$1"/boot/vmlinuz-* | tail -n1)"; echo "$k"; }

# The peer pipeline as a script: the same steps, same zstd level, all cores.
# peer.sh ROOT KERNEL OUT_ISO
cat > peer.sh <<EOF
set -e
root="\$1"; kernel="\$2"; out="\$3"; level='$level'; tb='$tb'
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
xorriso -as mkisofs -quiet -V UKI_ISO_INSTALL -isohybrid-gpt-basdat -e efiboot.img -no-emul-boot -o "\$out" iso 2>/dev/null
EOF

# measure KEY OUTPUT COMMAND...: one run; keeps the minimum wall and CPU time, the largest RSS,
# and the bytes written of the fastest run so far.
declare -A wall cpu rss wbytes cbytes osize
measure() {
  local key="$1" out="$2"
  shift 2
  rm -rf "$w/out" "$w/peer.iso"; sync
  /usr/bin/time -f "%e %U %S %M" -o t bash -c '"$@" >/dev/null 2>err; s=$?; grep -E "^(write_bytes|cancelled_write_bytes)" /proc/$$/io > io; exit $s' _ "$@" \
    || { echo "build-uki.sh: $key failed: $(tail -n3 err)" >&2; exit 1; }
  read -r e u s m < t
  local c; c=$(echo "$u + $s" | bc)
  if [ -z "${wall[$key]:-}" ] || [ "$(echo "$e < ${wall[$key]}" | bc)" = 1 ]; then
    wall[$key]=$e
    wbytes[$key]=$(awk '/^write_bytes/ {print $2}' io); cbytes[$key]=$(awk '/^cancelled/ {print $2}' io)
    osize[$key]=$( [ -e "$out" ] && du -sb --apparent-size "$out" | cut -f1 || echo 0)
  fi
  if [ -z "${cpu[$key]:-}" ] || [ "$(echo "$c < ${cpu[$key]}" | bc)" = 1 ]; then cpu[$key]=$c; fi
  if [ -z "${rss[$key]:-}" ] || [ "$m" -gt "${rss[$key]}" ]; then rss[$key]=$m; fi
}

# The bound's input: the same entries as the initrd, as a ready cpio.
make_cpio() {
  (cd "$1" && find . -path ./boot -prune -o -path ./proc -prune -o -path ./sys -prune -o -path ./dev -prune \
     -o -path ./run -prune -o -path ./tmp -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet) > "$2"
}

declare -A info loads
# bench_tree LABEL ROOT RUNS TYPES
bench_tree() {
  local label="$1" tree="$2" n="$3" tt="$4" kernel t i
  kernel="$(kernel_of "$tree")"
  make_cpio "$tree" "$label.cpio"
  # Same start for everybody: the tree and the cpio in the page cache.
  find "$tree" -type f -exec cat {} + > /dev/null 2>&1 || true
  cat "$label.cpio" > /dev/null
  info[$label]="$tree ($(du -sh --apparent-size "$tree" | cut -f1) apparent, $(find "$tree" | wc -l) entries)"
  loads[$label]=""
  for ((i = 0; i < n; i++)); do
    loads[$label]+="$(cut -d' ' -f1 /proc/loadavg) "
    measure "$label|bound" /dev/null bash -c 'zstd -q -T0 -"$1" -c "$2" > /dev/null' _ "$level" "$label.cpio"
    for t in $tt; do
      measure "$label|-t $t" "$w/out" "$tb" -q build-uki "dir:$tree" -t "$t" -d "$w/out" -k keys --compression-level "$level"
    done
    measure "$label|peer" "$w/peer.iso" bash peer.sh "$tree" "$kernel" "$w/peer.iso"
  done
  rm -f "$label.cpio"
}

bench_tree debian "$root" "$runs" "$types"
[ -z "$big" ] || bench_tree big "$big" "$big_runs" "$big_types"

# CPU profile: one build per type under perf (cpu-clock samples of every thread, kernel included
# when permitted), and the bound, split by where the samples fall: compression = libzstd (the
# zstd CLI links it statically: its own binary); libcrypto = the SHA-256 passes (PCR 11 digest,
# Authenticode, the checks, the layer digest) and the few RSA signatures (milliseconds; Debian's
# libcrypto has no symbols to tell them apart); own code = trustboot (cpio, PE checksum), libarchive,
# libc (copies); kernel = reads of the tree or the cpio, writes of the output, page faults.
declare -A prof
split_cpu() {
  perf report -i "$1" --no-children --sort dso --stdio 2>/dev/null | awk -v bin="$2" '
    /^#/ || NF < 2 { next }
    { p = $1; sub("%", "", p); dso = $2
      if (dso ~ /zstd/) c["compression"] += p
      else if (dso ~ /libcrypto/) c["libcrypto"] += p
      else if (dso ~ /kernel/ || dso ~ /vmlinux/) c["kernel"] += p
      else if (dso == bin || dso ~ /libarchive|libc[.-]/) c["own"] += p
      else c["other"] += p }
    END { printf "compression %.1f %%, libcrypto (hashing, signing) %.1f %%, own code (cpio, tar, PE, libc) %.1f %%, kernel %.1f %%, other %.1f %%",
                 c["compression"], c["libcrypto"], c["own"], c["kernel"], c["other"] }'
}
if [ "$profile" = 1 ]; then
  make_cpio "$root" prof.cpio
  if perf record -q -e cpu-clock -F 997 -o perf-bound.data -- zstd -q -T0 -"$level" -c prof.cpio >/dev/null 2>perf-err; then
    prof[bound]=$(split_cpu perf-bound.data zstd)
  else
    prof[bound]="perf failed: $(tail -n1 perf-err)"
  fi
  rm -f prof.cpio
  for t in $types; do
    rm -rf "$w/out"
    if perf record -q -e cpu-clock -F 997 -o "perf-$t.data" -- "$tb" -q build-uki "dir:$root" -t "$t" -d "$w/out" -k keys \
         --compression-level "$level" >/dev/null 2>perf-err; then
      prof[$t]=$(split_cpu "perf-$t.data" "$(basename "$tb")")
    else
      prof[$t]="perf failed: $(tail -n1 perf-err)"
    fi
  done
fi

# ---- summary ----
r2() { echo "if ($2 > 0) $1 / $2 else 0" | bc -l; }
table() {
  local label="$1" b="$1|bound" k o
  printf '| %s | wall s | CPU s | wall / bound | CPU / bound | cores busy | RSS MiB | output MiB | written / output | net |\n' "$label"
  printf '|---|---|---|---|---|---|---|---|---|---|\n'
  for k in "$label|bound" $(for t in $types $big_types; do echo "$label|-t $t"; done | sort -u | tr ' ' '#') "$label|peer"; do
    k="${k//#/ }"
    [ -n "${wall[$k]:-}" ] || continue
    o=${osize[$k]:-0}
    printf '| %s | %.2f | %.2f | %.2fx | %.2fx | %.2f | %d | %s | %s | %s |\n' "${k#*|}" "${wall[$k]}" "${cpu[$k]}" \
      "$(r2 "${wall[$k]}" "${wall[$b]}")" "$(r2 "${cpu[$k]}" "${cpu[$b]}")" "$(r2 "${cpu[$k]}" "(${wall[$k]} * $cores)")" \
      $((rss[$k] / 1024)) "$( [ "$o" -gt 0 ] && printf '%.1f' "$(r2 "$o" 1048576)" || echo -)" \
      "$( [ "$o" -gt 0 ] && printf '%.2fx' "$(r2 "${wbytes[$k]}" "$o")" || echo -)" \
      "$( [ "$o" -gt 0 ] && printf '%.2fx' "$(r2 "(${wbytes[$k]} - ${cbytes[$k]})" "$o")" || echo -)"
  done
}
verdicts() {
  local label="$1" b="$1|bound" t k
  for t in $types; do
    k="$label|-t $t"; [ -n "${wall[$k]:-}" ] || continue
    printf -- '- `-t %s`: wall %.2fx bound (<= 1.15: %s), CPU %.2fx bound (the floor of the wall ratio on %s busy cores); peer wall %.2fx, CPU %.2fx of it (>= 2: %s); RSS %d MiB (< 128: %s); written %.2fx output (<= 1.1: %s)\n' \
      "$t" "$(r2 "${wall[$k]}" "${wall[$b]}")" "$( [ "$(echo "${wall[$k]} <= 1.15 * ${wall[$b]}" | bc)" = 1 ] && echo yes || echo NO)" \
      "$(r2 "${cpu[$k]}" "${cpu[$b]}")" "$cores" \
      "$(r2 "${wall[$label|peer]}" "${wall[$k]}")" "$(r2 "${cpu[$label|peer]}" "${cpu[$k]}")" \
      "$( [ "$(echo "${wall[$label|peer]} >= 2 * ${wall[$k]}" | bc)" = 1 ] && echo yes || echo NO)" \
      $((rss[$k] / 1024)) "$( [ "${rss[$k]}" -lt $((128 * 1024)) ] && echo yes || echo NO)" \
      "$(r2 "${wbytes[$k]}" "${osize[$k]}")" "$( [ "$(echo "${wbytes[$k]} <= 1.1 * ${osize[$k]}" | bc)" = 1 ] && echo yes || echo NO)"
  done
}
{
  printf '# bench/build-uki.sh, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'trustboot %s (%s), zstd level %s, %s cores, page cache warm, minimum of the rounds; bound = `zstd -T0 -%s` over the ready cpio.\n\n' \
    "$("$tb" --version 2>/dev/null | head -n1)" "$tb" "$level" "$cores" "$level"
  printf '**Tree** %s, %s rounds, 1-min load at each round: %s; at the end %s\n\n' "${info[debian]}" "$runs" "${loads[debian]}" "$(cut -d' ' -f1 /proc/loadavg)"
  table debian; echo; verdicts debian; echo
  if [ -n "$big" ]; then
    printf '**Scale check** %s, %s round(s), 1-min load: %s\n\n' "${info[big]}" "$big_runs" "${loads[big]}"
    types="$big_types" table big; echo; types="$big_types" verdicts big; echo
  fi
  if [ "$profile" = 1 ]; then
    printf '**Where the CPU goes** (perf, one run each, the first tree; shares of each command'"'"'s samples):\n\n'
    printf -- '- bound (`zstd -T0 -%s`): %s\n' "$level" "${prof[bound]}"
    for t in $types; do printf -- '- `-t %s`: %s\n' "$t" "${prof[$t]}"; done
    echo
  fi
  printf 'The bound'"'"'s own CPU time is %.2f s (the first tree); "cores busy" = CPU / (wall x %s): under 1 per core means the command waited (for the disk, or for other processes of a loaded machine). Bench took %d s.\n' \
    "${cpu[debian|bound]}" "$cores" $(( $(date +%s) - started ))
} > "$summary.tmp"
mv "$summary.tmp" "$summary"
cat "$summary"
