#!/usr/bin/env bash
# A --cmd-lines-v2 medium on systemd 257's stub and systemd-boot (from the oracle chroot,
# tests/images/systemd-oracle.sh) boots profile 1 in OVMF with Secure Boot enforced (Debian's
# snakeoil db signs everything): systemd-boot starts the entry norole-profile1.conf ("efi" +
# "options @1"), the stub selects profile 1 — the kernel gets that profile's command line and the
# stub reports StubProfile=1 — although Secure Boot drops custom command lines —, and PCR 11 of the
# guest's TPM (a swtpm) after the stub equals `trustboot measure calculate --uki --profile 1
# --phase=` (the busybox init extends no phase). The profile-0 entry boots the base command line
# and PCR 11 of profile 0. ~2 × 25 s TCG.
. "$(dirname "$0")/lib/pe.sh"
need qemu-system-x86_64 openssl python3 swtpm
ovmf_snakeoil
. "$(dirname "$0")/lib/oracle257.sh"
efi="$ORACLE/usr/lib/systemd/boot/efi"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/pcr.pem" 2>/dev/null
# A root file system whose /init reports what the stub gave the kernel, then powers off.
rfs="$WORK/rootfs"
mkdir -p "$rfs/bin" "$rfs/proc" "$rfs/sys" "$rfs/boot" "$rfs/etc"
cp /bin/busybox "$rfs/bin/"
cp "$KERNEL" "$rfs/boot/vmlinuz"
# Debian's cloud kernel has efivarfs as a (Debian-signed) module: the stub's StubProfile is read there.
efivarfs=$(ls "$(dirname "$KERNEL")"/../lib/modules/*/kernel/fs/efivarfs/efivarfs.ko 2>/dev/null | head -n1)
[ -n "$efivarfs" ] || fail "no efivarfs.ko beside $KERNEL"
cp "$efivarfs" "$rfs/efivarfs.ko"
printf 'ID=trustboot-test\nVERSION_ID=1\n' >"$rfs/etc/os-release"
cat >"$rfs/init" <<'SH'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox insmod /efivarfs.ko
/bin/busybox mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "TB-CMDLINE: $(/bin/busybox cat /proc/cmdline)"
echo "TB-PCR11: $(/bin/busybox cat /sys/class/tpm/tpm0/pcr-sha256/11)"
p=/sys/firmware/efi/efivars/StubProfile-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
[ -e "$p" ] && echo "TB-STUBPROFILE: $(/bin/busybox tail -c +5 "$p" | /bin/busybox tr -d '\000')"
echo "TB-DONE"
/bin/busybox poweroff -f
SH
chmod +x "$rfs/init"

"$TRUSTBOOT" -q build-uki "dir:$rfs" -t uki -d "$WORK/esp" --sb-key "$WORK/snakeoil.key" --sb-cert "$SNAKEOIL.pem" \
  --tpm-pcr-private-key "$WORK/pcr.pem" --stub "$efi/linuxx64.efi.stub" --sdboot "$efi/systemd-bootx64.efi" \
  --cmdline "console=ttyS0 panic=-1" --cmd-lines-v2 -c "tb.profile=one" 2>/dev/null || fail "build-uki --cmd-lines-v2"
[ -f "$WORK/esp/loader/entries/norole-profile1.conf" ] || fail "no profile-1 entry"

tpm_pid=""
on_exit '[ -z "$tpm_pid" ] || kill "$tpm_pid" 2>/dev/null || true'
boot() { # $1 = entry id to boot; sets SERIAL
  cp "$OVMF_VARS" "$WORK/vars.fd"
  # A fresh TPM per boot, stopped by PID (QEMU's disconnect ends it too).
  rm -rf "$WORK/tpm"; mkdir "$WORK/tpm"
  swtpm socket --tpm2 --tpmstate dir="$WORK/tpm" --ctrl type=unixio,path="$WORK/tpm/sock" >"$WORK/tpm/log" 2>&1 &
  tpm_pid=$!
  for _ in $(seq 50); do [ -S "$WORK/tpm/sock" ] && break; sleep 0.1; done
  [ -S "$WORK/tpm/sock" ] || fail "swtpm did not start: $(cat "$WORK/tpm/log")"
  { printf 'default %s\ntimeout 0\n' "$1"; grep -v '^timeout' "$WORK/esp/loader/loader.conf.orig"; } >"$WORK/esp/loader/loader.conf"
  SERIAL="$WORK/serial-$1"
  timeout 240 qemu-system-x86_64 -display none -serial "file:$SERIAL" -monitor none -no-reboot \
    -accel tcg -machine q35,smm=on -m 1024 -nic none \
    -global driver=cfi.pflash01,property=secure,value=on -global ICH9-LPC.disable_s3=1 \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
    -drive "if=pflash,format=raw,unit=1,file=$WORK/vars.fd" \
    -chardev "socket,id=chrtpm,path=$WORK/tpm/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
    -drive "file=fat:rw:$WORK/esp,format=raw,media=disk" || true
  kill "$tpm_pid" 2>/dev/null || true; wait "$tpm_pid" 2>/dev/null || true; tpm_pid=""
  grep -aq 'Secure boot enabled' "$SERIAL" || fail "$1: the kernel did not start with Secure Boot on: $(tail -c 600 "$SERIAL" | tr -cd '[:print:]\n')"
  grep -aq 'TB-DONE' "$SERIAL" || fail "$1: the initrd did not report: $(tail -c 600 "$SERIAL" | tr -cd '[:print:]\n')"
}
cp "$WORK/esp/loader/loader.conf" "$WORK/esp/loader/loader.conf.orig"
pcr11_check() { # $1 = profile: the guest's PCR 11 is the prediction for it, sections only
  local want got
  want=$("$TRUSTBOOT" measure calculate --uki="$WORK/esp/EFI/trustboot/norole.efi" --profile="$1" --bank=sha256 --phase= 2>/dev/null)
  want=${want#11:sha256=}
  got=$(grep -a 'TB-PCR11:' "$SERIAL" | tr -cd '[:print:]' | sed 's/.*TB-PCR11: *//' | tr 'A-F' 'a-f')
  [ -n "$want" ] && [ "$got" = "$want" ] || fail "profile $1: the guest's PCR 11 is '$got', trustboot predicts '$want'"
  echo "ok   profile $1: PCR 11 $got as predicted"
}

