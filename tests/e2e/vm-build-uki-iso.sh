#!/usr/bin/env bash
# The whole chain with trustboot's own media: genkey → build-uki -t iso (signed systemd-boot,
# signed UKI with .pcrsig/.pcrpkey, keys in loader/keys/auto, secure-boot-enroll force) →
# `trustboot vm` in setup mode as a USB stick: systemd-boot enrolls and resets → the same vars,
# a TPM, the ISO as a CD-ROM: SecureBoot=1, SetupMode=0, /.extra has the PCR signature and key,
# and the guest's PCR 11 equals `trustboot measure calculate --uki --phase=` for the UKI on the ISO.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
"$TRUSTBOOT" help build-uki >/dev/null 2>&1 || { echo "SKIP: this trustboot has no build-uki" >&2; exit 77; }

e2e_rootfs
cd "$WORK"
"$TRUSTBOOT" -q genkey e2e -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING || fail "genkey"
"$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -t iso -d out -n tb -k keys --secure-boot-enroll force \
  --cmdline "console=ttyS0 panic=-1 quiet" >/dev/null || fail "build-uki"
iso=out/tb.iso
[ -f "$iso" ] || fail "build-uki wrote no $iso: $(ls out)"

vm "$iso" --usb --vars vars.fd --setup-mode --no-tpm --serial enroll.txt --timeout 180
assert_eq "$VM_RC" 0 "enrollment run (serial: $(tail -c 300 enroll.txt))"
echo "$VM_OUT" | contains "guest reset" || fail "enrollment did not end in a reset: $VM_OUT"

vm "$iso" --cdrom --vars vars.fd --serial sb.txt --expect "^$MARKER\$" --timeout 300
assert_eq "$VM_RC" 0 "Secure Boot run (serial: $(tail -c 300 sb.txt))"
assert_eq "$(serial_value sb.txt SecureBoot)" 1 "SecureBoot"
assert_eq "$(serial_value sb.txt SetupMode)" 0 "SetupMode"
assert_eq "$(serial_value sb.txt tpm2-pcr-signature.json)" present "/.extra signature"
assert_eq "$(serial_value sb.txt tpm2-pcr-public-key.pem)" present "/.extra public key"

# The UKI that booted: the default entry of loader.conf, from the ESP image inside the ISO.
xorriso -osirrox on -indev "$iso" -extract / iso >/dev/null 2>&1 || fail "xorriso cannot read $iso"
esp=$(find iso -name '*.img' -print -quit)
[ -n "$esp" ] || fail "no ESP image in $iso"
entry=$(mtype -i "$esp" ::/loader/loader.conf | sed -n 's/^default[[:space:]]*//p' | tr -d '\r')
uki=$(mdir -i "$esp" -b -/ ::/EFI | grep -i '\.efi$' | grep -iv -e '/BOOT/' -e 'systemd' | \
  { if [ -n "$entry" ] && [ "${entry#*\*}" = "$entry" ]; then grep -F "/$entry" ; else cat; fi; } | sed -n 1p)
[ -n "$uki" ] || fail "no UKI found in the ESP (default entry '$entry')"
mcopy -i "$esp" "$uki" booted.efi || fail "mcopy $uki"
want=$("$TRUSTBOOT" measure calculate --uki=booted.efi --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
assert_eq "$(serial_value sb.txt PCR11-sha256)" "$want" "guest PCR 11 vs trustboot measure calculate --uki=$uki"
