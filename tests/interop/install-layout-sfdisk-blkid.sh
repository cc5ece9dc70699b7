#!/usr/bin/env bash
# trustboot install --no-encrypt onto a loop device: sfdisk and blkid see Kairos' GPT (names,
# uuid5 GUIDs, types, ESP attribute), the file systems and labels; the ESP holds the medium
# fanned out to the four roles with +3 counters, LoaderEntryOneShot names the active entry,
# OEM holds the config; the ESP is sized by the documented formula (install(1)) and a too-small
# install.partitions.efi.size is refused with the numbers; refusals (too small, unknown encrypted
# label, Secure Boot off) leave the disk untouched (the boot medium and disks in use:
# install-refuses-attacks-losetup). The configuration is
# the seed's example, verbatim (tests/e2e/fixtures/seed-install-config.yaml).
source "$TB_SRCDIR/tests/interop/lib/common.sh"
need losetup sfdisk blkid mkfs.vfat mkfs.ext4 mkfs.ext2 xorriso jq mcopy mdir
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (loop devices, mount)" >&2; exit 77; }
losetup -f >/dev/null 2>&1 || { echo "SKIP: no free loop device" >&2; exit 77; }

esp="$WORK/esp"
mkdir -p "$esp/EFI/BOOT" "$esp/EFI/trustboot" "$esp/loader/entries" "$esp/loader/keys/auto" "$WORK/vars" "$WORK/mnt"
echo bootloader >"$esp/EFI/BOOT/BOOTX64.EFI"
head -c 8000000 /dev/urandom >"$esp/EFI/trustboot/norole.efi"
printf 'timeout 5\nconsole-mode max\neditor no\nsecure-boot-enroll force\n' >"$esp/loader/loader.conf"
printf 'title Trustboot\nsort-key norole\nefi /EFI/trustboot/norole.efi\n' >"$esp/loader/entries/norole.conf"
for k in PK KEK db; do echo "$k" >"$esp/loader/keys/auto/$k.auth"; done

cp "$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml" "$WORK/config.yaml"

attach() { # SIZE_MIB: LOOP = a loop device with partition scanning (not in $(…): on_exit must run
  local img="$WORK/disk$1.img"   # in this shell to detach it)
  truncate -s "$1M" "$img"
  LOOP=$(losetup -f --show -P "$img")
  on_exit "losetup -d $LOOP"
}
run() { "$TRUSTBOOT" install --source "$esp" --efivarfs "$WORK/vars" --no-lifecycle "$@"; }

# --- refusals, before anything is written
attach 150; small=$LOOP
expect_error run --insecure --no-encrypt --config "$WORK/config.yaml" --device "$small"
echo "$ERR" | contains "too small: 150 MiB" || fail "too small: $ERR"
printf 'install:\n  encrypted_partitions: [COS_OEM, NOPE]\n' >"$WORK/bad.yaml"
expect_error run --insecure --no-encrypt --config "$WORK/bad.yaml" --device "$small"
echo "$ERR" | contains "NOPE: no partition has this label" || fail "unknown label: $ERR"
printf '\x06\x00\x00\x00\x00' >"$WORK/vars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
expect_error run --no-encrypt --config "$WORK/config.yaml" --device "$small"
echo "$ERR" | contains "Secure Boot is off" || fail "secure boot off: $ERR"
# ESP: U = the norole UKIs, O = the other files; minimum (5 U + 2 O) x 1.1 + 16 MiB, default with
# room for every generation to double, (10 U + 2 O) x 1.1 + 16 MiB.
u=$(du -b --apparent-size -c "$esp"/EFI/trustboot/norole* | tail -n1 | cut -f1)
o=$(( $(find "$esp" -type f -printf '%s\n' | paste -sd+ | bc) - u ))
esp_min=$(( ( (5 * u + 2 * o) / 10 * 11 + 1048575 ) / 1048576 + 16 ))
esp_default=$(( ( (10 * u + 2 * o) / 10 * 11 + 1048575 ) / 1048576 + 16 ))
printf 'install:\n  partitions:\n    efi:\n      size: %d\n' $((esp_min - 1)) >"$WORK/small-esp.yaml"
attach 2000; big=$LOOP
expect_error run --insecure --no-encrypt --config "$WORK/config.yaml" --config "$WORK/small-esp.yaml" --device "$big"
echo "$ERR" | contains "install.partitions.efi.size: $((esp_min - 1)) MiB is too small" || fail "small ESP: $ERR"
echo "$ERR" | contains "at least $esp_min MiB (default $esp_default MiB" || fail "small ESP numbers: $ERR"
[ -z "$(blkid -p "$big" 2>/dev/null || true)" ] || fail "a refused install wrote to $big"
[ -z "$(blkid -p "$small" 2>/dev/null || true)" ] || fail "a refused install wrote to $small"

# --- the install (the medium here is made of stand-in files: --insecure skips the db/dbx and PCR
# key checks of its images, which install-refuses-attacks-losetup covers)
attach 900; dev=$LOOP
printf '\x06\x00\x00\x00\x01' >"$WORK/vars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
run --insecure --no-encrypt --config "$WORK/config.yaml" --device "$dev" >"$WORK/layout" 2>"$WORK/log" || { cat "$WORK/log" >&2; fail "install failed"; }

