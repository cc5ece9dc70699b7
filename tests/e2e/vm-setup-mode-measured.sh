#!/usr/bin/env bash
# Setup mode (empty variable store, Secure Boot off) with a TPM: a hybrid ISO boots as a CD-ROM,
# the guest reports SecureBoot=0/SetupMode=1, the stub hands the UKI's .pcrsig/.pcrpkey to the
# initrd as /.extra/tpm2-pcr-{signature.json,public-key.pem}, and the PCR 11 value it measured
# equals `trustboot measure calculate --uki` and systemd-measure's prediction (--phase=: a busybox
# initrd extends no phase).
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"

e2e_rootfs
cd "$WORK"
need openssl
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pcr.key 2>/dev/null
make_uki uki.efi "console=ttyS0 panic=-1 quiet" pcr.key
mkdir -p esp/EFI/BOOT && cp uki.efi esp/EFI/BOOT/BOOTX64.EFI
make_iso tb.iso esp

vm tb.iso --setup-mode --tpm-state tpm --serial serial.txt --expect "^$MARKER\$" --timeout 240
assert_eq "$VM_RC" 0 "exit status (serial: $(tail -c 300 serial.txt))"
echo "$VM_OUT" | contains "^trustboot vm: expect matched after [0-9.]* s: $MARKER\$" || fail "report line: $VM_OUT"
ls tpm | contains 'tpm2-00.permall' || fail "--tpm-state: swtpm kept no state in tpm/: $(ls tpm)"
grep -a -q 'UEFI QEMU DVD-ROM' serial.txt || fail "did not boot from the CD-ROM"
assert_eq "$(serial_value serial.txt SecureBoot)" 0 "SecureBoot"
assert_eq "$(serial_value serial.txt SetupMode)" 1 "SetupMode"
assert_eq "$(serial_value serial.txt tpm2-pcr-signature.json)" present "/.extra signature"
assert_eq "$(serial_value serial.txt tpm2-pcr-public-key.pem)" present "/.extra public key"

pcr=$(serial_value serial.txt PCR11-sha256)
[[ "$pcr" =~ ^[0-9a-f]{64}$ ]] || fail "no PCR 11 value from the guest: '$pcr'"
[ "$pcr" != "$(printf '%064d' 0)" ] || fail "PCR 11 is zero: the stub measured nothing"
want=$("$TRUSTBOOT" measure calculate --uki="$WORK/uki.efi" --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
assert_eq "$pcr" "$want" "guest PCR 11 vs trustboot measure calculate --uki --phase="
measure=/lib/systemd/systemd-measure
if [ -x "$measure" ]; then
  want=$("$measure" calculate --linux="$ROOTFS/vmlinuz" --osrel="$WORK/osrel" --cmdline="$WORK/cmdline" \
    --initrd="$ROOTFS/initrd.img" --pcrpkey="$WORK/pcrpkey" --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
  assert_eq "$pcr" "$want" "guest PCR 11 vs systemd-measure calculate --phase="
fi
