#!/usr/bin/env bash
# bench/build-uki.sh ROOTFS_DIR [LEVEL] — trustboot build-uki against the pipeline a user would
# otherwise script (find|cpio|zstd, objcopy, sbsign, systemd-measure, mkfs.vfat+mcopy, xorriso),
# and against the bound: zstd -T0 alone over the same cpio. Prints times, ratios and peak RSS.
# ROOTFS_DIR must hold boot/vmlinuz and etc/os-release. Needs: /usr/bin/time, the test packages.
set -euo pipefail
root="$(realpath "$1")"; level="${2:-6}"
tb="${TRUSTBOOT:-$(dirname "$0")/../build/src/cli/trustboot}"; tb="$(realpath "$tb")"
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub; sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
w="$(mktemp -d "${TMPDIR:-/var/tmp}/tb-bench.XXXXXX")"; trap 'rm -rf "$w"' EXIT
cd "$w"
"$tb" -q genkey Bench -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
now() { date +%s.%N; }
rss() { awk '/Maximum resident/ {print int($NF/1024) " MiB"}' "$1"; }
# Same start for everybody: the tree in the page cache (the first run would otherwise pay for
# every cold read and the others not).
find "$root" -type f -exec cat {} + > /dev/null 2>&1 || true

# 1. trustboot
t0=$(now)
/usr/bin/time -v "$tb" -q build-uki "dir:$root" -t iso -d tb -k keys --compression-level "$level" >/dev/null 2>tb.time
t_tb=$(echo "$(now) - $t0" | bc)

# 2. the peer pipeline (same steps, same zstd level, all cores)
t0=$(now)
(cd "$root" && find . -path ./boot -prune -o -path ./proc -prune -o -path ./sys -prune -o -path ./dev -prune \
   -o -path ./run -prune -o -path ./tmp -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet) \
   | zstd -q -T0 -"$level" > initrd
openssl pkey -in keys/tpm2-pcr-private.pem -pubout > pcrpkey.pem
printf 'console=tty1 console=ttyS0 panic=5 install-mode' > cmdline
/lib/systemd/systemd-measure calculate --linux="$root/boot/vmlinuz" --osrel="$root/etc/os-release" --cmdline=cmdline \
   --initrd=initrd --pcrpkey=pcrpkey.pem --bank=sha256 >/dev/null 2>&1
# (systemd-measure 252 can only sign with a TPM; trustboot measure sign stands in for the signature)
"$tb" measure sign --linux="$root/boot/vmlinuz" --osrel="$root/etc/os-release" --cmdline=cmdline --initrd=initrd \
   --pcrpkey=pcrpkey.pem --bank=sha256 --private-key=keys/tpm2-pcr-private.pem > pcrsig.json
objcopy --add-section .osrel="$root/etc/os-release" --change-section-vma .osrel=0x20000 \
   --add-section .cmdline=cmdline --change-section-vma .cmdline=0x30000 \
   --add-section .pcrpkey=pcrpkey.pem --change-section-vma .pcrpkey=0x40000 \
   --add-section .pcrsig=pcrsig.json --change-section-vma .pcrsig=0x50000 \
   --add-section .initrd=initrd --change-section-vma .initrd=0x3000000 \
   --add-section .linux="$root/boot/vmlinuz" --change-section-vma .linux=0x2000000 "$stub" uki.efi
sbsign --key keys/db.key --cert keys/db.pem --output uki-signed.efi uki.efi 2>/dev/null
sbsign --key keys/db.key --cert keys/db.pem --output BOOTX64.EFI "$sdboot" 2>/dev/null
size_kb=$(( ($(stat -c %s uki-signed.efi) + $(stat -c %s BOOTX64.EFI)) / 1024 * 102 / 100 + 4096 ))
mkdir iso && mkfs.vfat -C -n EFIBOOT iso/efiboot.img "$size_kb" >/dev/null
mmd -i iso/efiboot.img ::/EFI ::/EFI/BOOT ::/EFI/trustboot ::/loader
mcopy -i iso/efiboot.img BOOTX64.EFI ::/EFI/BOOT/BOOTX64.EFI
mcopy -i iso/efiboot.img uki-signed.efi ::/EFI/trustboot/norole.efi
xorriso -as mkisofs -quiet -V UKI_ISO_INSTALL -isohybrid-gpt-basdat -e efiboot.img -no-emul-boot -o peer.iso iso 2>/dev/null
t_peer=$(echo "$(now) - $t0" | bc)

# 3. the bound: compression alone
(cd "$root" && find . -path ./boot -prune -o -print | LC_ALL=C sort | cpio -o -H newc --quiet) > plain.cpio
t0=$(now); zstd -q -T0 -"$level" -c plain.cpio > /dev/null; t_bound=$(echo "$(now) - $t0" | bc)

printf 'rootfs %s (%s), zstd level %s, %s cores\n' "$root" "$(du -sh "$root" | cut -f1)" "$level" "$(nproc)"
printf '  trustboot build-uki -t iso   %6.2f s  (peak RSS %s)\n' "$t_tb" "$(rss tb.time)"
printf '  peer pipeline                %6.2f s\n' "$t_peer"
printf '  bound (zstd -T0 alone)       %6.2f s\n' "$t_bound"
printf '  peer / trustboot = %.2fx (target >= 2),  trustboot / bound = %.2fx (target <= 1.15)\n' \
  "$(echo "$t_peer / $t_tb" | bc -l)" "$(echo "$t_tb / $t_bound" | bc -l)"
