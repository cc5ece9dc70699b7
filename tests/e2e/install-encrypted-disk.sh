#!/usr/bin/env bash
# The issue's scenario: a medium built with demo keys and the seed's example cloud-config,
# verbatim (persistent 500 MiB, an extra PARTITION_TWO ext2 100 MiB listed in encrypted_partitions;
# OEM and persistent encrypted all the same) boots in setup mode on a blank virtio disk →
# systemd-boot enrolls the keys → Secure Boot → trustboot init runs the installer → the config
# asks for no power-off, so the live system boots on and the test root's report powers off. Booted from the disk: blkid shows crypto_LUKS for oem, persistent and PARTITION_TWO, the
# TPM unlocks all three, OEM and persistent are mounted, a file written to /usr/local survives a
# reboot. The same disk with a UKI signed by the same db key but another PCR key unlocks nothing.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need mcopy openssl

e2e_rootfs --trustboot
cd "$WORK"
# The seed's command: no init flag; the image carries trustboot, which becomes /init.
seed_medium

# 1. setup mode: systemd-boot enrolls the keys and resets (that ends the VM); then the medium
# boots under Secure Boot, installs, boots on as the live system and powers off.
install_node out/medium.iso
contains '^trustboot init: Secure Boot: on' s1 || fail "install did not run under Secure Boot: $(grep 'trustboot' s1 | head)"

# 2. from the disk: unlocked by the TPM, mounted, a marker written.
boot_disk() { # SERIAL
  mkdir -p empty
  vm empty --vars vars.fd --tpm-state tpm --disk disk.img --serial "$1" --expect "^$MARKER\$" --timeout 300
}
boot_disk s2.txt
assert_eq "$VM_RC" 0 "disk boot (serial: $(tail -c 600 s2.txt))"
tr -d '\r' <s2.txt >s2
for v in oem persistent second_partition; do
  contains "unlocked by the TPM as /dev/mapper/$v" s2 || fail "$v not unlocked: $(grep trustboot s2 | tail -n 8)"
done
# The guest's busybox has no blkid: the host's looks at the disk image.
if [ "$(id -u)" = 0 ] && loop=$(losetup -f --show -P -r disk.img 2>/dev/null); then
  on_exit "losetup -d $loop"
  [ -e "${loop}p1" ] || partx -a "$loop" 2>/dev/null || true   # BLKRRPART may add nothing in a container
  for n in 2 3 4; do
    t=$(blkid -p -o export "${loop}p$n" | sed -n 's/^TYPE=//p' || true)
    [ "$t" = crypto_LUKS ] || fail "partition $n is '$t', not crypto_LUKS"
  done
  assert_eq "$(blkid -p -o export "${loop}p1" | sed -n 's/^LABEL=//p' || true)" COS_GRUB "ESP label"
fi
assert_eq "$(serial_value s2 mount_oem)" /dev/mapper/oem "OEM mount"
assert_eq "$(serial_value s2 mount_usr_local)" /dev/mapper/persistent "persistent mount"
assert_eq "$(serial_value s2 marker)" created "marker on the first disk boot"

# 3. the marker survives a reboot.
boot_disk s3.txt
assert_eq "$VM_RC" 0 "second disk boot (serial: $(tail -c 600 s3.txt))"
assert_eq "$(serial_value s3.txt marker | tr -d '\r')" present "marker after a reboot"

# 4. a UKI signed by the same db key, PCR policy signed by another key: nothing unlocks.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other-pcr.pem 2>/dev/null
"$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -o overlay -t uki -d other --sb-key keys/db.key --sb-cert keys/db.pem \
  --tpm-pcr-private-key other-pcr.pem --public-keys keys --init /usr/bin/trustboot -n other >/dev/null || fail "build-uki other"
other=$(find other -name 'norole.efi' | head -n1)
export MTOOLS_SKIP_CHECK=1
# active and passive both: whichever boot counting picks, the other PCR key is what boots
for role in active passive; do
  mcopy -o -i disk.img@@1M "$other" "::/EFI/trustboot/$role.efi" || fail "cannot replace $role.efi"
done
vm empty --vars vars.fd --tpm-state tpm --disk disk.img --serial s4.txt --expect 'FAILED: unlocking' --timeout 300
assert_eq "$VM_RC" 0 "other PCR key boot (serial: $(tail -c 600 s4.txt))"
tr -d '\r' <s4.txt >s4
contains 'NOT unlocked by the TPM' s4 || fail "no refusal line"
contains 'unlocked by the TPM as' s4 && fail "a volume unlocked with another PCR key"
echo "ok: installed encrypted, unlocked by the TPM, data persists, another PCR key unlocks nothing"