sfdisk --json "$dev" >"$WORK/pt.json"
assert_eq "$(jq -r .partitiontable.label "$WORK/pt.json")" gpt "label type"
assert_eq "$(jq -r .partitiontable.id "$WORK/pt.json")" 2CEFF841-4C1D-5A14-8E46-ED3AEB621093 "disk GUID"
assert_eq "$(jq -r '[.partitiontable.partitions[].name] | join(" ")' "$WORK/pt.json")" \
  "efi oem persistent second_partition" "partition names"
assert_eq "$(jq -r '.partitiontable.partitions[0].type' "$WORK/pt.json")" C12A7328-F81F-11D2-BA4B-00A0C93EC93B "ESP type"
assert_eq "$(jq -r '.partitiontable.partitions[0].attrs' "$WORK/pt.json")" RequiredPartition "ESP attributes"
assert_eq "$(jq -r '.partitiontable.partitions[1].type' "$WORK/pt.json")" 0FC63DAF-8483-4772-8E79-3D69D8477DE4 "linux type"
assert_eq "$(jq -r '[.partitiontable.partitions[].uuid] | join(" ")' "$WORK/pt.json")" \
  "81444E82-66B3-5ED2-961B-497665F12BE2 8BFA06F9-CA4F-56DC-90C9-49CF20F4F45E 85C39D0F-4867-5227-8334-F5EEC606D9EB $(python3 -c 'import uuid; print(str(uuid.uuid5(uuid.NAMESPACE_URL, "PARTITION_TWO")).upper())')" \
  "partition GUIDs (uuid5 of the labels)"
assert_eq "$(jq -r '.partitiontable.partitions[1].start' "$WORK/pt.json")" \
  "$(( $(jq -r '.partitiontable.partitions[0].start' "$WORK/pt.json") + $(jq -r '.partitiontable.partitions[0].size' "$WORK/pt.json") ))" \
  "partitions contiguous"
assert_eq "$(jq -r '.partitiontable.partitions[0].start' "$WORK/pt.json")" 2048 "first partition at 1 MiB"
assert_eq "$(jq -r '.partitiontable.partitions[2].size' "$WORK/pt.json")" $((500 * 2048)) "persistent size"
assert_eq "$(jq -r '.partitiontable.partitions[0].size' "$WORK/pt.json")" $((esp_default * 2048)) "ESP size (default formula)"

probe() { blkid -p -o export "$1" | sed -n "s/^$2=//p"; }
assert_eq "$(probe "${dev}p1" TYPE) $(probe "${dev}p1" LABEL)" "vfat COS_GRUB" "ESP file system"
assert_eq "$(probe "${dev}p2" TYPE) $(probe "${dev}p2" LABEL)" "ext4 COS_OEM" "OEM file system"
assert_eq "$(probe "${dev}p3" TYPE) $(probe "${dev}p3" LABEL)" "ext4 COS_PERSISTENT" "persistent file system"
assert_eq "$(probe "${dev}p4" TYPE) $(probe "${dev}p4" LABEL)" "ext2 PARTITION_TWO" "extra partition file system"

export MTOOLS_SKIP_CHECK=1
mcopy -s -n -i "${dev}p1" ::/EFI ::/loader "$WORK/mnt/"
(cd "$WORK/mnt" && find . -type f | sort) >"$WORK/files"
cat >"$WORK/want" <<'EOF2'
./EFI/BOOT/BOOTX64.EFI
./EFI/trustboot/active.efi
./EFI/trustboot/passive.efi
./EFI/trustboot/recovery.efi
./EFI/trustboot/statereset.efi
./loader/entries/active+3.conf
./loader/entries/passive+3.conf
./loader/entries/recovery+3.conf
./loader/entries/statereset+3.conf
./loader/keys/auto/KEK.auth
./loader/keys/auto/PK.auth
./loader/keys/auto/db.auth
./loader/loader.conf
EOF2
diff -u "$WORK/want" "$WORK/files" >&2 || fail "ESP contents"
cmp "$esp/EFI/trustboot/norole.efi" "$WORK/mnt/EFI/trustboot/recovery.efi" || fail "recovery.efi differs from the medium's UKI"
assert_eq "$(cat "$WORK/mnt/loader/entries/passive+3.conf")" \
  "$(printf 'title Trustboot (fallback)\nsort-key 0002\nefi /EFI/trustboot/passive.efi')" "passive entry"
fsck.vfat -n "${dev}p1" >/dev/null || fail "fsck.vfat finds errors on the ESP"
rm -rf "$WORK/mnt"/*
assert_eq "$(tail -c +5 "$WORK/vars/LoaderEntryOneShot-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f" | iconv -f UTF-16LE -t UTF-8 | tr -d '\0')" \
  "active+3.conf" "LoaderEntryOneShot"

mount -o ro "${dev}p2" "$WORK/mnt"; on_exit "umount $WORK/mnt 2>/dev/null"
cmp "$WORK/config.yaml" "$WORK/mnt/90_custom.yaml" || fail "config not copied into OEM"
assert_eq "$(stat -c %a "$WORK/mnt/90_custom.yaml")" 600 "OEM config mode"
umount "$WORK/mnt"

# A second run over the installed disk starts from scratch and gives the same table.
run --insecure --no-encrypt --config "$WORK/config.yaml" --device "$dev" >/dev/null 2>"$WORK/log" || { cat "$WORK/log" >&2; fail "re-install failed"; }
sfdisk --json "$dev" | cmp - "$WORK/pt.json" || fail "re-install gave another partition table"
echo "ok: layout, ESP roles, OEM config, refusals"
