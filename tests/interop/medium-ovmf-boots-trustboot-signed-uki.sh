#!/usr/bin/env bash
# OVMF with Secure Boot enforced (Debian's snakeoil PK/KEK/db) boots a UKI that the pe editor
# built from the Debian 252 stub (header area grown past its 7 free slots, .sbat replaced in
# place) and that trustboot signed while writing it: the stub starts the Debian kernel, whose
# initrd prints a marker. About 15 s under TCG.
. "$(dirname "$0")/lib/pe.sh"
need qemu-system-x86_64 cpio gzip openssl objdump
: "${TB_PE_ADD_SECTIONS:?the pe-add-sections helper is not built}"

ovmf_snakeoil
mkdir -p "$WORK/initrd/bin" "$WORK/initrd/proc" "$WORK/esp/EFI/BOOT"
cp /bin/busybox "$WORK/initrd/bin/"
printf '#!/bin/busybox sh\necho "TRUSTBOOT-PE-MARKER booted"\n/bin/busybox poweroff -f\n' >"$WORK/initrd/init"
chmod +x "$WORK/initrd/init"
(cd "$WORK/initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.img"
printf 'ID=trustboot-test\n' >"$WORK/osrel"
printf 'console=ttyS0 panic=-1' >"$WORK/cmdline"
printf '6.1' >"$WORK/uname"
printf '{}' >"$WORK/pcrsig"
head -c 1000 /dev/urandom >"$WORK/extra"
openssl rsa -in "$WORK/snakeoil.key" -pubout -out "$WORK/pcrpkey" 2>/dev/null
printf 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n' >"$WORK/sbat"

uki=$WORK/esp/EFI/BOOT/BOOTX64.EFI
"$TB_PE_ADD_SECTIONS" "$SDBOOT_DIR/linuxx64.efi.stub" "$uki" --sign "$WORK/snakeoil.key" "$SNAKEOIL.pem" \
        --replace ".sbat=$WORK/sbat" ".osrel=$WORK/osrel" ".cmdline=$WORK/cmdline" ".uname=$WORK/uname" \
        ".pcrpkey=$WORK/pcrpkey" ".initrd=$WORK/initrd.img" ".pcrsig=$WORK/pcrsig" ".extra=$WORK/extra" \
        ".linux=$KERNEL" || fail "pe-add-sections failed"
hdr=$(objdump -p "$uki" | awk '/^SizeOfHeaders/ { print $2 }')
[ $((16#$hdr)) -gt $((0x400)) ] || fail "SizeOfHeaders 0x$hdr: the header area did not grow"

cp "$OVMF_VARS" "$WORK/vars.fd"
timeout 120 qemu-system-x86_64 -display none -serial "file:$WORK/serial" -monitor none -no-reboot \
        -accel tcg -machine q35,smm=on -m 1024 -nic none \
        -global driver=cfi.pflash01,property=secure,value=on -global ICH9-LPC.disable_s3=1 \
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
        -drive "if=pflash,format=raw,unit=1,file=$WORK/vars.fd" \
        -drive "file=fat:rw:$WORK/esp,format=raw,media=disk" || true
grep -aq 'Secure boot enabled' "$WORK/serial" ||
        fail "the kernel did not start with Secure Boot on: $(tail -c 600 "$WORK/serial" | tr -cd '[:print:]\n')"
grep -aq 'TRUSTBOOT-PE-MARKER booted' "$WORK/serial" || fail "no marker from the initrd"
if grep -aq 'Overlapping PE sections' "$WORK/serial"; then fail "the stub reports overlapping sections"; fi
echo "ok: OVMF (Secure Boot, snakeoil db) booted the trustboot-built, trustboot-signed UKI"
