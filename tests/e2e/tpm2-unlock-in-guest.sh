#!/usr/bin/env bash
# In a QEMU guest (OVMF + swtpm, real /dev/tpmrm0 and device-mapper): a volume sealed by
# trustboot encrypt on the host against swtpm is activated by `trustboot unlock` (signature
# found in /.extra, where systemd-stub puts the UKI's .pcrsig), by systemd 252's own
# `systemd-cryptsetup attach … tpm2-device=auto`, and by `trustboot unlock-all` (then skipped as
# already open), after the stub measured a UKI whose PCR 11 policy systemd-measure signed.
# A UKI with a different command line is refused by all of them. A volume enrolled by
# systemd-cryptenroll 257 (Debian 13 chroot, tests/images/systemd-oracle.sh) in its default shape —
# sealed under the SRK it persisted at 0x81000001, signed PCR 11 policy — is activated by
# `trustboot unlock` under the signed UKI and refused under the other. Then, in the guest (kernel
# resource manager, device-mapper): trustboot encrypt --mkfs ext4, unlock, ext4 inside.
set -euo pipefail
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/../interop/lib/tpm2.sh"
need swtpm tpm2_getcap qemu-system-x86_64 objcopy busybox cpio gzip apt-get dpkg-deb ldd mmdebstrap cryptsetup
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
need_file "$SYSTEMD_MEASURE" "$SD_PLUGIN" "$STUB" "$OVMF_CODE" "$OVMF_VARS" /lib/systemd/systemd-cryptsetup

# The Debian kernel (built-in TPM drivers, dm-crypt as modules): downloaded once per build dir,
# keeping only the kernel and the modules this test loads.
MODULES="drivers/md/dm-mod drivers/md/dm-crypt crypto/xts crypto/ecb drivers/block/loop crypto/af_alg
         crypto/algif_skcipher"