boot norole-profile1.conf
grep -aq 'TB-CMDLINE: .*install-mode tb.profile=one' "$SERIAL" ||
  fail "profile 1: not its command line: $(grep -a TB-CMDLINE "$SERIAL" | tr -cd '[:print:]')"
grep -aq 'TB-STUBPROFILE: 1' "$SERIAL" || fail "profile 1: the stub did not select profile 1: $(grep -a TB-STUB "$SERIAL" | tr -cd '[:print:]')"
echo "ok   norole-profile1.conf: $(grep -a TB-CMDLINE "$SERIAL" | tr -cd '[:print:]'), StubProfile 1"
pcr11_check 1

boot norole.conf
grep -a 'TB-CMDLINE' "$SERIAL" | contains -v 'tb.profile=one' || fail "profile 0 booted profile 1's command line"
grep -aq 'TB-STUBPROFILE: 0' "$SERIAL" || fail "profile 0: StubProfile is not 0: $(grep -a TB-STUB "$SERIAL" | tr -cd '[:print:]')"
echo "ok   norole.conf: $(grep -a TB-CMDLINE "$SERIAL" | tr -cd '[:print:]'), StubProfile 0"
pcr11_check 0
"$TRUSTBOOT" measure calculate --uki="$WORK/esp/EFI/trustboot/norole.efi" --profile=1 --bank=sha256 --phase= >"$WORK/p1" 2>/dev/null
"$TRUSTBOOT" measure calculate --uki="$WORK/esp/EFI/trustboot/norole.efi" --profile=0 --bank=sha256 --phase= >"$WORK/p0" 2>/dev/null
! cmp -s "$WORK/p0" "$WORK/p1" || fail "profiles 0 and 1 predict the same PCR 11"
echo "PASS: systemd-boot 257 + stub 257 boot the selected profile of a trustboot multi-profile UKI under Secure Boot, PCR 11 as predicted per profile"
