#!/usr/bin/env bash
# trustboot upgrade from and to multi-profile media (build-uki --cmd-lines-v2 on systemd 257's stub
# and systemd-boot, from the oracle chroot), host-side on an installed ESP (a plain directory) with
# a fake efivarfs: one UKI per medium, its profile entries (norole-profileN.conf: "efi" + "options
# @N") fanned out to the roles as install does. The upgrade writes every profile entry of the new
# UKI counted, makes the old ones the fallback's (naming the old UKI), removes a profile the new
# medium no longer has, renames nothing, and is killed at each of its steps in turn: the ESP stays
# bootable and the next run completes. LoaderEntryOneShot names the entry by the id the loader in
# the fake efivarfs gives it (LoaderEntries, LoaderInfo), and bootentry --select ROLE@N chooses a
# profile. sbverify checks every UKI an entry names.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/node.sh"
need sbverify python3
. "$(dirname "$0")/lib/oracle257.sh"
efi="$ORACLE/usr/lib/systemd/boot/efi"
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000
"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null

medium() { # VERSION OUT [build-uki ARGS…]
  local v="$1" out="$2"
  shift 2
  if [ ! -d "root$v" ]; then
    synthetic_rootfs "root$v"
    sed -i "s/^VERSION_ID=.*/VERSION_ID=$v/" "root$v/etc/os-release"
  fi
  "$TRUSTBOOT" -q build-uki "dir:root$v" -t uki -d "$out" -k keys --stub "$efi/linuxx64.efi.stub" \
    --sdboot "$efi/systemd-bootx64.efi" "$@" 2>/dev/null || fail "build-uki $out"
}
medium 1.0 m1 --cmd-lines-v2 -c tb.profile=one -c tb.profile=two
medium 2.0 m2 --cmd-lines-v2 -c tb.profile=one
medium 3.0 m3
assert_eq "$(ls m1/EFI/trustboot)" "norole.efi" "a --cmd-lines-v2 medium's UKIs"
assert_eq "$(ls m1/loader/entries | LC_ALL=C sort | tr '\n' ' ')" "norole-profile1.conf norole-profile2.conf norole.conf " "its entries"

# install_esp MEDIUM: the ESP install leaves (tb_bootentries_fan_out): each norole* entry to the four
# roles, its efi renamed with it, titles and sort keys by role, counted; the main active blessed.
install_esp() {
  local f base sfx role t k uki
  rm -rf esp; mkdir -p esp; cp -r "$1"/. esp/
  for role in active passive recovery statereset; do
    cp esp/EFI/trustboot/norole.efi "esp/EFI/trustboot/$role.efi"
  done
  for f in esp/loader/entries/norole*.conf; do
    base=$(basename "$f" .conf); sfx=${base#norole}; k=0; t0=$(sed -n 's/^title //p' "$f")
    for role in active passive recovery statereset; do
      k=$((k + 1))
      case $role in active) t="$t0";; passive) t="$t0 (fallback)";;
        recovery) t="$t0 recovery";; statereset) t="$t0 state reset (auto)";; esac
      { printf 'title %s\nsort-key %04d\nefi /EFI/trustboot/%s.efi\n' "$t" "$k" "$role"
        grep '^options ' "$f" || true; } >"esp/loader/entries/$role$sfx+3.conf"
    done
    rm "$f"
  done
  rm esp/EFI/trustboot/norole.efi
  mv esp/loader/entries/active+3.conf esp/loader/entries/active.conf
}
reset_vars() { node_vars vars; }
# loader_vars INFO ID…: LoaderInfo and LoaderEntries as systemd-boot publishes them.
loader_vars() {
  local info="$1"; shift
  python3 - "vars/LoaderInfo-$LOADER" "vars/LoaderEntries-$LOADER" "$info" "$@" <<'PY'
import struct, sys
info_path, entries_path, info, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
open(info_path, "wb").write(struct.pack("<I", 6) + (info + "\0").encode("utf-16-le"))
open(entries_path, "wb").write(struct.pack("<I", 6) + b"".join((i + "\0").encode("utf-16-le") for i in ids))
PY
}
options_of() { sed -n 's/^options //p' esp/loader/entries/"$1".conf esp/loader/entries/"$1"+*.conf 2>/dev/null; }
# The state a finished upgrade m1 → m2 leaves.
check_m1_to_m2() {
  assert_eq "$(entries)" "active+3.conf active-profile1+3.conf passive+3.conf passive-profile1+3.conf passive-profile2+3.conf recovery+3.conf recovery-profile1+3.conf recovery-profile2+3.conf statereset+3.conf statereset-profile1+3.conf statereset-profile2+3.conf " "$1: entries"
  cmp -s "$(uki_of active)" m2/EFI/trustboot/norole.efi || fail "$1: active does not boot the new UKI"
  assert_eq "$(uki_of active-profile1)" "$(uki_of active)" "$1: the UKI active-profile1 names"
  assert_eq "$(options_of active-profile1)" "@1" "$1: active-profile1's options"
  for p in passive passive-profile1 passive-profile2; do
    assert_eq "$(uki_of $p)" esp/EFI/trustboot/active.efi "$1: the UKI $p names (the old active one)"
  done
  assert_eq "$(options_of passive-profile2)" "@2" "$1: passive-profile2's options"
  cmp -s esp/EFI/trustboot/active.efi m1/EFI/trustboot/norole.efi || fail "$1: the old active UKI changed"
  no_orphans
  ls -A esp/EFI/trustboot esp/loader/entries | contains '^\.' && fail "$1: temporary files left: $(ls -A esp/EFI/trustboot esp/loader/entries)"
  sbverify --cert keys/db.pem "$(uki_of active)" >/dev/null 2>&1 || fail "$1: sbverify rejects the new UKI"
}