CACHE="${TB_BUILDDIR:-$WORK}/e2e-cache"
kernel_tree() {
  local pkg deb x m
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
  [ -n "$pkg" ] || { echo "SKIP: no linux-image package known to apt" >&2; exit 77; }
  KDIR="$CACHE/$pkg"
  [ -f "$KDIR/vmlinuz" ] && return 0
  mkdir -p "$CACHE"
  (cd "$WORK" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "SKIP: cannot download $pkg" >&2; exit 77; }
  deb=$(ls "$WORK/${pkg}_"*.deb | head -n1)
  x="$WORK/kernel"
  dpkg-deb -x "$deb" "$x"
  rm -rf "$KDIR.tmp"; mkdir -p "$KDIR.tmp/mods"
  cp "$x"/boot/vmlinuz-* "$KDIR.tmp/vmlinuz"
  for m in $MODULES; do cp "$x"/lib/modules/*/kernel/"$m".ko "$KDIR.tmp/mods/"; done
  rm -rf "$x" "$deb"
  mv "$KDIR.tmp" "$KDIR"
}
kernel_tree

# --- host side: enroll against swtpm, sign PCR 11 for the UKI the guest will boot ---
swtpm_start
make_uki_inputs    # keys; the UKI inputs are replaced below
IMG=$WORK/root/luks.img
mkdir -p "$WORK/root"
truncate -s 20M "$IMG"
"$TRUSTBOOT" -q encrypt "$IMG" --label data --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI"
assert_no_handles "trustboot encrypt"
# A second volume as GPT partition "persistent" (its LUKS2 label must not be the name used).
truncate -s 20M "$WORK/part.img"
"$TRUSTBOOT" -q encrypt "$WORK/part.img" --label other-label --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI"
python3 "$(dirname "$0")/gpt-wrap.py" "$WORK/root/disk.img" "$WORK/part.img" persistent
rm "$WORK/part.img"
# The 257 volume: cryptenroll runs in the chroot, so its files and a swtpm socket on the same TPM
# state live in a directory inside the chroot (removed on exit).
oracle="$(bash "$(dirname "$0")/../images/systemd-oracle.sh" --release trixie)" || fail "no systemd 257 chroot"
o257="$(mktemp -d "$oracle/tmp/tb-e2e.XXXXXX")"
on_exit "rm -rf '$o257'"
printf 'test-passphrase' > "$o257/pass"; chmod 600 "$o257/pass"
cp "$WORK/pcr.pub.pem" "$o257/pcr.pub.pem"
truncate -s 20M "$o257/v257.img"
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --key-file "$o257/pass" "$o257/v257.img"
swtpm_stop   # the chroot reaches the TPM through a socket of its own, on the same state
swtpm socket --tpm2 --tpmstate dir="$WORK/tpm" --server type=unixio,path="$o257/sock" \
  --ctrl type=unixio,path="$o257/sock.ctrl" --flags not-need-init,startup-clear --pid file="$o257/pid" --daemon
for _ in $(seq 50); do [ -S "$o257/sock" ] && break; sleep 0.1; done
chroot "$oracle" systemd-cryptenroll --unlock-key-file="${o257#"$oracle"}/pass" \
  --tpm2-device="swtpm:path=${o257#"$oracle"}/sock" --tpm2-public-key="${o257#"$oracle"}/pcr.pub.pem" \
  --tpm2-public-key-pcrs=11 --tpm2-pcrs= "${o257#"$oracle"}/v257.img" >"$o257/log" 2>&1 || \
  { kill "$(cat "$o257/pid")"; fail "systemd-cryptenroll 257 failed: $(tail -n3 "$o257/log")"; }
kill "$(cat "$o257/pid")"
for _ in $(seq 50); do kill -0 "$(cat "$o257/pid")" 2>/dev/null || break; sleep 0.1; done
cryptsetup token export --token-id 0 "$o257/v257.img" | grep -q '"tpm2_srk"' || fail "the 257 token has no tpm2_srk"
mv "$o257/v257.img" "$WORK/root/v257.img"
swtpm_start

# The initrd: busybox, trustboot, systemd-cryptsetup + the TPM2 token plugin, their libraries
# (and the ones tss2 and systemd dlopen), dm-crypt modules, the volume and /init.
R=$WORK/root
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/lib64,proc,sys,dev,run,tmp,mods,etc}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$R/$d"; done
copy_with_libs() {
  local f lib
  for f in "$@"; do
    mkdir -p "$R$(dirname "$f")"
    cp -L "$f" "$R$f"
    for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
      [ -e "$R$lib" ] && continue
      mkdir -p "$R$(dirname "$lib")"
      cp -L "$lib" "$R$lib"
    done
  done
}
cp /bin/busybox "$R/usr/bin/busybox"
ML=/usr/lib/x86_64-linux-gnu
copy_with_libs "$(readlink -f "$TRUSTBOOT")" /lib/systemd/systemd-cryptsetup "$SD_PLUGIN" \
  $ML/libtss2-esys.so.0 $ML/libtss2-rc.so.0 $ML/libtss2-mu.so.0 $ML/libtss2-tctildr.so.0 $ML/libtss2-tcti-device.so.0
mv "$R$(readlink -f "$TRUSTBOOT")" "$R/usr/bin/trustboot"
copy_with_libs /usr/sbin/mke2fs
ln -s mke2fs "$R/usr/sbin/mkfs.ext4"
cp "$KDIR"/mods/*.ko "$R/mods/"
cat > "$R/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /run/cryptsetup /run/systemd
for m in dm-mod dm-crypt xts ecb loop af_alg algif_skcipher; do insmod /mods/$m.ko; done
echo "E2E pcr11=$(cat /sys/class/tpm/tpm0/pcr-sha256/11)"
echo "E2E extra: $(ls /.extra 2>&1 | tr '\n' ' ')"
trustboot unlock /luks.img tbvol 2>/tmp/err; echo "E2E trustboot-unlock rc=$? $(head -n1 /tmp/err)"
[ -b /dev/mapper/tbvol ] && dd if=/dev/mapper/tbvol of=/dev/null bs=4096 count=1 2>/dev/null && \
  echo "E2E trustboot-mapped $(cat /sys/block/dm-*/dm/name)"
/lib/systemd/systemd-cryptsetup detach tbvol; echo "E2E detach rc=$?"
cp /.extra/tpm2-pcr-signature.json /run/systemd/
/lib/systemd/systemd-cryptsetup attach sdvol /luks.img - tpm2-device=auto,headless=1
echo "E2E sd-attach rc=$?"
[ -b /dev/mapper/sdvol ] && echo "E2E sd-mapped $(cat /sys/block/dm-*/dm/name)"
/lib/systemd/systemd-cryptsetup detach sdvol
trustboot unlock /v257.img v257vol 2>/tmp/err; echo "E2E unlock-257 rc=$? $(head -n1 /tmp/err)"
[ -b /dev/mapper/v257vol ] && dd if=/dev/mapper/v257vol of=/dev/null bs=4096 count=1 2>/dev/null && \
  echo "E2E v257-mapped" && /lib/systemd/systemd-cryptsetup detach v257vol
