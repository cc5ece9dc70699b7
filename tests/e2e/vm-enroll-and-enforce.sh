#!/usr/bin/env bash
# Enrollment and enforcement on real firmware:
#  1. setup mode + systemd-boot `secure-boot-enroll force` with trustboot genkey's .auth files:
#     systemd-boot enrolls PK/KEK/db and resets the machine (the VM ends with "guest reset");
#  2. the same variable store, the ISO as a USB stick and as a CD-ROM: SecureBoot=1, SetupMode=0,
#     our signed UKI boots (through the signed systemd-boot);
#  3. a UKI with one changed byte, and one signed by another key: the firmware refuses them, and
#     `trustboot vm` stops at once with exit 1 and the refusal line.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need openssl

e2e_rootfs
cd "$WORK"
"$TRUSTBOOT" -q genkey e2e -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING || fail "genkey"
make_uki uki.efi
sign uki.efi uki-signed.efi keys/db.key keys/db.pem
sign "$SDBOOT" sdboot-signed.efi keys/db.key keys/db.pem

mkdir -p esp/EFI/BOOT esp/EFI/Linux esp/loader/keys/auto
cp sdboot-signed.efi esp/EFI/BOOT/BOOTX64.EFI
cp uki-signed.efi esp/EFI/Linux/tb.efi
cp keys/PK.auth keys/KEK.auth keys/db.auth esp/loader/keys/auto/
printf 'timeout 0\ndefault tb.efi\nsecure-boot-enroll force\nconsole-mode keep\n' >esp/loader/loader.conf
make_iso tb.iso esp

# 1. Enrollment: systemd-boot writes the keys, then resets; -no-reboot makes that the end.
vm tb.iso --usb --vars vars.fd --setup-mode --no-tpm --serial enroll.txt --timeout 180
assert_eq "$VM_RC" 0 "enrollment run (serial: $(tail -c 300 enroll.txt))"
echo "$VM_OUT" | contains "guest reset" || fail "enrollment did not end in a reset: $VM_OUT"
grep -a -q 'Enrolling secure boot keys' enroll.txt || fail "systemd-boot did not enroll: $(tail -c 300 enroll.txt)"

# 2. Enforced: the same store, kept by --vars; the hybrid ISO as a USB stick and as a CD-ROM.
for media in usb cdrom; do
  vm tb.iso --$media --vars vars.fd --no-tpm --serial sb-$media.txt --expect "^$MARKER\$" --timeout 240
  assert_eq "$VM_RC" 0 "Secure Boot run from $media (serial: $(tail -c 300 sb-$media.txt))"
  assert_eq "$(serial_value sb-$media.txt SecureBoot)" 1 "SecureBoot after enrollment ($media)"
  assert_eq "$(serial_value sb-$media.txt SetupMode)" 0 "SetupMode after enrollment ($media)"
done
grep -a -q 'QEMU USB' sb-usb.txt || fail "did not boot from the USB stick"
grep -a -q 'QEMU DVD-ROM' sb-cdrom.txt || fail "did not boot from the CD-ROM"

# 3. Refusals, the UKI straight as the removable-media loader so that nothing else gets a turn.
cp vars.fd vars-enrolled.fd
python3 - uki-signed.efi uki-tampered.efi <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(b'console=ttyS0')
assert i > 0
d[i] ^= 0x20                     # 'c' -> 'C': one byte of .cmdline, after signing
open(sys.argv[2], 'wb').write(d)
PY
openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=not enrolled/" \
  -keyout other.key -out other.pem 2>/dev/null
sign uki.efi uki-other.efi other.key other.pem
for bad in uki-tampered.efi uki-other.efi; do
  rm -rf bad && mkdir -p bad/EFI/BOOT && cp "$bad" bad/EFI/BOOT/BOOTX64.EFI
  cp vars-enrolled.fd vars-bad.fd
  vm bad --vars vars-bad.fd --no-tpm --serial "$bad.txt" --expect "^$MARKER\$" --timeout 180
  assert_eq "$VM_RC" 1 "$bad: exit status"
  echo "$VM_OUT" | contains "^trustboot vm: refused by firmware after [0-9.]* s: .*Access Denied" \
    || fail "$bad: not reported as a refusal: $VM_OUT"
  grep -a -q "$MARKER" "$bad.txt" && fail "$bad: the guest booted"
done
exit 0
