#!/usr/bin/env bash
# trustboot install with encryption against swtpm, on a loop device: the listed partition is
# LUKS2 with Kairos' label and uuid5 UUID (blkid), its systemd-tpm2 token is bound to the PCR
# public key given, and trustboot unlock opens it with a PCR 11 signature by that key only.
# (Partitions with a file system inside need device-mapper, which this host lacks: the guest
# scenario covers those; here the encrypted partition is left unformatted, fs: none, and OEM and
# persistent stay plain through the explicit install.encrypt-system-partitions: false — which
# the installer must warn about.)
source "$TB_SRCDIR/tests/interop/lib/common.sh"
source "$TB_SRCDIR/tests/interop/lib/tpm2.sh"
need losetup blkid mkfs.vfat mkfs.ext4 mcopy swtpm tpm2_pcrextend cryptsetup openssl
need_file "$SYSTEMD_MEASURE"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (loop devices)" >&2; exit 77; }
losetup -f >/dev/null 2>&1 || { echo "SKIP: no free loop device" >&2; exit 77; }

swtpm_start
make_uki_inputs

esp="$WORK/esp"
mkdir -p "$esp/EFI/BOOT" "$esp/EFI/trustboot" "$esp/loader/entries"
echo bootloader >"$esp/EFI/BOOT/BOOTX64.EFI"
echo uki >"$esp/EFI/trustboot/norole.efi"
printf 'title T\nefi /EFI/trustboot/norole.efi\n' >"$esp/loader/entries/norole.conf"
cat >"$WORK/config.yaml" <<'YAML'
install:
  encrypt-system-partitions: false
  extra-partitions:
    - {name: vault, size: 40, fs: none, label: VAULT}
  encrypted_partitions: [VAULT]
YAML
truncate -s 400M "$WORK/disk.img"
dev=$(losetup -f --show -P "$WORK/disk.img")
on_exit "losetup -d $dev"

"$TRUSTBOOT" install --source "$esp" --efivarfs "" --insecure --no-lifecycle --config "$WORK/config.yaml" \
  --device "$dev" --tpm2-device "$TCTI" --pcr-public-key "$WORK/pcr.pub.pem" >/dev/null 2>"$WORK/log" \
  || { cat "$WORK/log" >&2; fail "install failed"; }
assert_no_handles "trustboot install"
for l in COS_OEM COS_PERSISTENT; do
  contains "$l: NOT encrypted (install.encrypt-system-partitions: false)" "$WORK/log" || fail "no warning for plain $l: $(cat "$WORK/log")"
done

vault=${dev}p3   # persistent takes the rest, so it goes last
probe() { blkid -p -o export "$vault" | sed -n "s/^$1=//p"; }
assert_eq "$(probe TYPE)" crypto_LUKS "vault type"
assert_eq "$(probe LABEL)" VAULT "LUKS label"
assert_eq "$(probe UUID)" "$(python3 -c 'import uuid; print(uuid.uuid5(uuid.NAMESPACE_URL, "VAULT"))')" "LUKS UUID (uuid5 of the label)"
assert_eq "$(blkid -p -o export "${dev}p2" | sed -n 's/^TYPE=//p')" ext4 "OEM plain with encrypt-system-partitions: false"
cryptsetup luksDump "$vault" | contains systemd-tpm2 || fail "no systemd-tpm2 token"

pcr11_boot enter-initrd
measure_sign pcr enter-initrd >"$WORK/sig.json"
measure_sign other enter-initrd >"$WORK/other.json"
"$TRUSTBOOT" -q unlock "$vault" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json" </dev/null >"$WORK/out" \
  || fail "the installed volume does not unlock with the PCR key's signature"
contains 'unlocks' "$WORK/out" || fail "unlock: $(cat "$WORK/out")"
expect_refusal "signature by another PCR key" "no signature by key" \
  "$TRUSTBOOT" -q unlock "$vault" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/other.json"
assert_no_handles "trustboot unlock"
echo "ok: installed volume sealed to the PCR key, unlocked by its signature only"