# unlock-all: a GPT partition (mapped by its name) and a whole loop device (by its LUKS2 label),
# then once more.
losetup /dev/loop7 /luks.img
losetup -P /dev/loop6 /disk.img
trustboot unlock-all > /tmp/out 2>&1; echo "E2E unlock-all rc=$? $(tr '\n' '|' < /tmp/out)"
trustboot unlock-all > /tmp/out 2>&1; echo "E2E unlock-all-again rc=$? $(tr '\n' '|' < /tmp/out)"
# Enrollment in the guest itself (kernel resource manager, device-mapper for --mkfs), then unlock.
truncate -s 24M /new.img
trustboot -q encrypt /new.img --label newfs --pcr-public-key /.extra/tpm2-pcr-public-key.pem --mkfs ext4 \
  2>/tmp/err; echo "E2E encrypt-mkfs rc=$? $(head -n1 /tmp/err)"
trustboot -q unlock /new.img newvol 2>/tmp/err; echo "E2E unlock-new rc=$? $(head -n1 /tmp/err)"
[ -b /dev/mapper/newvol ] && echo "E2E newvol ext4-magic=$(dd if=/dev/mapper/newvol bs=1 skip=1080 count=2 2>/dev/null |
  hexdump -e '2/1 "%02x"') label=$(dd if=/dev/mapper/newvol bs=1 skip=1144 count=5 2>/dev/null)"
echo "E2E-DONE"; poweroff -f
EOF
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$WORK/uki/initrd"
cp "$KDIR/vmlinuz" "$WORK/uki/linux"
printf 'console=ttyS0 panic=-1' > "$WORK/uki/cmdline"
printf 'ID=trustboot-e2e\nVERSION_ID=1\n' > "$WORK/uki/osrel"
measure_sign pcr '' > "$WORK/pcrsig.json"
swtpm_stop

# build_uki OUT: the 252 stub with the sections systemd-measure was given, plus .pcrsig.
build_uki() {
  objcopy \
    --add-section .osrel="$WORK/uki/osrel" --change-section-vma .osrel=0x20000 \
    --add-section .cmdline="$WORK/uki/cmdline" --change-section-vma .cmdline=0x30000 \
    --add-section .pcrsig="$WORK/pcrsig.json" --change-section-vma .pcrsig=0x40000 \
    --add-section .pcrpkey="$WORK/uki/pcrpkey" --change-section-vma .pcrpkey=0x50000 \
    --add-section .linux="$WORK/uki/linux" --change-section-vma .linux=0x2000000 \
    --add-section .initrd="$WORK/uki/initrd" --change-section-vma .initrd=0x3000000 \
    "$STUB" "$1"
}

# boot_guest NAME: OVMF + swtpm (same state, so the same primary key) until the guest powers off.
boot_guest() {
  local name=$1 qpid tpid
  mkdir -p "$WORK/$name/esp/EFI/BOOT"
  build_uki "$WORK/$name/esp/EFI/BOOT/BOOTX64.EFI"
  cp "$OVMF_VARS" "$WORK/$name/vars.fd"
  swtpm socket --tpm2 --tpmstate dir="$WORK/tpm" --ctrl type=unixio,path="$WORK/$name/tpm.sock" \
    --log file="$WORK/$name/swtpm.log" --pid file="$WORK/$name/swtpm.pid" --daemon
  for _ in $(seq 50); do [ -S "$WORK/$name/tpm.sock" ] && break; sleep 0.1; done
  tpid=$(cat "$WORK/$name/swtpm.pid")
  on_exit "kill $tpid 2>/dev/null"
  qemu-system-x86_64 -display none -serial file:"$WORK/$name/serial" -monitor none -no-reboot -nic none \
    -accel tcg -machine q35 -m 1024 \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$OVMF_CODE" \
    -drive if=pflash,format=raw,unit=1,file="$WORK/$name/vars.fd" \
    -drive file=fat:rw:"$WORK/$name/esp",format=raw,media=disk \
    -chardev socket,id=chrtpm,path="$WORK/$name/tpm.sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device tpm-crb,tpmdev=tpm0 &
  qpid=$!
  on_exit "kill $qpid 2>/dev/null"
  for _ in $(seq 600); do   # up to 5 min: the machine may be busy with other VMs
    grep -aq 'E2E-DONE' "$WORK/$name/serial" 2>/dev/null && break
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  kill "$tpid" 2>/dev/null || true
  grep -a '^E2E' "$WORK/$name/serial" | tr -d '\r' > "$WORK/$name/result" || true
  sed "s/^/[$name] /" "$WORK/$name/result"
}

