#!/usr/bin/env bash
# build-uki output checked by other tools: xorriso (El Torito, GPT), fsck.fat and mtools (the ESP),
# sbverify (every EFI binary), systemd-measure (PCR 11 over the sections), and the spec (loader files).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need xorriso fsck.fat mcopy mdir sbverify /lib/systemd/systemd-measure python3
synthetic_build_inputs

iso=$("$TRUSTBOOT" -q build-uki dir:root -t iso -d out -k keys -c rd.debug -s "My Entry: foo=bar" \
      --include-version-in-config --include-cmdline-in-config)
assert_eq "$iso" "out/synthetic-1.0-uki.iso" "ISO name from os-release"
assert_eq "$(ls -A out)" "synthetic-1.0-uki.iso" "nothing else left in the output directory"

# ISO: volume id, El Torito EFI image, hybrid GPT entry pointing at the same blocks.
xorriso -indev "$iso" -report_el_torito plain -report_system_area plain >report 2>&1 || true
contains "Volume id    : 'UKI_ISO_INSTALL'" report || fail "volume id: $(grep 'Volume id' report)"
grep -E '^El Torito boot img : +1 +UEFI +y +none' report >/dev/null || fail "no EFI no-emulation El Torito image: $(grep 'El Torito' report)"
contains 'GPT start and size' report || fail "no GPT in the hybrid ISO"
xorriso -osirrox on -indev "$iso" -extract /efiboot.img esp.img >/dev/null 2>&1 || fail "no /efiboot.img in the ISO"
lba=$(awk '/^El Torito boot img/ {print $NF}' report)
gpt_start=$(awk '/^GPT start and size/ {print $(NF-1); exit}' report)
assert_eq "$gpt_start" "$((lba * 4))" "GPT partition start (512-byte blocks) vs El Torito LBA (2 KiB)"

# The ESP: a clean FAT, the expected tree.
fsck.fat -n esp.img >fsck 2>&1 || fail "fsck.fat -n: $(cat fsck)"
mkdir esp && mcopy -s -n -i esp.img '::/*' esp/
( cd esp && find . -type f | sort ) > files
cat > want <<'W'
./EFI/BOOT/BOOTX64.EFI
./EFI/trustboot/my_entry.efi
./EFI/trustboot/norole.efi
./EFI/trustboot/norole_install-mode_rd.debug.efi
./loader/entries/my_entry.conf
./loader/entries/norole.conf
./loader/entries/norole_install-mode_rd.debug.conf
./loader/keys/auto/KEK.auth
./loader/keys/auto/PK.auth
./loader/keys/auto/db.auth
./loader/loader.conf
W
diff want files >d || fail "ESP tree: $(cat d)"
[ -d esp/EFI/tools ] || fail "EFI/tools missing"
for k in PK KEK db; do cmp -s esp/loader/keys/auto/$k.auth keys/$k.auth || fail "$k.auth differs from the key set's"; done

# loader.conf and entries as specified (systemd-boot 252 here: if-safe → manual).
printf 'timeout 5\nconsole-mode max\neditor no\nsecure-boot-enroll manual\n' | cmp -s - esp/loader/loader.conf \
  || fail "loader.conf: $(cat esp/loader/loader.conf)"
printf 'title trustboot\nsort-key norole\nefi /EFI/trustboot/norole.efi\nversion 1.0\ncmdline \n' | cmp -s - esp/loader/entries/norole.conf \
  || fail "norole.conf: $(cat esp/loader/entries/norole.conf)"
printf 'title trustboot (My Entry)\nsort-key my_entry\nefi /EFI/trustboot/my_entry.efi\nversion 1.0\ncmdline foo=bar\n' | cmp -s - esp/loader/entries/my_entry.conf \
  || fail "my_entry.conf: $(cat esp/loader/entries/my_entry.conf)"

