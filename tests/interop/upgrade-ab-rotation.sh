#!/usr/bin/env bash
# trustboot upgrade on an installed ESP (a plain directory) with a firmware db/dbx in a fake
# efivarfs: rotation of the whole active family (extra entries of build-uki -c included),
# boot counters, LoaderEntryOneShot, removal of the entries a newer medium drops, and a
# byte-for-byte untouched ESP on every refusal (other db key, other PCR key, cert in dbx, hash
# in dbx, no room, a half entry, a bad name, too many entries) and after a crash before the last
# rename. Media are built by trustboot build-uki; every installed and
# refused UKI is checked with sbverify, and the PCR key with openssl, so the test does not only
# believe trustboot about itself.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/node.sh"
need sbverify openssl mcopy python3 skopeo
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000

"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
"$TRUSTBOOT" genkey Other -o other --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
# Key sets that differ from keys/ in one key only.
cp -r keys otherdb && cp other/db.key other/db.pem otherdb/
cp -r keys otherpcr && cp other/tpm2-pcr-private.pem otherpcr/

medium() { # VERSION KEYS OUT [TYPE]
  if [ ! -d "root$1" ]; then
    synthetic_rootfs "root$1"
    sed -i "s/^VERSION_ID=.*/VERSION_ID=$1/" "root$1/etc/os-release"
  fi
  "$TRUSTBOOT" -q build-uki "dir:root$1" -t "${4:-uki}" -d "$3" -k "$2" >/dev/null
}
medium 1.0 keys m1
medium 2.0 keys m2
medium 3.0 otherdb m-otherdb
medium 3.0 otherpcr m-otherpcr
# Media with an extra entry (build-uki -c), and without it again in 3.0.
X=_install-mode_debug_loglevel_7
medium_x() { "$TRUSTBOOT" -q build-uki "dir:root$1" -t uki -d "$3" -k "$2" -c "debug loglevel=7" >/dev/null; }
medium_x 1.0 keys mx1
medium_x 2.0 keys mx2
medium 3.0 keys m3
assert_eq "$(ls mx2/EFI/trustboot | LC_ALL=C sort | tr '\n' ' ')" "norole.efi norole$X.efi " "build-uki -c UKIs"
assert_eq "$(ls mx2/loader/entries | LC_ALL=C sort | tr '\n' ' ')" "norole.conf norole$X.conf " "build-uki -c entries"
cmp -s mx1/EFI/trustboot/norole$X.efi mx2/EFI/trustboot/norole$X.efi && fail "the two media have the same extra UKI"
cmp -s m1/EFI/trustboot/norole.efi m2/EFI/trustboot/norole.efi && fail "the two media have the same UKI"

# An installed node as init/install lays it out (tb_bootentries_fan_out, bootentries.h): every
# norole* UKI and entry of MEDIUM (default m1) fanned out to the four roles with their titles,
# sort keys and +3 counters, the main active entry already blessed by a good boot.
install_esp() { # [MEDIUM]
  local f sfx role t k
  rm -rf esp; mkdir -p esp; cp -r "${1:-m1}"/. esp/
  for f in esp/EFI/trustboot/norole*.efi; do
    sfx=$(basename "$f" .efi); sfx=${sfx#norole}; k=0
    for role in active passive recovery statereset; do
      k=$((k + 1))
      cp "$f" "esp/EFI/trustboot/$role$sfx.efi"
      case $role in active) t="trustboot";; passive) t="trustboot (fallback)";;
        recovery) t="trustboot recovery";; statereset) t="trustboot state reset (auto)";; esac
      printf 'title %s\nsort-key %04d\nefi /EFI/trustboot/%s.efi\n' "$t" "$k" "$role$sfx" > "esp/loader/entries/$role$sfx+3.conf"
    done
    rm "$f" "esp/loader/entries/norole$sfx.conf"
  done
  mv esp/loader/entries/active+3.conf esp/loader/entries/active.conf
}
# A fake efivarfs: db holds the db certificate (the genkey ESL), dbx is empty.
reset_vars() { node_vars vars; }
snapshot() { ( cd esp && find . -printf '%y %p %s\n' | sort && find . -type f | sort | xargs sha256sum ) > "$1"; ls -A vars >> "$1"; }