# ---- a multi-profile node upgraded to a multi-profile medium ----
install_esp m1; reset_vars
assert_eq "$(upgrade --source dir:m2)" "active+3.conf (next boot)" "upgrade output"
check_m1_to_m2 "m1 -> m2"
# No LoaderInfo in the efivarfs (not booted by systemd-boot): the one-shot names the file.
assert_eq "$(oneshot)" "active+3.conf" "LoaderEntryOneShot without a loader"
head -n 2 esp/loader/entries/active-profile1+3.conf | cmp -s - <(printf 'title %s\nsort-key 0001\n' "$(sed -n 's/^title //p' m2/loader/entries/norole-profile1.conf)") ||
  fail "active-profile1+3.conf: $(cat esp/loader/entries/active-profile1+3.conf)"

# The loader's ids: systemd-boot 257.13 publishes counted entries without the counter; --select
# ROLE@N picks the profile entry and writes that id; upgrade's one-shot follows the same rule.
loader_vars "systemd-boot 257.13-1~deb13u1" active.conf active-profile1.conf passive.conf passive-profile1.conf
assert_eq "$("$TRUSTBOOT" bootentry --esp esp --efivars vars --select active@1)" "active-profile1.conf" "bootentry --select active@1 (257.13)"
assert_eq "$(oneshot)" "active-profile1.conf" "LoaderEntryOneShot after --select active@1"
"$TRUSTBOOT" bootentry --esp esp --efivars vars --list | grep '^active-profile1+3.conf ' | contains '\[profile 1\] \[next\]$' ||
  fail "bootentry --list: $("$TRUSTBOOT" bootentry --esp esp --efivars vars --list)"
loader_vars "systemd-boot 252.39-1~deb12u2" active+3.conf active-profile1+3.conf
assert_eq "$("$TRUSTBOOT" bootentry --esp esp --efivars vars --select fallback@2)" "passive-profile2+3.conf" "bootentry --select fallback@2 (252)"
expect_error "$TRUSTBOOT" bootentry --esp esp --efivars vars --select active@2
contains 'no boot entry "active@2"' <<<"$ERR" || fail "--select active@2: $ERR"

# ---- a medium whose profile 1 would not unlock: refused, the ESP untouched ----
# m2 with profile 1's .pcrsig replaced by profile 0's (same length: the same banks and key),
# signed again: the firmware would start it and profile 0 unlocks, but an entry booting @1
# measures profile 1's PCR 11, for which no policy is signed.
cp -r m2 m2bad
python3 - m2bad/EFI/trustboot/norole.efi <<'PY' || fail "cannot swap the .pcrsig of profile 1"
import struct, sys
path = sys.argv[1]
d = bytearray(open(path, "rb").read())
pe = struct.unpack_from("<I", d, 0x3c)[0]
nsec, optsize = struct.unpack_from("<H", d, pe + 6)[0], struct.unpack_from("<H", d, pe + 20)[0]
secs = []
for i in range(nsec):
    o = pe + 24 + optsize + 40 * i
    name = d[o:o + 8].rstrip(b"\0").decode()
    vsize, _, rawsize, rawptr = struct.unpack_from("<IIII", d, o + 8)
    secs.append((name, vsize, rawptr))
