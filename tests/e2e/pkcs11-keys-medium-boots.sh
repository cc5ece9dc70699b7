#!/usr/bin/env bash
# A medium signed only by keys that never left a PKCS#11 token (softhsm2, initialised here in a
# private SOFTHSM2_CONF): genkey --pkcs11 makes PK/KEK/db and the PCR key inside the token,
# build-uki -k signs systemd-boot, the UKIs and their PCR policies through it; OVMF enrolls the
# token-signed .auth files in setup mode, then boots the ISO under Secure Boot, and PCR 11 is
# what `measure calculate` predicts, with the .pcrsig/.pcrpkey handed over by the stub.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need softhsm2-util

e2e_rootfs
cd "$WORK"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
mkdir tokens
echo "directories.tokendir = $WORK/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label e2e --so-pin 87654321 --pin 1234 >/dev/null
printf '1234\n' >pin
"$TRUSTBOOT" -q genkey e2e -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING \
  --pkcs11 "pkcs11:token=e2e?pin-source=$WORK/pin" || fail "genkey --pkcs11"
if grep -l 'PRIVATE KEY' keys/*; then fail "a private key left the token"; fi
iso=$("$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -t iso -d out -k keys \
      --secure-boot-enroll force --name medium) || fail "build-uki with token keys"

vm "$iso" --cdrom --vars vars.fd --setup-mode --no-tpm --serial enroll.txt --timeout 180
assert_eq "$VM_RC" 0 "enrollment run (serial: $(tail -c 300 enroll.txt))"
grep -a -q 'Enrolling secure boot keys' enroll.txt || fail "systemd-boot did not enroll: $(tail -c 300 enroll.txt)"

vm "$iso" --cdrom --vars vars.fd --serial cd.txt --expect "^$MARKER\$" --timeout 240
assert_eq "$VM_RC" 0 "Secure Boot run (serial: $(tail -c 300 cd.txt))"
assert_eq "$(serial_value cd.txt SecureBoot)" 1 "SecureBoot"
assert_eq "$(serial_value cd.txt SetupMode)" 0 "SetupMode"
assert_eq "$(serial_value cd.txt tpm2-pcr-signature.json)" present "/.extra/tpm2-pcr-signature.json"
xorriso -osirrox on -indev "$iso" -extract /efiboot.img esp.img >/dev/null 2>&1 || fail "no ESP in the ISO"
mcopy -n -i esp.img ::/EFI/trustboot/norole.efi norole.efi || fail "no norole.efi in the ESP"
sbverify --cert keys/db.pem norole.efi >/dev/null 2>&1 || fail "sbverify rejects the token-signed UKI"
predicted=$("$TRUSTBOOT" measure calculate --uki norole.efi --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
[ -n "$predicted" ] || fail "no prediction"
assert_eq "$(serial_value cd.txt PCR11-sha256)" "$predicted" "PCR 11 measured by the stub vs predicted"
echo "ok: a medium signed by token keys enrolls and boots under Secure Boot; PCR 11 as predicted"