fresh_name='/EFI/trustboot/uki-[0-9a-f]{16}\.efi' 

# ---- usage errors: exit 2, one line + hint ----
for args in "" "--source dir:m2 --recovery --boot-entry x" "--source dir:m2 --boot-entry a/b" "--source dir:m2 extra"; do
  expect_error "$TRUSTBOOT" upgrade $args
  assert_eq "$EXIT_STATUS" 2 "exit status of 'upgrade $args'"
done
expect_error "$TRUSTBOOT" bootentry --list --select active
assert_eq "$EXIT_STATUS" 2 "exit status of 'bootentry --list --select'"

# ---- a successful upgrade: rotation, counters, one-shot ----
install_esp; reset_vars
out=$(upgrade --source dir:m2)
assert_eq "$out" "active+3.conf (next boot)" "upgrade output"
cmp -s "$(uki_of active)" m2/EFI/trustboot/norole.efi || fail "the active entry does not name the new UKI"
cmp -s "$(uki_of passive)" m1/EFI/trustboot/norole.efi || fail "the passive entry does not name the old active UKI"
for r in recovery statereset; do
  cmp -s esp/EFI/trustboot/$r.efi m1/EFI/trustboot/norole.efi || fail "$r.efi changed"
done
assert_eq "$(ls esp/loader/entries | tr '\n' ' ')" "active+3.conf passive+3.conf recovery+3.conf statereset+3.conf " "entries after upgrade"
# The new UKI has a fresh name only the new, counted entry names; the old active file is the
# fallback's, unchanged and not copied.
printf 'title trustboot\nsort-key 0001\n' | cmp -s - <(head -n 2 esp/loader/entries/active+3.conf) \
  || fail "active+3.conf: $(cat esp/loader/entries/active+3.conf)"
sed -n 3p esp/loader/entries/active+3.conf | contains -xE "efi $fresh_name" || fail "active+3.conf: $(cat esp/loader/entries/active+3.conf)"
assert_eq "$(wc -l <esp/loader/entries/active+3.conf)" 3 "lines of active+3.conf"
printf 'title trustboot (fallback)\nsort-key 0002\nefi /EFI/trustboot/active.efi\n' | cmp -s - esp/loader/entries/passive+3.conf \
  || fail "passive+3.conf: $(cat esp/loader/entries/passive+3.conf)"
assert_eq "$(grep -l "$(sed -n 3p esp/loader/entries/active+3.conf)" esp/loader/entries/* | tr '\n' ' ')" "esp/loader/entries/active+3.conf " "entries naming the new UKI"
no_orphans
assert_eq "$(oneshot)" "active+3.conf" "LoaderEntryOneShot"
ls -A esp/EFI/trustboot esp/loader/entries | contains '^\.' && fail "temporary files left: $(ls -A esp/EFI/trustboot esp/loader/entries)"
sbverify --cert keys/db.pem "$(uki_of active)" >/dev/null 2>&1 || fail "sbverify rejects the installed active UKI"
cmp -s esp/EFI/BOOT/BOOTX64.EFI m1/EFI/BOOT/BOOTX64.EFI || fail "systemd-boot replaced by one of the same version"

# A second upgrade (blessed first): the file the fallback named goes, the new fallback is the
# first upgrade's UKI, nothing is left that no entry names.
first=$(uki_of active)
mv esp/loader/entries/active+3.conf esp/loader/entries/active.conf
upgrade --source dir:m3 >/dev/null
cmp -s "$(uki_of active)" m3/EFI/trustboot/norole.efi || fail "second upgrade: active is not the 3.0 UKI"
assert_eq "$(uki_of passive)" "$first" "second upgrade: the passive entry's UKI"
[ ! -e esp/EFI/trustboot/active.efi ] || fail "second upgrade: the old fallback's file is still there"
no_orphans
# The same medium again: nothing to write, the one-shot names the entry.
snapshot before
assert_eq "$(upgrade --source dir:m3)" "active+3.conf (next boot)" "repeated upgrade output"
snapshot after
cmp -s before after || fail "a repeated upgrade changed the ESP: $(diff before after | head -5)"
install_esp; reset_vars
upgrade --source dir:m2 >/dev/null

