# Sourced by e2e scripts after ../interop/lib/common.sh: the test root filesystem, hand-made UKIs
# (objcopy + the systemd stub + sbsign, as build-uki's output will look), ESP trees and ISOs, and
# a VM runner that checks that no process outlives the VM.
need qemu-system-x86_64 swtpm objcopy sbsign xorriso mkfs.vfat mcopy cpio

STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -e "$STUB" ] && [ -e "$SDBOOT" ] || { echo "SKIP: systemd-boot-efi not installed" >&2; exit 77; }
ovmf=no
for f in /usr/share/OVMF/OVMF_CODE_4M.secboot.fd /usr/share/OVMF/OVMF_CODE.secboot.fd \
         /usr/share/edk2/ovmf-4m/OVMF_CODE.secboot.fd /usr/share/edk2/ovmf/OVMF_CODE.secboot.fd \
         /usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd /usr/share/edk2/x64/OVMF_CODE.secboot.fd \
         /usr/share/edk2-ovmf/x64/OVMF_CODE.secboot.fd; do [ -e "$f" ] && ovmf=yes; done
[ $ovmf = yes ] || { echo "SKIP: no OVMF Secure Boot firmware installed" >&2; exit 77; }
MARKER=TB-ROOTFS-DONE
# trustboot vm's runtime dirs go into $WORK, so that even one left by a SIGKILL is removed.
export TMPDIR="$WORK"

# e2e_rootfs [--trustboot]: the cached test rootfs (kernel, initrd); sets ROOTFS. With --trustboot
# the tree also holds trustboot and its libraries (a 5x bigger initrd: only where the guest runs it).
e2e_rootfs() {
  local cache="${TB_ROOTFS_CACHE:-${TB_BUILDDIR:-$WORK}/tests/rootfs-cache}" tb=()
  [ "${1:-}" = --trustboot ] && tb=(--trustboot "$TRUSTBOOT")
  ROOTFS="$("$TB_SRCDIR/tests/rootfs/build.sh" "${tb[@]}" "$cache")" || fail "tests/rootfs/build.sh failed"
}

# make_uki OUT [CMDLINE [PCRKEY]]: an unsigned UKI of the test rootfs, section addresses as in
# systemd-stub(7). With PCRKEY (a PEM private key) it also carries .pcrpkey and a .pcrsig made by
# `trustboot measure sign` for the no-phase value, which is what a busybox initrd leaves in PCR 11.
make_uki() {
  local out="$1" cmdline="${2:-console=ttyS0 panic=-1 quiet}" pcrkey="${3:-}" extra=()
  printf 'NAME="trustboot e2e"\nID=trustboot-e2e\nVERSION_ID=1\n' >"$WORK/osrel"
  printf '%s' "$cmdline" >"$WORK/cmdline"
  if [ -n "$pcrkey" ]; then
    openssl pkey -in "$pcrkey" -pubout -out "$WORK/pcrpkey" 2>/dev/null || fail "openssl pkey $pcrkey"
    "$TRUSTBOOT" measure sign --linux="$ROOTFS/vmlinuz" --osrel="$WORK/osrel" --cmdline="$WORK/cmdline" \
      --initrd="$ROOTFS/initrd.img" --pcrpkey="$WORK/pcrpkey" --bank=sha256 --phase= \
      --private-key="$pcrkey" --public-key="$WORK/pcrpkey" >"$WORK/pcrsig" || fail "trustboot measure sign"
    extra=(--add-section .pcrsig="$WORK/pcrsig" --change-section-vma .pcrsig=0x40000
           --add-section .pcrpkey="$WORK/pcrpkey" --change-section-vma .pcrpkey=0x50000)
  fi
  objcopy \
    --add-section .osrel="$WORK/osrel" --change-section-vma .osrel=0x20000 \
    --add-section .cmdline="$WORK/cmdline" --change-section-vma .cmdline=0x30000 \
    "${extra[@]}" \
    --add-section .linux="$ROOTFS/vmlinuz" --change-section-vma .linux=0x2000000 \
    --add-section .initrd="$ROOTFS/initrd.img" --change-section-vma .initrd=0x3000000 \
    "$STUB" "$out"
}

# sign IN OUT KEY CERT
sign() { sbsign --key "$3" --cert "$4" --output "$2" "$1" 2>/dev/null >/dev/null || fail "sbsign $1"; }