# Every EFI binary verifies against db.pem with sbverify.
for f in esp/EFI/BOOT/BOOTX64.EFI esp/EFI/trustboot/*.efi; do
  sbverify --cert keys/db.pem "$f" >/dev/null 2>&1 || fail "sbverify rejects $f"
done

# PCR 11 over the extracted sections: systemd-measure agrees with trustboot, and .pcrsig holds the
# policy signature for exactly these values.
for f in esp/EFI/trustboot/*.efi; do
  "$TRUSTBOOT" inspect --json "$f" > insp.json
  python3 - "$f" insp.json <<'PY'
import json, sys
uki, info = sys.argv[1], json.load(open(sys.argv[2]))
data = open(uki, "rb").read()
for s in info["sections"]:
    n = s["name"].lstrip(".")
    if n in ("linux", "osrel", "cmdline", "initrd", "uname", "pcrpkey", "pcrsig"):
        open("sec-" + n, "wb").write(data[s["raw_offset"]:s["raw_offset"] + s["virtual_size"]])
names = [s["name"] for s in info["sections"]]
assert names[-1] == ".linux", f"{uki}: .linux is not last: {names}"
PY
  args=(--linux=sec-linux --osrel=sec-osrel --cmdline=sec-cmdline --initrd=sec-initrd --pcrpkey=sec-pcrpkey --bank=sha256)
  for ph in enter-initrd enter-initrd:leave-initrd; do
    /lib/systemd/systemd-measure calculate "${args[@]}" --phase=$ph > sd.txt 2>/dev/null
    "$TRUSTBOOT" measure calculate --uki "$f" --bank=sha256 --phase=$ph > tb.txt 2>/dev/null
    cmp -s sd.txt tb.txt || fail "$f phase $ph: systemd-measure says $(cat sd.txt), trustboot $(cat tb.txt)"
  done
  "$TRUSTBOOT" measure sign --uki "$f" --bank=sha256 --private-key=keys/tpm2-pcr-private.pem \
    --phase=enter-initrd --phase=enter-initrd:leave-initrd --phase=enter-initrd:leave-initrd:sysinit \
    --phase=enter-initrd:leave-initrd:sysinit:ready --json=short > expected-sig.json
  python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a==b, (a,b); assert len(a["sha256"])==4' \
    sec-pcrsig expected-sig.json || fail "$f: .pcrsig is not the policy for its sections"
  openssl pkey -in keys/tpm2-pcr-private.pem -pubout | cmp -s - sec-pcrpkey || fail "$f: .pcrpkey is not the PCR public key"
done

# Reproducible: same inputs, keys and SOURCE_DATE_EPOCH → the same ISO, byte for byte.
"$TRUSTBOOT" -q build-uki dir:root -t iso -d out2 -k keys -c rd.debug -s "My Entry: foo=bar" \
  --include-version-in-config --include-cmdline-in-config >/dev/null
cmp -s "$iso" out2/synthetic-1.0-uki.iso || fail "two builds of the same ISO differ"

# -t uki: the same tree; -t container: a docker-archive that skopeo reads.
"$TRUSTBOOT" -q build-uki dir:root -t uki -d tree -k keys -c rd.debug -s "My Entry: foo=bar" \
  --include-version-in-config --include-cmdline-in-config >/dev/null
diff -r esp tree >d || fail "-t uki tree differs from the ISO's ESP: $(head d)"
c=$("$TRUSTBOOT" -q build-uki dir:root -t container -d ctr -k keys --name upgrade)
assert_eq "$c" "ctr/upgrade.tar" "container name"
if command -v skopeo >/dev/null; then
  skopeo inspect docker-archive:"$c" > ctr.json 2>ctr.err || fail "skopeo cannot read the container: $(cat ctr.err)"
  contains '"Architecture": "amd64"' ctr.json || fail "container architecture"
  skopeo copy -q docker-archive:"$c" oci:ctr-oci:x >/dev/null 2>&1 || fail "skopeo cannot copy the container"
fi
mkdir layer && tar -xOf "$c" --wildcards '*/layer.tar' | tar -x -C layer
[ -f layer/EFI/BOOT/BOOTX64.EFI ] && [ -f layer/loader/loader.conf ] || fail "container layer lacks the ESP files"
echo "build-uki structure: ok"