# bootentry: counters, selection by alias.
"$TRUSTBOOT" bootentry --esp esp --efivars vars --json > be.json
python3 - be.json <<'PY'
import json, sys
e = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert e["active"]["id"] == "active+3.conf" and e["active"]["state"] == "indeterminate" and e["active"]["tries-left"] == 3, e["active"]
assert e["active"]["oneshot"] is True, e["active"]
assert e["passive"]["title"] == "trustboot (fallback)", e["passive"]
PY
mv esp/loader/entries/passive+3.conf esp/loader/entries/passive+0-3.conf
"$TRUSTBOOT" bootentry --esp esp --efivars vars | contains -E '^passive\+0-3\.conf +bad' || fail "exhausted entry not shown as bad"
assert_eq "$("$TRUSTBOOT" bootentry --esp esp --efivars vars --select fallback)" "passive+0-3.conf" "select fallback"
assert_eq "$(oneshot)" "passive+0-3.conf" "LoaderEntryOneShot after --select"
expect_error "$TRUSTBOOT" bootentry --esp esp --efivars vars --select nosuch
contains 'no boot entry "nosuch"' <<<"$ERR" || fail "unknown entry: $ERR"

# ---- --recovery replaces only recovery ----
install_esp; reset_vars
assert_eq "$(upgrade --source dir:m2 --recovery)" "recovery+3.conf" "recovery upgrade output"
cmp -s "$(uki_of recovery)" m2/EFI/trustboot/norole.efi || fail "recovery not replaced"
[ ! -e esp/EFI/trustboot/recovery.efi ] || fail "the old recovery UKI is still there"
for r in active passive statereset; do cmp -s "$(uki_of $r)" m1/EFI/trustboot/norole.efi || fail "$r changed by --recovery"; done
no_orphans
[ ! -e "vars/LoaderEntryOneShot-$LOADER" ] || fail "--recovery set the one-shot entry"
contains '^title trustboot recovery$' esp/loader/entries/recovery+3.conf || fail "recovery title: $(cat esp/loader/entries/recovery+3.conf)"
assert_eq "$(upgrade --source dir:m2 --boot-entry statereset)" "statereset+3.conf" "--boot-entry output"
cmp -s "$(uki_of statereset)" m2/EFI/trustboot/norole.efi || fail "statereset not replaced"
assert_eq "$(uki_of statereset)" "$(uki_of recovery)" "the same UKI stored once for two entries"
no_orphans

# ---- refusals: nothing on the ESP or in the variables changes ----
refused() { # WHAT-IN-MESSAGE ARGS...
  local want="$1"; shift
  snapshot before
  expect_error ${UPGRADE:-upgrade} "$@"
  contains -- "$want" <<<"$ERR" || fail "refusal of '$*': expected '$want' in: $ERR"
  snapshot after
  cmp -s before after || fail "refused upgrade '$*' changed the ESP: $(diff before after | head -5)"
}
install_esp; reset_vars
sbverify --cert keys/db.pem m-otherdb/EFI/trustboot/norole.efi >/dev/null 2>&1 && fail "the other-db medium verifies with db.pem"
refused "which is not in the firmware's db" --source dir:m-otherdb
openssl pkey -pubin -in <(python3 - m-otherpcr/EFI/trustboot/norole.efi <<'PY'
import sys, struct
d = open(sys.argv[1], "rb").read(); pe = struct.unpack_from("<I", d, 0x3c)[0]
n = struct.unpack_from("<H", d, pe + 6)[0]; opt = struct.unpack_from("<H", d, pe + 20)[0]
for i in range(n):
    s = pe + 24 + opt + 40 * i
    if d[s:s+8].rstrip(b"\0") == b".pcrpkey":
        vs, _, rs, ro = struct.unpack_from("<IIII", d, s + 8); sys.stdout.buffer.write(d[ro:ro+vs])
PY
) -outform DER 2>/dev/null | cmp -s - <(openssl pkey -in keys/tpm2-pcr-private.pem -pubout -outform DER) \
  && fail "the other-PCR medium carries the installed PCR key"
