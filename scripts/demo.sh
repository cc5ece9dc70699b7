#!/usr/bin/env bash
# `make demo`: the main job on built-in defaults, end to end, in demo/ (ignored by git):
#   demo keys → the demo root filesystem (tests/rootfs: Debian's signed kernel, busybox, trustboot)
#   → an installable ISO (build-uki) → a VM in setup mode where systemd-boot enrolls the keys
#   → a second boot under Secure Boot → a medium with trustboot as /init and a cloud-config
#   installs itself to a blank disk, LUKS2 partitions sealed to the TPM → the disk boots, the TPM
#   unlocks them → a short report.
set -euo pipefail
tb="$(realpath "$1")"
top="$(cd "$(dirname "$0")/.." && pwd)"
out="$top/demo"
mkdir -p "$out"
cd "$out"
step() { printf '\n== %s\n' "$*"; }

step "1. Secure Boot keys (demo/keys)"
if [ -f keys/db.key ]; then echo "kept: demo/keys"; else "$tb" genkey "trustboot demo" -o keys; fi

step "2. demo root filesystem (tests/rootfs, cached)"
rootfs="$("$top/tests/rootfs/build.sh" --trustboot "$tb" "$top/build/tests/rootfs-cache")"
echo "$rootfs"

step "3. installable ISO (build-uki)"
rm -rf out
t0=$(date +%s.%N)
# --init /sbin/init: the image carries trustboot, which build-uki would make /init by default; this
# first medium boots the test root's own report script instead, so PCR 11 shows the stub's
# measurements alone.
iso="$("$tb" build-uki "dir:$rootfs/rootfs" -t iso -d out -k keys --secure-boot-enroll force --init /sbin/init --name trustboot-demo)"
printf 'built %s (%s) in %.1f s\n' "$iso" "$(du -h "$iso" | cut -f1)" "$(echo "$(date +%s.%N) - $t0" | bc)"

step "4. first boot, setup mode: systemd-boot enrolls PK, KEK, db (QEMU TCG, ~30 s)"
rm -f vars.fd
"$tb" vm "$iso" --cdrom --setup-mode --vars vars.fd --no-tpm --serial boot1.log --timeout 240 || true
grep -a -q 'Enrolling secure boot keys' boot1.log && echo "keys enrolled" || { echo "enrollment not seen: see demo/boot1.log"; exit 1; }

step "5. second boot under Secure Boot, with a TPM (~60 s)"
rm -rf tpm && mkdir tpm
"$tb" vm "$iso" --cdrom --vars vars.fd --tpm-state tpm --serial boot2.log --expect '^TB-ROOTFS-DONE$' --timeout 300
val() { tr -d '\r' < boot2.log | sed -n "s/^TB-ROOTFS $1=//p" | head -n1; }
xorriso -osirrox on -indev "$iso" -extract /efiboot.img esp.img >/dev/null 2>&1
rm -f norole.efi && mcopy -n -i esp.img ::/EFI/trustboot/norole.efi norole.efi
predicted="$("$tb" measure calculate --uki norole.efi --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')"

step "6. install medium: trustboot as /init (build-uki's default for an image that carries it), the seed's example cloud-config verbatim"
rm -rf overlay install-out && mkdir -p overlay/etc/trustboot
cp "$top/tests/e2e/fixtures/seed-install-config.yaml" overlay/etc/trustboot/config.yaml
imedium="$("$tb" -q build-uki "dir:$rootfs/rootfs" -o overlay -t iso -d install-out -k keys --name trustboot-install)"
echo "built $imedium"

step "7. boot it under Secure Boot with a blank disk: it installs (OEM, persistent and PARTITION_TWO encrypted), boots on as the live system, whose report powers off (~1-2 min)"
rm -f disk.img
"$tb" vm "$imedium" --cdrom --vars vars.fd --tpm-state tpm --disk disk.img:1200M --memory 1536 --serial boot3.log --timeout 600
grep -a 'trustboot install:' boot3.log | tr -d '\r' | tail -n 4

step "8. boot the installed disk: the TPM unlocks the encrypted partitions (~1 min)"
mkdir -p empty
"$tb" vm empty --vars vars.fd --tpm-state tpm --disk disk.img --serial boot4.log --expect '^TB-ROOTFS-DONE$' --timeout 300
grep -a 'unlocked by the TPM' boot4.log | tr -d '\r'
unlocked=$(grep -a -c 'unlocked by the TPM as' boot4.log || true)

step "report"
printf '  Secure Boot           %s (SetupMode %s)\n' "$(val SecureBoot)" "$(val SetupMode)"
printf '  PCR 11 predicted      %s\n' "$predicted"
printf '  PCR 11 measured       %s\n' "$(val PCR11-sha256)"
printf '  signed PCR policy     %s, public key %s (in /.extra)\n' "$(val tpm2-pcr-signature.json)" "$(val tpm2-pcr-public-key.pem)"
printf '  installed disk        demo/disk.img: %s encrypted partitions unlocked by the TPM\n' "$unlocked"
printf '  outputs               %s, %s, demo/keys, demo/vars.fd, demo/boot{1,2,3,4}.log\n' "$iso" "$imedium"
[ "$(val SecureBoot)" = 1 ] && [ "$predicted" = "$(val PCR11-sha256)" ] && [ "$unlocked" = 3 ] || { echo "demo: FAILED"; exit 1; }
echo "demo: OK"
