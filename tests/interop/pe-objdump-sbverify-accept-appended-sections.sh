#!/usr/bin/env bash
# A UKI built by the pe editor from the Debian 252 stub (symbol table stripped, .sbat replaced in
# place, 9 sections appended: more than its 7 free header slots, so the header area grows) is a
# valid PE for binutils: objdump lists every section and objcopy dumps each one back byte for
# byte. Signed in the same pass, it passes sbverify and osslsigncode, and sbsign signs the
# same digest for the unsigned build.
. "$(dirname "$0")/lib/pe.sh"
need objdump objcopy sbverify sbsign osslsigncode openssl
: "${TB_PE_ADD_SECTIONS:?the pe-add-sections helper is not built}"

stub=$SDBOOT_DIR/linuxx64.efi.stub
[ -f "$stub" ] || { echo "SKIP: no $stub" >&2; exit 77; }
kernel=$(debian_kernel)
[ -n "$kernel" ] || kernel=$SDBOOT_DIR/systemd-bootx64.efi
s=$WORK/s
mkdir -p "$s"
printf 'ID=debian\nVERSION_ID=12\n' >"$s/.osrel"
printf 'console=ttyS0 quiet' >"$s/.cmdline"
printf '6.1.0-test-amd64' >"$s/.uname"
openssl rsa -in "$key" -pubout -out "$s/.pcrpkey" 2>/dev/null
head -c 300000 /dev/urandom >"$s/.initrd"
head -c 5000 /dev/urandom >"$s/.splash"
head -c 3001 /dev/urandom >"$s/.dtb"
printf '{"sha256":[]}' >"$s/.pcrsig"
cp "$kernel" "$s/.linux"
printf 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n' >"$WORK/sbat"
order=(.osrel .cmdline .uname .pcrpkey .initrd .splash .dtb .pcrsig .linux)
specs=()
for n in "${order[@]}"; do specs+=("$n=$s/$n"); done

"$TB_PE_ADD_SECTIONS" "$stub" "$WORK/uki.efi" --replace ".sbat=$WORK/sbat" "${specs[@]}" ||
        fail "pe-add-sections failed"
"$TB_PE_ADD_SECTIONS" "$stub" "$WORK/uki.signed.efi" --sign "$key" "$cert" --replace ".sbat=$WORK/sbat" \
        "${specs[@]}" || fail "pe-add-sections --sign failed"

objdump -h "$WORK/uki.efi" >"$WORK/objdump.txt" 2>&1 || fail "objdump cannot read the image: $(head -3 "$WORK/objdump.txt")"
hdr=$(objdump -p "$WORK/uki.efi" | awk '/^SizeOfHeaders/ { print $2 }')
[ $((16#$hdr)) -gt $((0x400)) ] || fail "SizeOfHeaders 0x$hdr: the header area did not grow"
for n in "${order[@]}" .sbat; do
        want=$s/$n
        [ "$n" = .sbat ] && want=$WORK/sbat
        grep -q " $n " "$WORK/objdump.txt" || fail "objdump does not list $n"
        objcopy --dump-section "$n=$WORK/dump" "$WORK/uki.efi" "$WORK/scratch.efi" || fail "objcopy cannot dump $n"
        cmp -s "$WORK/dump" "$want" || fail "section $n differs from its input: $(cmp "$WORK/dump" "$want" 2>&1)"
done
for n in .text .data .sdmagic; do
        objcopy --dump-section "$n=$WORK/a" "$stub" "$WORK/scratch.efi"
        objcopy --dump-section "$n=$WORK/b" "$WORK/uki.efi" "$WORK/scratch.efi"
        cmp -s "$WORK/a" "$WORK/b" || fail "stub section $n changed when its raw data moved"
done
echo "ok: objdump lists all sections, objcopy dumps each one unchanged"

sbverify --cert "$cert" "$WORK/uki.signed.efi" >/dev/null 2>&1 || fail "sbverify rejects the UKI signed while writing"
osslsigncode verify -CAfile "$cert" -in "$WORK/uki.signed.efi" >"$WORK/oss" 2>&1 || fail "osslsigncode rejects it"
grep -qi 'invalid PE checksum' "$WORK/oss" && fail "osslsigncode: wrong PE checksum"
"$TRUSTBOOT" verify --cert "$cert" "$WORK/uki.signed.efi" >/dev/null || fail "trustboot verify rejects it"
sbsign --key "$key" --cert "$cert" --output "$WORK/uki.sbsign.efi" "$WORK/uki.efi" >/dev/null 2>&1 || fail "sbsign failed"
ours=$(osslsigncode verify -CAfile "$cert" -in "$WORK/uki.signed.efi" 2>&1 | awk '/Current message digest/ { print $5 }')
theirs=$(osslsigncode verify -CAfile "$cert" -in "$WORK/uki.sbsign.efi" 2>&1 | awk '/Current message digest/ { print $5 }')
[ -n "$ours" ] && [ "$ours" = "$theirs" ] || fail "digest signed while writing $ours, sbsign signs $theirs"
# Writing once with the signature is the same as writing, then signing.
"$TRUSTBOOT" sign --key "$key" --cert "$cert" -o "$WORK/uki.later.efi" "$WORK/uki.efi"
cmp -s "$WORK/uki.later.efi" "$WORK/uki.signed.efi" || fail "signing while writing differs from signing afterwards"
echo "ok: signed while writing; sbverify, osslsigncode, trustboot verify accept it; digest $ours = sbsign's"

# inspect --json: the stub version, every section, the signer, and the sections the 252 stub
# measures (.uname/.sbat/.pcrsig are not) with the SHA-256 of exactly the input bytes.
"$TRUSTBOOT" inspect --json "$WORK/uki.signed.efi" >"$WORK/inspect.json" || fail "inspect failed"
python3 - "$WORK/inspect.json" "$s" <<'PY' || fail "inspect --json does not describe the UKI"
import hashlib, json, sys
j = json.load(open(sys.argv[1]))
d = sys.argv[2]
assert j["stub"].startswith("systemd-stub 252"), j["stub"]
names = [s["name"] for s in j["sections"]]
assert names[-9:] == [".osrel", ".cmdline", ".uname", ".pcrpkey", ".initrd", ".splash", ".dtb", ".pcrsig", ".linux"], names
assert len(j["signatures"]) == 1 and j["signatures"][0]["signer"] == "CN=trustboot interop db", j["signatures"]
assert j["signatures"][0]["matches_image"] and j["signatures"][0]["digest"] == j["authenticode_sha256"]
m = j["uki"]["measured_sections"]
assert j["uki"]["measured_by_stub"] == 252
assert [x["name"] for x in m] == [".linux", ".osrel", ".cmdline", ".initrd", ".splash", ".dtb", ".pcrpkey"], m
for x in m:
    data = open(d + "/" + x["name"], "rb").read()
    assert x["size"] == len(data) and x["sha256"] == hashlib.sha256(data).hexdigest(), x["name"]
PY
echo "ok: inspect --json lists the stub, sections, signer and measured sections with their digests"