refused "disks would not unlock after reboot" --source dir:m-otherpcr
efivar 0x27 keys/db.esl > "vars/dbx-$SECDB"
refused "whose certificate is in dbx" --source dir:m2
reset_vars
hash=$("$TRUSTBOOT" inspect --json m2/EFI/trustboot/norole.efi | python3 -c 'import json,sys; print(json.load(sys.stdin)["signatures"][0]["digest"])')
python3 - "$hash" > dbx.esl <<'PY'
import sys, struct, uuid
h = bytes.fromhex(sys.argv[1])
sha256 = uuid.UUID("c1c41626-504c-4092-aca9-41f936934328").bytes_le
owner = uuid.UUID("88a69775-5ad7-45d9-9f34-cec43e1f1989").bytes_le
sys.stdout.buffer.write(sha256 + struct.pack("<III", 28 + 48, 0, 48) + owner + h)
PY
efivar 0x27 dbx.esl > "vars/dbx-$SECDB"
refused "image hash is in dbx" --source dir:m2
reset_vars
# No room: the refusal says what is free, what the peak needs and what it credits; one byte
# more than it says it needs is enough (the old fallback goes before the new UKI is written).
TRUSTBOOT_TEST_ESP_FREE=100000 UPGRADE=upgrade_t refused "the upgrade needs" --source dir:m2
contains -E 'esp: 100000 bytes free, the upgrade needs [0-9]+ at its peak \([0-9]+ written in all, [0-9]+ of it in room freed first' <<<"$ERR" || fail "space refusal: $ERR"
need=$(sed -n 's/.*the upgrade needs \([0-9]*\) .*/\1/p' <<<"$ERR")
credit=$(sed -n 's/.*, \([0-9]*\) of it in room.*/\1/p' <<<"$ERR")
uki=$(stat -c %s m2/EFI/trustboot/norole.efi)
[ "$credit" -ge "$(stat -c %s m1/EFI/trustboot/norole.efi)" ] || fail "the old passive UKI is not credited: $ERR"
[ "$need" -lt "$uki" ] || fail "the peak is not below one new UKI ($uki bytes): $ERR"
TRUSTBOOT_TEST_ESP_FREE=$((need - 1)) UPGRADE=upgrade_t refused "the upgrade needs $need" --source dir:m2
TRUSTBOOT_TEST_ESP_FREE=$need upgrade_t --source dir:m2 >/dev/null || fail "no upgrade with the room the refusal asked for"
install_esp; reset_vars
rm "vars/db-$SECDB"
refused "no db variable" --source dir:m2
reset_vars
refused "not a trustboot medium" --source dir:root2.0
rm esp/loader/entries/active.conf esp/loader/entries/passive+3.conf
refused "not an installed node" --source dir:m2

