#!/usr/bin/env bash
# trustboot install refuses, before writing anything, each attack of issue 17 items 4 and 11,
# performed on loop devices (losetup, sfdisk, mkfs, mount):
#   - a disk with a mounted partition, named through a /dev/disk/by-id style link (compared by
#     device number, not by path); a disk another program holds open exclusively; swap where the
#     kernel lets us;
#   - the boot medium named through a link: the disk holding the partition of the firmware's
#     LoaderDevicePartUUID;
#   - a medium whose UKIs are signed by a key not in the firmware's db, one whose hash is in dbx,
#     one whose PCR policies are signed by another PCR key than the one the volumes will be sealed
#     to; the same medium with the right keys passes every check (--dry-run, swtpm).
# After each refusal the target disk's table areas and allocated blocks are what they were.
source "$TB_SRCDIR/tests/interop/lib/common.sh"
source "$TB_SRCDIR/tests/interop/lib/tpm2.sh"
. "$TB_SRCDIR/tests/interop/lib/synthetic-rootfs.sh"
need losetup blockdev sfdisk blkid mkfs.ext4 mkswap openssl swtpm python3 hash-to-efi-sig-list
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (loop devices, mount)" >&2; exit 77; }
losetup -f >/dev/null 2>&1 || { echo "SKIP: no free loop device" >&2; exit 77; }
cd "$WORK"
swtpm_start

genkey() { "$TRUSTBOOT" -q genkey "$1" -o "$2" --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null || fail "genkey $1"; }
genkey Test keys
genkey Other other
openssl pkey -in keys/tpm2-pcr-private.pem -pubout -out pcr.pub.pem 2>/dev/null || fail "openssl pkey"
synthetic_rootfs root
medium() { # DIR KEYDIR
  "$TRUSTBOOT" -q build-uki dir:root -t uki -d "$1" -k "$2" >/dev/null 2>&1 || fail "build-uki $1"
}
medium good keys
medium otherdb-src other
cp -r keys otherpcr-keys && cp other/tpm2-pcr-private.pem otherpcr-keys/
medium otherpcr otherpcr-keys

# The firmware's variables: Secure Boot on, db = keys/db (efivarfs files: 4 attribute bytes + data).
mkdir vars
printf '\x06\x00\x00\x00\x01' >vars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
{ printf '\x27\x00\x00\x00'; cat keys/db.esl; } >vars/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f

cfg=$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml
attach() { # IMG SIZE_MIB: LOOP = a loop device with partition scanning (not in $(…): on_exit must
  truncate -s "$2M" "$1"         # run in this shell to detach it)
  LOOP=$(losetup -f --show -P "$1") || fail "losetup $1"
  on_exit "losetup -d $LOOP"
}
install_dry() { # SOURCE DEVICE
  "$TRUSTBOOT" -q install --source "$1" --device "$2" --efivarfs "$WORK/vars" --config "$cfg" --no-lifecycle \
    --tpm2-device "$TCTI" --pcr-public-key "$WORK/pcr.pub.pem" --dry-run
}
# state IMAGE: what a write would change — the first 16 MiB (GPT, signatures, wipes), the last
# MiB (backup GPT), the blocks allocated in the sparse image — read after the loop's buffers are
# flushed (hashing all 900 MiB each time would take minutes on a loaded host).
state() {
  sync
  for d in $(losetup -j "$1" -O NAME -n); do blockdev --flushbufs "$d"; done
  { head -c 16M "$1"; tail -c 1M "$1"; du -B1 "$1" | cut -f1; } | sha256sum
}
refused() { # WHAT EXPECTED SOURCE DEVICE IMAGE
  local sum; sum=$(state "$5")
  expect_error install_dry "$3" "$4"
  echo "$ERR" | contains "$2" || fail "$1: $ERR"
  assert_eq "$(state "$5")" "$sum" "$1: the disk after the refusal"
}

# --- a blank disk, the right medium: every check passes
attach blank.img 900; dev=$LOOP
install_dry good "$dev" >layout || fail "the right medium on a blank disk: $(cat "$WORK/.err" 2>/dev/null)"
contains 'COS_GRUB' layout || fail "no layout printed: $(cat layout)"

# --- images the firmware would refuse, or that would never unlock the disks
refused "UKIs signed by a key not in db" "which is not in the firmware's db" otherdb-src "$dev" blank.img
refused "UKIs with another PCR key" "the disks would not unlock after reboot" otherpcr "$dev" blank.img
hash-to-efi-sig-list good/EFI/trustboot/norole.efi dbx.esl >/dev/null || fail "hash-to-efi-sig-list"
{ printf '\x27\x00\x00\x00'; cat dbx.esl; } >vars/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f
refused "a UKI whose hash is in dbx" "its image hash is in dbx" good "$dev" blank.img
rm vars/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f

# --- a disk with a mounted partition, named through a by-id style link
truncate -s 900M used.img && printf 'label: gpt\n,100M\n,100M\n' | sfdisk -q used.img || fail "sfdisk used.img"
attach used.img 900; used=$LOOP
[ -e "${used}p1" ] || partx -a "$used" 2>/dev/null || true
mkfs.ext4 -q "${used}p1" || fail "mkfs.ext4"
mkdir -p by-id mnt && ln -s "$used" by-id/ata-TEST_DISK_0001
mount -o ro "${used}p1" mnt || fail "mount"   # read-only: the refusal is all that may change nothing
on_exit "umount $WORK/mnt 2>/dev/null"
refused "mounted, named by link" "in use (mounted at $WORK/mnt)" good "$WORK/by-id/ata-TEST_DISK_0001" used.img
umount mnt

# --- swap on a partition (where the container lets us swapon)
mkswap -q "${used}p2" >/dev/null
if swapon "${used}p2" 2>/dev/null; then
  on_exit "swapoff ${used}p2 2>/dev/null"
  refused "swap, named by link" "in use (used as swap" good "$WORK/by-id/ata-TEST_DISK_0001" used.img
  swapoff "${used}p2"
else
  echo "note: swapon not permitted here, swap case not run" >&2
fi

# --- another program holds the disk open exclusively (O_EXCL, as mkfs or a mount would)
python3 -c 'import os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY|os.O_EXCL); open(sys.argv[2],"w").close(); time.sleep(60)' \
  "$used" excl.ready &
holder=$!
on_exit "kill $holder 2>/dev/null"
for _ in $(seq 50); do [ -e excl.ready ] && break; sleep 0.1; done
refused "opened exclusively elsewhere" "in use by the kernel or another program" good "$WORK/by-id/ata-TEST_DISK_0001" used.img
kill $holder; wait $holder 2>/dev/null || true

# --- the boot medium: the disk holding LoaderDevicePartUUID's partition, named through a link
partuuid=$(sfdisk --part-uuid "$used" 1) || fail "sfdisk --part-uuid"
python3 - "$partuuid" >vars/LoaderDevicePartUUID-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f <<'PY'
import sys
sys.stdout.buffer.write(b"\x06\x00\x00\x00" + (sys.argv[1].upper() + "\0").encode("utf-16-le"))
PY
refused "the boot medium, named by link" "is the boot medium" good "$WORK/by-id/ata-TEST_DISK_0001" used.img
refused "a partition of the boot medium" "is the boot medium" good "${used}p2" used.img
echo "ok: busy disks, the boot medium and bad images refused before any write"
