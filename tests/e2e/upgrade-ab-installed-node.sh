#!/usr/bin/env bash
# An installed, encrypted node (the install scenario) upgraded to a second medium built from the
# same rootfs with a new VERSION_ID and the same keys. The upgrade runs on the host against the
# disk image's ESP (copied out with mtools, `trustboot upgrade`, copied back; efivars: a fake
# directory holding db), not inside the guest: the test root filesystem's init only reports.
# Then, under Secure Boot: the new UKI boots as the active entry (PCR 11 is the new UKI's) and
# the data partitions unlock; with the active entry's tries exhausted (+0-3), systemd-boot falls
# back to the passive entry, the old UKI, which still unlocks them.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need mcopy mren mdeltree mmd openssl python3

e2e_rootfs --trustboot
cd "$WORK"
SECDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
"$TRUSTBOOT" -q genkey demo -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null || fail "genkey"
mkdir -p overlay/etc/trustboot overlay2/etc
cat >overlay/etc/trustboot/config.yaml <<'YAML'
#cloud-config
install:
  device: auto
  auto: true
  poweroff: true
  encrypted_partitions: [COS_OEM, COS_PERSISTENT]
YAML
build() { # OUTDIR TYPE NAME OVERLAY...
  local d="$1" t="$2" n="$3"; shift 3
  local o=(); for x in "$@"; do o+=(-o "$x"); done
  "$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" "${o[@]}" -t "$t" -d "$d" -k keys --secure-boot-enroll force \
    --init /usr/bin/trustboot -n "$n" >/dev/null || fail "build-uki $n"
}
build out iso medium overlay
iso=$(ls out/*.iso | head -n1)
{ grep -v '^VERSION_ID=' "$ROOTFS/rootfs/etc/os-release" 2>/dev/null || true; echo 'VERSION_ID=99.0-upgrade'; } > overlay2/etc/os-release
build new uki new overlay overlay2

# 1. enroll, install (as the install scenario).
vm "$iso" --setup-mode --vars vars.fd --tpm-state tpm --serial s0.txt --timeout 120
assert_eq "$VM_RC" 0 "enroll run (serial: $(tail -c 600 s0.txt))"
vm "$iso" --vars vars.fd --tpm-state tpm --disk disk.img:1200M --memory 1536 --serial s1.txt --timeout 600
assert_eq "$VM_RC" 0 "install run (serial: $(tail -c 600 s1.txt))"
tr -d '\r' <s1.txt | contains -a 'trustboot install: /dev/vda: installed' || fail "no install: $(tr -d '\r' <s1.txt | grep trustboot | tail -n 5)"

# 2. the upgrade, on the ESP (partition 1 at 1 MiB).
export MTOOLS_SKIP_CHECK=1
ESPIMG="disk.img@@1M"
mkdir esp vars
mcopy -s -n -i "$ESPIMG" '::/*' esp/ || fail "cannot copy the ESP out"
old_uki=old-active.efi; cp esp/EFI/trustboot/active.efi "$old_uki"
python3 -c 'import sys,struct; sys.stdout.buffer.write(struct.pack("<I",0x27)+open(sys.argv[1],"rb").read())' keys/db.esl > "vars/db-$SECDB"
"$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device none --source dir:new >up.txt || fail "upgrade: $(cat up.txt)"
cmp -s esp/EFI/trustboot/active.efi new/EFI/trustboot/norole.efi || fail "active.efi is not the new UKI"
cmp -s esp/EFI/trustboot/passive.efi "$old_uki" || fail "passive.efi is not the old active UKI"
mdeltree -i "$ESPIMG" ::/loader/entries && mmd -i "$ESPIMG" ::/loader/entries || fail "cannot reset the entries"
mcopy -i "$ESPIMG" esp/loader/entries/* ::/loader/entries/ || fail "cannot copy the entries back"
mcopy -o -i "$ESPIMG" esp/EFI/trustboot/active.efi esp/EFI/trustboot/passive.efi ::/EFI/trustboot/ || fail "cannot copy the UKIs back"

pcr_of() { # UKI → the PCR 11 values it can leave (no phase, enter-initrd, enter+leave-initrd)
  for ph in "" enter-initrd enter-initrd:leave-initrd; do
    "$TRUSTBOOT" measure calculate --uki "$1" --bank=sha256 --phase="$ph" 2>/dev/null | sed 's/.*=//'
  done
}
boot_disk() { # SERIAL
  mkdir -p empty
  vm empty --vars vars.fd --tpm-state tpm --disk disk.img --serial "$1" --expect "^$MARKER\$" --timeout 300
  assert_eq "$VM_RC" 0 "disk boot $1 (serial: $(tail -c 600 "$1"))"
  tr -d '\r' <"$1" >"$1.clean"
  for v in oem persistent; do
    contains -a "unlocked by the TPM as /dev/mapper/$v" "$1.clean" || fail "$1: $v not unlocked: $(grep trustboot "$1.clean" | tail -n 8)"
  done
  PCR=$(serial_value "$1.clean" PCR11-sha256)
}

# 3. the new version is active.
boot_disk s2.txt
# LoaderEntrySelected is the id systemd-boot read, before its boot-counting rename.
contains -E 'entry active\+3\.conf \(role active\)' s2.txt.clean || fail "not the active entry: $(grep 'booted from' s2.txt.clean)"
pcr_of new/EFI/trustboot/norole.efi | contains -x "$PCR" || fail "PCR 11 $PCR is not the new UKI's"
pcr_of "$old_uki" | contains -x "$PCR" && fail "PCR 11 is the old UKI's"

# 4. active's tries exhausted → the passive entry (old version) boots and unlocks.
active=$(mdir -b -i "$ESPIMG" ::/loader/entries | sed 's|.*/||' | grep '^active')
mren -i "$ESPIMG" "::/loader/entries/$active" ::/loader/entries/active+0-3.conf || fail "cannot mark active bad"
boot_disk s3.txt
contains '(role passive)' s3.txt.clean || fail "not the passive entry: $(grep 'booted from' s3.txt.clean)"
pcr_of "$old_uki" | contains -x "$PCR" || fail "PCR 11 $PCR is not the old UKI's"
echo "ok: upgraded node boots the new version and unlocks; the passive entry boots the old one and unlocks"