# ---- killed at each write step: old or new boots, the next run completes ----
# bootable OLD NEW: every entry names a complete UKI of the OLD or the NEW medium, and a main
# active or passive entry is there.
bootable() {
  local f u m main=no ok
  for f in esp/loader/entries/*.conf; do
    u="esp$(sed -n 's/^efi //p' "$f")"; ok=no
    for m in "$1"/EFI/trustboot/norole*.efi "$2"/EFI/trustboot/norole*.efi; do cmp -s "$u" "$m" && ok=yes; done
    [ $ok = yes ] || fail "step $n: $(basename "$f") names $u, a UKI of neither the old nor the new medium"
    case "$(basename "$f")" in active.conf|active+*.conf|passive.conf|passive+*.conf) main=yes;; esac
  done
  [ $main = yes ] || fail "step $n: no active or passive entry left: $(entries)"
}
# crash_walk OLD-MEDIUM NEW-MEDIUM: kill the upgrade at every step it announces, in turn.
crash_walk() {
  local steps n rc
  install_esp "$1"; reset_vars
  steps=$(TRUSTBOOT_TEST_FAULT=0 upgrade_t --source "dir:$2" 2>&1 >/dev/null | grep -c '^TB-STEP ') || true
  [ "$steps" -ge 6 ] || fail "only $steps write steps announced"
  for n in $(seq 1 "$steps"); do
    install_esp "$1"; reset_vars
    # In a subshell of its own, so that the shell's "Killed" notice goes to /dev/null with it.
    rc=0; ( (TRUSTBOOT_TEST_FAULT=$n upgrade_t --source "dir:$2"); exit $? ) >/dev/null 2>&1 || rc=$?
    assert_eq "$rc" "137" "exit status of the upgrade killed at step $n"
    bootable "$1" "$2"
    upgrade --source "dir:$2" >/dev/null || fail "the run after step $n failed"
    cmp -s "$(uki_of active)" "$2/EFI/trustboot/norole.efi" || fail "after step $n: active is not the new UKI"
    cmp -s "$(uki_of passive)" "$1/EFI/trustboot/norole.efi" || fail "after step $n: passive is not the old UKI"
    no_orphans
    ls -A esp/EFI/trustboot esp/loader/entries | contains '^\.' && fail "after step $n: hidden files left"
  done
  echo "killed at each of $steps steps: bootable, and the next run completed" >&2
}
crash_walk m1 m2
# An old trustboot's temporary file (a hidden name) is removed by the next run.
install_esp; reset_vars
cp m2/EFI/trustboot/norole.efi esp/EFI/trustboot/.active.efi.tmp.AbC123
upgrade --source dir:m2 >/dev/null
ls -A esp/EFI/trustboot esp/loader/entries | contains '^\.' && fail "stale temporary files not removed: $(ls -A esp/EFI/trustboot)"

# ---- extra entries: every active* becomes passive*, every norole* active* ----
install_esp mx1; reset_vars
assert_eq "$(entries)" "active.conf active$X+3.conf passive+3.conf passive$X+3.conf recovery+3.conf recovery$X+3.conf statereset+3.conf statereset$X+3.conf " "installed entries"
assert_eq "$(upgrade --source dir:mx2)" "active+3.conf (next boot)" "upgrade output with an extra entry"
for sfx in "" "$X"; do
  cmp -s "$(uki_of active$sfx)" mx2/EFI/trustboot/norole$sfx.efi || fail "active$sfx is not the new norole$sfx.efi"
  cmp -s "$(uki_of passive$sfx)" mx1/EFI/trustboot/norole$sfx.efi || fail "passive$sfx is not the old active$sfx"
  assert_eq "$(uki_of passive$sfx)" "esp/EFI/trustboot/active$sfx.efi" "the file passive$sfx names"
  for r in recovery statereset; do
    cmp -s esp/EFI/trustboot/$r$sfx.efi mx1/EFI/trustboot/norole$sfx.efi || fail "$r$sfx.efi changed"
  done
  head -n 2 "esp/loader/entries/active$sfx+3.conf" | cmp -s - <(printf 'title trustboot\nsort-key 0001\n') \
    || fail "active$sfx+3.conf: $(cat "esp/loader/entries/active$sfx+3.conf")"
  printf 'title trustboot (fallback)\nsort-key 0002\nefi /EFI/trustboot/active%s.efi\n' "$sfx" | cmp -s - "esp/loader/entries/passive$sfx+3.conf" \
    || fail "passive$sfx+3.conf: $(cat "esp/loader/entries/passive$sfx+3.conf")"
  sbverify --cert keys/db.pem "$(uki_of active$sfx)" >/dev/null 2>&1 || fail "sbverify rejects the installed active$sfx"
done
no_orphans
assert_eq "$(entries)" "active+3.conf active$X+3.conf passive+3.conf passive$X+3.conf recovery+3.conf recovery$X+3.conf statereset+3.conf statereset$X+3.conf " "entries after the upgrade"
assert_eq "$(oneshot)" "active+3.conf" "LoaderEntryOneShot with an extra entry"
ls -A esp/EFI/trustboot esp/loader/entries | contains '^\.' && fail "temporary files left: $(ls -A esp/EFI/trustboot esp/loader/entries)"

# A medium without the extra entry: active$X goes; passive$X stays the previous active$X (the
# fallback is the whole previous system) until an upgrade has no active$X to rotate into it.
upgrade --source dir:m3 >/dev/null
cmp -s "$(uki_of active)" m3/EFI/trustboot/norole.efi || fail "active is not the 3.0 UKI"
cmp -s "$(uki_of passive)" mx2/EFI/trustboot/norole.efi || fail "passive is not the 2.0 UKI"
cmp -s "$(uki_of passive$X)" mx2/EFI/trustboot/norole$X.efi || fail "passive$X is not the previous active$X"
assert_eq "$(entries)" "active+3.conf passive+3.conf passive$X+3.conf recovery+3.conf recovery$X+3.conf statereset+3.conf statereset$X+3.conf " "entries after dropping $X"
no_orphans
upgrade --source dir:m2 >/dev/null
assert_eq "$(entries)" "active+3.conf passive+3.conf recovery+3.conf recovery$X+3.conf statereset+3.conf statereset$X+3.conf " "entries one upgrade later"
no_orphans
cmp -s "$(uki_of passive)" m3/EFI/trustboot/norole.efi || fail "passive is not the 3.0 UKI"

# --recovery with an extra entry on the medium still replaces recovery alone.
install_esp mx1; reset_vars
assert_eq "$(upgrade --source dir:mx2 --recovery)" "recovery+3.conf" "recovery upgrade output with an extra entry"
cmp -s "$(uki_of recovery)" mx2/EFI/trustboot/norole.efi || fail "recovery not replaced"
cmp -s "$(uki_of recovery$X)" mx1/EFI/trustboot/norole$X.efi || fail "recovery$X changed by --recovery"
cmp -s "$(uki_of active$X)" mx1/EFI/trustboot/norole$X.efi || fail "active$X changed by --recovery"

# Refused as a whole, the ESP untouched, when any one new entry is refused.
install_esp mx1; reset_vars
rm -rf mxbad && cp -r mx2 mxbad
"$TRUSTBOOT" sign --replace -k other/db.key -c other/db.pem -o mxbad/EFI/trustboot/norole$X.efi mx2/EFI/trustboot/norole$X.efi >/dev/null
sbverify --cert keys/db.pem mxbad/EFI/trustboot/norole$X.efi >/dev/null 2>&1 && fail "the re-signed extra UKI verifies with db.pem"
refused "which is not in the firmware's db" --source dir:mxbad
contains "norole$X.efi" <<<"$ERR" || fail "the db refusal does not name the extra UKI: $ERR"
cp m-otherpcr/EFI/trustboot/norole.efi mxbad/EFI/trustboot/norole$X.efi
refused "disks would not unlock after reboot" --source dir:mxbad
rm -rf mxbad && cp -r mx2 mxbad && rm mxbad/loader/entries/norole$X.conf
refused "norole$X.efi has no loader/entries/norole$X.conf" --source dir:mxbad
rm -rf mxbad && cp -r mx2 mxbad && rm mxbad/EFI/trustboot/norole$X.efi
refused "norole$X.conf has no EFI/trustboot/norole$X.efi" --source dir:mxbad
rm -rf mxbad && cp -r mx2 mxbad && mv mxbad/EFI/trustboot/norole$X.efi mxbad/EFI/trustboot/norole+x.efi
mv mxbad/loader/entries/norole$X.conf mxbad/loader/entries/norole+x.conf
refused "norole+x.efi: not an entry name" --source dir:mxbad
rm -rf mxbad && cp -r m2 mxbad
for i in $(seq 1 32); do
  cp m2/EFI/trustboot/norole.efi mxbad/EFI/trustboot/norole_$i.efi
  sed "s/norole/norole_$i/" m2/loader/entries/norole.conf > mxbad/loader/entries/norole_$i.conf
done
refused "more than 32 norole. entries in EFI/trustboot" --source dir:mxbad
# Room for one new UKI but not for two: each family frees its old fallback before writing, so
# the peak is one new UKI beyond what the old passive UKIs free (here: about nothing).
TRUSTBOOT_TEST_ESP_FREE=0 UPGRADE=upgrade_t refused "the upgrade needs" --source dir:mx2
need=$(sed -n 's/.*the upgrade needs \([0-9]*\) .*/\1/p' <<<"$ERR")
[ "$need" -lt "$(stat -c %s mx2/EFI/trustboot/norole.efi)" ] || fail "two families need more than one UKI at their peak: $ERR"
TRUSTBOOT_TEST_ESP_FREE=$need upgrade_t --source dir:mx2 >/dev/null

# Killed at each step with an extra entry: every family stays bootable.
crash_walk mx1 mx2

# ---- systemd-boot: replaced only by a newer, correctly signed one (with loader.conf) ----
# A "newer" systemd-boot: 252's binary with its .sdmagic version patched (same length), re-signed.
python3 - m1/EFI/BOOT/BOOTX64.EFI sd-new.efi <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
a = b"LoaderInfo: systemd-boot 252."
assert d.count(a) == 1, "no single .sdmagic version string"
open(sys.argv[2], "wb").write(d.replace(a, b"LoaderInfo: systemd-boot 259."))
PY
"$TRUSTBOOT" sign --replace -k otherdb/db.key -c otherdb/db.pem -o sd-new-other.efi sd-new.efi >/dev/null
"$TRUSTBOOT" sign --replace -k keys/db.key -c keys/db.pem -o sd-new-signed.efi sd-new.efi >/dev/null
"$TRUSTBOOT" inspect --json sd-new-signed.efi | contains '"systemd-boot 259' || fail "patched systemd-boot does not report 259"
rm -rf m2sd && cp -r m2 m2sd && cp sd-new-other.efi m2sd/EFI/BOOT/BOOTX64.EFI
printf 'timeout 3\n' > m2sd/loader/loader.conf
install_esp; reset_vars
refused "which is not in the firmware's db" --source dir:m2sd
cp sd-new-signed.efi m2sd/EFI/BOOT/BOOTX64.EFI
upgrade --source dir:m2sd >/dev/null
cmp -s esp/EFI/BOOT/BOOTX64.EFI sd-new-signed.efi || fail "newer signed systemd-boot not installed"
printf 'timeout 3\n' | cmp -s - esp/loader/loader.conf || fail "loader.conf not updated with systemd-boot"
cmp -s "$(uki_of active)" m2/EFI/trustboot/norole.efi || fail "UKI not installed with the new systemd-boot"
# …and an older one (the medium's 252 against the installed "259") is left alone.
upgrade --source dir:m2 >/dev/null
cmp -s esp/EFI/BOOT/BOOTX64.EFI sd-new-signed.efi || fail "systemd-boot downgraded"

# ---- other sources: the container tarball, the same image as an OCI layout, and the ISO ----
medium 2.0 keys c2 container
install_esp; reset_vars
upgrade --source "ocifile:$(ls c2/*.tar)" >/dev/null
cmp -s "$(uki_of active)" m2/EFI/trustboot/norole.efi || fail "ocifile: active is not the new UKI"
skopeo copy -q "docker-archive:$(ls c2/*.tar)" oci:layout2:v2 >/dev/null 2>&1 || fail "skopeo cannot copy the container"
install_esp; reset_vars
upgrade --source oci-layout:layout2:v2 >/dev/null
cmp -s "$(uki_of active)" m2/EFI/trustboot/norole.efi || fail "oci-layout: active is not the new UKI"
medium 2.0 keys i2 iso
install_esp; reset_vars
upgrade --source "$(ls i2/*.iso)" >/dev/null
cmp -s "$(uki_of active)" m2/EFI/trustboot/norole.efi || fail "ISO: active is not the new UKI"
echo "ok"