# make_iso OUT DIR: a hybrid ISO (El Torito EFI image that is also an appended GPT/MBR ESP
# partition) holding DIR as its ESP, so that it boots as a CD-ROM and as a USB stick.
make_iso() {
  local out="$1" dir="$2" kib
  kib=$(( $(du -sk "$dir" | cut -f1) + 1024 ))
  rm -f "$WORK/efiboot.img"
  mkfs.vfat -C -n EFIBOOT "$WORK/efiboot.img" "$kib" >/dev/null
  mcopy -s -i "$WORK/efiboot.img" "$dir"/* ::/
  mkdir -p "$WORK/isoroot"
  xorriso -as mkisofs -o "$out" -V TBE2E -J -R -append_partition 2 0xef "$WORK/efiboot.img" \
    -e --interval:appended_partition_2:all:: -no-emul-boot -partition_cyl_align all "$WORK/isoroot" 2>/dev/null \
    || fail "xorriso $out"
}

# seed_medium [BUILD-UKI ARGS…]: in $WORK, demo keys (keys/), the seed's example cloud-config as
# overlay/etc/trustboot/config.yaml and the install medium out/medium.iso built from the test rootfs
# with them (systemd-boot enrolls the keys: force). The scenarios of an installed node start here.
seed_medium() {
  "$TRUSTBOOT" -q genkey demo -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null || fail "genkey"
  mkdir -p overlay/etc/trustboot
  cp "$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml" overlay/etc/trustboot/config.yaml
  "$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -o overlay -t iso -d out -k keys --secure-boot-enroll force \
    -n medium "$@" >/dev/null || fail "build-uki"
}

# install_node ISO [ENROLL_TIMEOUT [INSTALL_TIMEOUT]]: two boots of the install medium with
# vars.fd and the TPM state tpm/ — in setup mode (systemd-boot enrolls the keys and resets; serial
# s0.txt), then under Secure Boot with a blank disk.img of 1200 MiB, which it installs (s1.txt; s1
# without CRs). Fails unless both runs end well and the install says it installed /dev/vda.
install_node() {
  local iso="$1" enroll_timeout="${2:-120}" install_timeout="${3:-600}"
  vm "$iso" --setup-mode --vars vars.fd --tpm-state tpm --serial s0.txt --timeout "$enroll_timeout"
  assert_eq "$VM_RC" 0 "enroll run (serial: $(tail -c 600 s0.txt))"
  vm "$iso" --vars vars.fd --tpm-state tpm --disk disk.img:1200M --memory 1536 --serial s1.txt --timeout "$install_timeout"
  assert_eq "$VM_RC" 0 "install run (serial: $(tail -c 600 s1.txt))"
  tr -d '\r' <s1.txt >s1
  contains -a 'trustboot install: /dev/vda: installed' s1 || fail "no install: $(grep -a trustboot s1 | tail -n 5)"
}

# vm ARGS...: `trustboot vm` with a pid file; sets VM_RC, VM_OUT (stdout+stderr) and checks that
# neither qemu nor swtpm is still alive afterwards.
vm() {
  local pidfile="$WORK/vm.pids" start end
  rm -f "$pidfile"
  start=$EPOCHREALTIME
  VM_RC=0
  VM_OUT="$("$TRUSTBOOT" vm --pid-file "$pidfile" "$@" 2>&1)" || VM_RC=$?
  end=$EPOCHREALTIME
  echo "vm $*: rc=$VM_RC, $(awk "BEGIN{printf \"%.1f\", $end - $start}") s: $VM_OUT" >&2
  assert_no_survivors "$pidfile"
}

assert_no_survivors() {
  local name pid
  [ -s "$1" ] || return 0
  while read -r name pid; do
    [ "$pid" -gt 0 ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      fail "$name (pid $pid) survived the VM: $(tr '\0' ' ' </proc/$pid/cmdline 2>/dev/null)"
    fi
  done <"$1"
}

# serial_value FILE KEY: the value of a "TB-ROOTFS KEY=VALUE" line. The firmware's and
# systemd-boot's screen drawing (escape sequences, no newline) may precede it on the same line.
serial_value() {
  tr -d '\r' <"$1" | LC_ALL=C sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' -e 's/.*\(TB-ROOTFS \)/\1/' |
    sed -n "s/^TB-ROOTFS $2=//p" | sed -n 1p
}
