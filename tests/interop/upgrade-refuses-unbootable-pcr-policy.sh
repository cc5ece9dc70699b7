#!/usr/bin/env bash
# trustboot upgrade refuses a new UKI whose .pcrsig would let the node boot but not unlock: one
# whose signatures are all by the right PCR key but for another PCR 11 than the UKI's own (its
# sections as its systemd-stub measures them, after enter-initrd: what `trustboot measure
# calculate` and systemd-measure say), and one whose .pcrsig members have the wrong JSON types
# ("pkfp": null, "pol": null, …). Each is refused with one line, the ESP and the variables byte
# for byte unchanged. The crafted UKIs are the good medium's UKI with only .pcrsig replaced
# (sbattach --remove, pe-add-sections) and signed again with the db key, so the db check passes and only the PCR
# policy differs; the same crafting with the original .pcrsig is accepted.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/node.sh"
need python3 sbverify sbattach
: "${TB_PE_ADD_SECTIONS:?the pe-add-sections helper is not built}"
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000

node_medium
sed -i 's/^VERSION_ID=.*/VERSION_ID=2.0/' root/etc/os-release
"$TRUSTBOOT" -q build-uki dir:root -t uki -d m2 -k keys >/dev/null
uki=m2/EFI/trustboot/norole.efi

# The installed node: m1's UKI as active, db = the genkey db.
install_esp() {
  rm -rf esp; node_esp esp m1/EFI/trustboot/norole.efi trustboot
  node_vars vars
}
snapshot() { ( cd esp && find . -printf '%y %p %s\n' | sort && find . -type f | sort | xargs sha256sum ) > "$1"; ls -A vars >> "$1"; }
section() { # UKI NAME: the section's VirtualSize bytes
  python3 - "$1" "$2" <<'PY'
import sys, struct
d = open(sys.argv[1], "rb").read(); pe = struct.unpack_from("<I", d, 0x3c)[0]
n = struct.unpack_from("<H", d, pe + 6)[0]; opt = struct.unpack_from("<H", d, pe + 20)[0]
for i in range(n):
    s = pe + 24 + opt + 40 * i
    if d[s:s+8].rstrip(b"\0") == sys.argv[2].encode():
        vs, _, rs, ro = struct.unpack_from("<IIII", d, s + 8); sys.stdout.buffer.write(d[ro:ro+vs]); break
else:
    sys.exit("no section " + sys.argv[2])
PY
}
# craft NAME PCRSIG-FILE: the good UKI with .pcrsig replaced, signed with the db key.
craft() {
  rm -rf "$1"; mkdir -p "$1/EFI/trustboot" "$1/loader/entries"
  cp -r m2/EFI/BOOT "$1/EFI/" 2>/dev/null || true
  cp m2/loader/entries/norole.conf "$1/loader/entries/"
  cp "$uki" "$1/signed.efi" && sbattach --remove "$1/signed.efi" >/dev/null || fail "sbattach --remove"
  "$TB_PE_ADD_SECTIONS" "$1/signed.efi" "$1/unsigned.efi" --replace ".pcrsig=$2" || fail "pe-add-sections $1"
  "$TRUSTBOOT" sign --replace -k keys/db.key -c keys/db.pem -o "$1/EFI/trustboot/norole.efi" "$1/unsigned.efi" >/dev/null ||
    fail "sign $1"
  rm "$1/unsigned.efi" "$1/signed.efi"
  sbverify --cert keys/db.pem "$1/EFI/trustboot/norole.efi" >/dev/null 2>&1 || fail "$1: sbverify rejects the crafted UKI"
  section "$1/EFI/trustboot/norole.efi" .pcrsig | cmp -s - "$2" || fail "$1: .pcrsig is not the crafted one"
}
upgrade() { "$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device none --source "dir:$1"; }
refused() { # MEDIUM WHAT-IN-MESSAGE
  install_esp
  snapshot before
  expect_error upgrade "$1"
  contains -- "$2" <<<"$ERR" || fail "$1: expected '$2' in: $ERR"
  snapshot after
  cmp -s before after || fail "$1: the refused upgrade changed the ESP: $(diff before after | head -5)"
}

section "$uki" .pcrsig > good.json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["sha256"][0]["pcrs"] == [11], j' good.json ||
  fail "build-uki's .pcrsig is not systemd-measure's shape"

# The crafting itself changes nothing that matters: the original .pcrsig is accepted.
craft same good.json
install_esp
upgrade same >/dev/null || fail "the re-signed UKI with its own .pcrsig is refused"

# Signed by the PCR key the disks are bound to, but for another command line: every signature
# verifies, no policy is this UKI's. (The command line measured is the UKI's .cmdline section.)
section "$uki" .cmdline > cmdline; printf ' init=/bin/sh' >> cmdline
"$TRUSTBOOT" measure sign --uki="$uki" --cmdline=cmdline --bank=sha256 --private-key=keys/tpm2-pcr-private.pem \
  > other-cmdline.json || fail "measure sign"
own=$("$TRUSTBOOT" measure calculate --uki="$uki" --bank=sha256 --phase=enter-initrd | sed 's/.*=//')
theirs=$("$TRUSTBOOT" measure calculate --uki="$uki" --cmdline=cmdline --bank=sha256 --phase=enter-initrd | sed 's/.*=//')
[ "$own" != "$theirs" ] || fail "the other command line gives the same PCR 11"
craft wrongpcr other-cmdline.json
refused wrongpcr "none of the policies its .pcrsig signs is its own PCR 11 after enter-initrd"
# Only the sections-only value (no phase) signed: the node would not unlock in the initrd.
"$TRUSTBOOT" measure sign --uki="$uki" --bank=sha256 --phase= --private-key=keys/tpm2-pcr-private.pem > nophase.json ||
  fail "measure sign --phase="
craft nophase nophase.json
refused nophase "none of the policies its .pcrsig signs is its own PCR 11 after enter-initrd"

# Members of the wrong type: one line each, no crash (they reached strlen(NULL) before).
mutate() { # NAME PYTHON-EXPRESSION-ON-e (the first sha256 entry)
  python3 - good.json "$2" > "$1.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); e = j["sha256"][0]
exec(sys.argv[2])
sys.stdout.write(json.dumps(j))
PY
  craft "$1" "$1.json"
  refused "$1" "malformed"
}
mutate pkfp-null 'e["pkfp"] = None'
mutate pol-null 'e["pol"] = None'
mutate sig-number 'e["sig"] = 42'
mutate pcrs-string 'e["pcrs"] = "11"'
mutate pol-short 'e["pol"] = e["pol"][:10]'
mutate entry-string 'j["sha256"][0] = "x"'
mutate pkfp-missing 'del e["pkfp"]'
echo ok
