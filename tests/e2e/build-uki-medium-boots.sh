#!/usr/bin/env bash
# The medium build-uki makes, on real firmware (OVMF, Secure Boot, swtpm):
#  1. fresh variables (setup mode) + ISO built with --secure-boot-enroll force: systemd-boot
#     enrolls PK/KEK/db from loader/keys/auto and resets;
#  2. next boot, from the ISO as a CD-ROM: SecureBoot=1, SetupMode=0, our signed UKI runs, the
#     stub hands over .pcrsig/.pcrpkey as /.extra files, and PCR 11 equals what
#     `trustboot measure calculate --uki` predicts for the UKI that booted (sections only: the
#     test init extends no phase);
#  3. the same ISO as a USB stick (hybrid GPT) boots under Secure Boot too.
# A file that compresses to nothing makes the initrd's size bound far larger than the initrd, so
# the ESP's first UKI is pinned behind a grown reserved area (the in-place initrd layout): the
# firmware must read that FAT as well.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"

e2e_rootfs
cd "$WORK"
"$TRUSTBOOT" -q genkey e2e -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING || fail "genkey"
mkdir -p padding/var && head -c 64M /dev/zero > padding/var/zeros
iso=$("$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -o padding -t iso -d out -k keys \
      --secure-boot-enroll force --name medium) || fail "build-uki"
xorriso -osirrox on -indev "$iso" -extract /efiboot.img pinned.img >/dev/null 2>&1 || fail "no ESP in the ISO"
reserved=$(od -An -tu2 -j14 -N2 pinned.img | tr -d ' ')
[ "$reserved" -gt 32 ] || fail "the ESP's reserved area did not grow ($reserved sectors): the pinned layout is not exercised"
rm -f pinned.img

# 1. Enrollment by systemd-boot, ending in a reset.
vm "$iso" --cdrom --vars vars.fd --setup-mode --no-tpm --serial enroll.txt --timeout 180
assert_eq "$VM_RC" 0 "enrollment run (serial: $(tail -c 300 enroll.txt))"
echo "$VM_OUT" | contains "guest reset" || fail "enrollment did not end in a reset: $VM_OUT"
grep -a -q 'Enrolling secure boot keys' enroll.txt || fail "systemd-boot did not enroll: $(tail -c 300 enroll.txt)"

# 2. Secure Boot from the CD-ROM, with a TPM: measured as predicted.
vm "$iso" --cdrom --vars vars.fd --serial cd.txt --expect "^$MARKER\$" --timeout 240
assert_eq "$VM_RC" 0 "Secure Boot run from the CD-ROM (serial: $(tail -c 300 cd.txt))"
grep -a -q 'QEMU DVD-ROM' cd.txt || fail "did not boot from the CD-ROM"
assert_eq "$(serial_value cd.txt SecureBoot)" 1 "SecureBoot"
assert_eq "$(serial_value cd.txt SetupMode)" 0 "SetupMode"
assert_eq "$(serial_value cd.txt tpm2-pcr-signature.json)" present "/.extra/tpm2-pcr-signature.json"
assert_eq "$(serial_value cd.txt tpm2-pcr-public-key.pem)" present "/.extra/tpm2-pcr-public-key.pem"
xorriso -osirrox on -indev "$iso" -extract /efiboot.img esp.img >/dev/null 2>&1 || fail "no ESP in the ISO"
mcopy -n -i esp.img ::/EFI/trustboot/norole.efi norole.efi || fail "no norole.efi in the ESP"
predicted=$("$TRUSTBOOT" measure calculate --uki norole.efi --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
[ -n "$predicted" ] || fail "no prediction"
assert_eq "$(serial_value cd.txt PCR11-sha256)" "$predicted" "PCR 11 measured by the stub vs predicted"

# 3. The same ISO as a USB stick.
vm "$iso" --usb --vars vars.fd --no-tpm --serial usb.txt --expect "^$MARKER\$" --timeout 240
assert_eq "$VM_RC" 0 "Secure Boot run from USB (serial: $(tail -c 300 usb.txt))"
grep -a -q 'QEMU USB' usb.txt || fail "did not boot from the USB stick"
assert_eq "$(serial_value usb.txt SecureBoot)" 1 "SecureBoot from USB"
exit 0