serial_fail() { fail "$1 (guest said: $(tr '\n' '|' < "$WORK/$2/result"); serial tail: $(tail -c 1500 "$WORK/$2/serial" | tr -d '\r'))"; }

boot_guest signed
want=$(measure_calculate '')
grep -qi "pcr11=$want" "$WORK/signed/result" || serial_fail "guest PCR 11 is not systemd-measure's $want" signed
grep -q 'trustboot-unlock rc=0' "$WORK/signed/result" || serial_fail "trustboot unlock failed in the guest" signed
grep -q 'trustboot-mapped tbvol' "$WORK/signed/result" || serial_fail "no /dev/mapper/tbvol after trustboot unlock" signed
grep -q 'sd-attach rc=0' "$WORK/signed/result" || serial_fail "systemd-cryptsetup attach failed in the guest" signed
grep -q 'sd-mapped sdvol' "$WORK/signed/result" || serial_fail "no /dev/mapper/sdvol after systemd-cryptsetup" signed
grep -q 'unlock-all rc=0 .*data /dev/loop7: unlocked (keyslot 0)|' "$WORK/signed/result" || \
  serial_fail "unlock-all did not open the loop device as 'data'" signed
grep -q 'unlock-all rc=0 .*persistent /dev/loop6p1: unlocked (keyslot 0)|' "$WORK/signed/result" || \
  serial_fail "unlock-all did not open the GPT partition as 'persistent'" signed
grep 'unlock-all-again' "$WORK/signed/result" | grep -q 'rc=0 .*data /dev/loop7: already open, skipped|' || \
  serial_fail "a second unlock-all did not skip 'data'" signed
grep 'unlock-all-again' "$WORK/signed/result" | grep -q 'persistent /dev/loop6p1: already open, skipped|' || \
  serial_fail "a second unlock-all did not skip 'persistent'" signed
grep -q 'unlock-257 rc=0' "$WORK/signed/result" || serial_fail "trustboot unlock of the cryptenroll 257 volume failed" signed
grep -q 'v257-mapped' "$WORK/signed/result" || serial_fail "no /dev/mapper/v257vol after trustboot unlock" signed
grep -q 'encrypt-mkfs rc=0' "$WORK/signed/result" || serial_fail "trustboot encrypt --mkfs failed in the guest" signed
grep -q 'unlock-new rc=0' "$WORK/signed/result" || serial_fail "the volume enrolled in the guest does not unlock" signed
grep -q 'newvol ext4-magic=53ef label=newfs' "$WORK/signed/result" || serial_fail "no ext4 'newfs' inside" signed

# Same signature file, but a command line the PCR key never signed: both must refuse.
printf 'console=ttyS0 panic=-1 init=/bin/sh' > "$WORK/uki/cmdline"
boot_guest unsigned
grep -q 'trustboot-unlock rc=1 .*no signature by key' "$WORK/unsigned/result" || \
  serial_fail "trustboot did not refuse the unsigned UKI for want of a signature" unsigned
grep -q 'unlock-257 rc=1 .*no signature by key' "$WORK/unsigned/result" || \
  serial_fail "trustboot did not refuse the 257 volume under the unsigned UKI" unsigned
grep -q 'sd-attach rc=0' "$WORK/unsigned/result" && serial_fail "systemd-cryptsetup unlocked an unsigned UKI" unsigned
grep 'unlock-all rc=1' "$WORK/unsigned/result" | grep 'data /dev/loop7: FAILED' | \
  grep -q 'persistent /dev/loop6p1: FAILED' || serial_fail "unlock-all did not report both refused volumes" unsigned
echo "ok: in the guest, trustboot and systemd-cryptsetup activate the volume only under the signed UKI"