sigs = [s for s in secs if s[0] == ".pcrsig"]
assert len(sigs) == 2, sigs
(_, v0, p0), (_, v1, p1) = sigs
assert v0 == v1, (v0, v1)
d[p1:p1 + v1] = d[p0:p0 + v0]
open(path, "wb").write(d)
PY
"$TRUSTBOOT" sign --replace -k keys/db.key -c keys/db.pem m2bad/EFI/trustboot/norole.efi >/dev/null 2>&1 || fail "cannot sign m2bad"
install_esp m1; reset_vars
snap() { ( cd esp && find . -type f | sort | xargs sha256sum ); ls -A vars; }
snap >before
expect_error "$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device none --source dir:m2bad
contains "profile 1 signs is that profile's PCR 11" <<<"$ERR" || fail "a profile that would not unlock: $ERR"
snap >after
cmp -s before after || fail "the refused upgrade changed the ESP: $(diff before after | head -n 5)"

# ---- killed at every step of the upgrade: bootable, and the next run completes ----
install_esp m1; reset_vars
steps=$(TRUSTBOOT_TEST_FAULT=0 upgrade_t --source dir:m2 2>&1 >/dev/null | grep -c '^TB-STEP ') || true
[ "$steps" -ge 10 ] || fail "only $steps write steps announced"
for n in $(seq 1 "$steps"); do
  install_esp m1; reset_vars
  rc=0; ( (TRUSTBOOT_TEST_FAULT=$n upgrade_t --source dir:m2); exit $? ) >/dev/null 2>&1 || rc=$?
  assert_eq "$rc" "137" "exit status of the upgrade killed at step $n"
  # Bootable: an active or passive main entry naming a complete UKI of either medium.
  ok=no
  for f in esp/loader/entries/active*.conf esp/loader/entries/passive*.conf; do
    case "$(basename "$f")" in active.conf|active+*.conf|passive.conf|passive+*.conf) ;; *) continue;; esac
    u="esp$(sed -n 's/^efi //p' "$f")"
    { cmp -s "$u" m1/EFI/trustboot/norole.efi || cmp -s "$u" m2/EFI/trustboot/norole.efi; } && ok=yes
  done
  [ $ok = yes ] || fail "killed at step $n: no bootable active or passive entry: $(entries)"
  upgrade --source dir:m2 >/dev/null || fail "the run after step $n failed"
  check_m1_to_m2 "killed at step $n, run again"
done
echo "killed at each of $steps steps: bootable, and the next run completed" >&2

# ---- --recovery: the recovery entry with its profile entries, nothing else ----
install_esp m1; reset_vars
upgrade --recovery --source dir:m2 >/dev/null || fail "upgrade --recovery"
assert_eq "$(entries)" "active-profile1+3.conf active-profile2+3.conf active.conf passive+3.conf passive-profile1+3.conf passive-profile2+3.conf recovery+3.conf recovery-profile1+3.conf statereset+3.conf statereset-profile1+3.conf statereset-profile2+3.conf " "entries after --recovery"
cmp -s "$(uki_of recovery)" m2/EFI/trustboot/norole.efi || fail "--recovery: recovery does not boot the new UKI"
assert_eq "$(uki_of recovery-profile1)" "$(uki_of recovery)" "--recovery: the UKI recovery-profile1 names"
assert_eq "$(options_of recovery-profile1)" "@1" "--recovery: recovery-profile1's options"
[ ! -e esp/EFI/trustboot/recovery.efi ] || fail "--recovery: the old recovery UKI is still there"
no_orphans

# ---- to a medium without profiles, and from one to a multi-profile medium ----
install_esp m1; reset_vars
upgrade --source dir:m2 >/dev/null && upgrade --source dir:m3 >/dev/null || fail "m1 -> m2 -> m3"
assert_eq "$(entries)" "active+3.conf passive+3.conf passive-profile1+3.conf recovery+3.conf recovery-profile1+3.conf recovery-profile2+3.conf statereset+3.conf statereset-profile1+3.conf statereset-profile2+3.conf " "entries after m3 (no profiles)"
cmp -s "$(uki_of active)" m3/EFI/trustboot/norole.efi || fail "m3: active does not boot the 3.0 UKI"
assert_eq "$(uki_of passive-profile1)" "$(uki_of passive)" "m3: passive-profile1 boots the previous UKI with passive"
cmp -s "$(uki_of passive)" m2/EFI/trustboot/norole.efi || fail "m3: passive is not the 2.0 UKI"
no_orphans
install_esp m3; reset_vars
upgrade --source dir:m2 >/dev/null || fail "m3 -> m2"
assert_eq "$(entries)" "active+3.conf active-profile1+3.conf passive+3.conf recovery+3.conf statereset+3.conf " "entries after m3 -> m2"
assert_eq "$(uki_of active-profile1)" "$(uki_of active)" "m3 -> m2: active-profile1's UKI"
no_orphans
echo "ok: upgrades from and to multi-profile media: profile entries written counted for the new UKI, the old ones the fallback's, dropped ones removed, no renames, bootable after a kill at each of $steps steps; one-shot and --select ROLE@N by the loader's ids"
