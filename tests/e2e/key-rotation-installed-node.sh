#!/usr/bin/env bash
# Issue 18: a fleet's key rotation and revocation on an installed, encrypted node (OVMF + swtpm),
# done by the commands of docs/guide-keys.md — every block of it runs here, host blocks on the
# host, guest blocks in the guest (busybox test rootfs, `sh -e`), in the guide's order — each step
# checked by the firmware at the next boot and by `trustboot status --json` (printed by the guest
# as one line, parsed here) after it. The node is docs/guide.md's (keys, config, build-dir blocks).
#   boot 1 (key set keys/ running): an upgrade to the keys-2027 medium refused (its db key is not
#           enrolled); guest:enroll-db; guest:upgrade-2027 (reboot).
#   boot 2 (keys-2027: the firmware started its systemd-boot and UKI): guest:revoke (dbx: the
#           old db certificate); the old install medium refused by upgrade; guest:pcr-add (a
#           second keyslot per volume, bound to keys-2028's PCR key); guest:upgrade-2028 (reboot).
#   boot 3 (keys-2028, new PCR key: the new tokens unseal): guest:pcr-remove.
#   boot 4: the new PCR key alone unlocks; guest:status.
#   boot 5: the old install medium: refused by the firmware (Access Denied).
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
. "$(dirname "$0")/lib/guide.sh"
need openssl xorriso mcopy mtype python3 softhsm2-util sbverify

t0=$EPOCHREALTIME
e2e_rootfs --trustboot
cd "$WORK"
guide="$TB_SRCDIR/docs/guide.md"
keys_guide="$TB_SRCDIR/docs/guide-keys.md"
ln -s "$ROOTFS/rootfs" rootfs
mkdir -p bin
printf '#!/bin/sh\nexec "$TRUSTBOOT" "$@"\n' >bin/trustboot
chmod +x bin/trustboot
# The HSM blocks' token: softhsm2 in a private directory; $HOME is this test's.
export SOFTHSM2_CONF=$WORK/softhsm2.conf
mkdir tokens
echo "directories.tokendir = $WORK/tokens" >"$SOFTHSM2_CONF"
ran=()
# host_block FILE NAME: one host block, as a script (-e: the first failing command fails the test).
host_block() {
  local rc=0 out="host-$2.out"
  guide_block "$1" "host:$2" >"host-$2.sh" || fail "$1 has no block host:$2"
  PATH="$WORK/bin:$PATH" HOME="$WORK" SO_PIN=87654321 PIN=1234 bash -euo pipefail "host-$2.sh" >"$out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || fail "$(basename "$1") host:$2 failed ($rc): $(tail -n 5 "$out")"
  [ "$1" = "$keys_guide" ] && ran+=("host:$2")
  return 0
}
# guest_block NAME DIR: a guest block of guide-keys.md as DIR/guest-NAME.sh for a job disk.
guest_block() {
  mkdir -p "$2"
  guide_block "$keys_guide" "guest:$1" >"$2/guest-$1.sh" || fail "guide-keys.md has no block guest:$1"
  ran+=("guest:$1")
}

# The node of docs/guide.md: its keys, the seed's cloud-config, the installable medium.
guide_lang_block "$guide" yaml 1 >config.yaml
host_block "$guide" keys
host_block "$guide" config
host_block "$guide" build-dir
iso_old=$(ls build/*.iso)
[ -f "$iso_old" ] || fail "guide.md's build-dir wrote no ISO"
# docs/guide-keys.md, host side, in its order.
host_block "$keys_guide" hsm-keys
if grep -l 'PRIVATE KEY' keys-hsm/*; then fail "the HSM key set holds a private key"; fi
host_block "$keys_guide" hsm-sign
sbverify --cert keys-hsm/db.pem systemd-bootx64.efi.signed >/dev/null 2>&1 || fail "the token-signed systemd-boot does not verify"
host_block "$keys_guide" rotate-db
[ -s keys-2027/db-append.auth ] || fail "genkey --rotate wrote no db-append.auth"
host_block "$keys_guide" revoke
host_block "$keys_guide" rotate-pcr
[ -s keys-2028/tpm2-pcr-public.pem ] || fail "genkey --rotate --rotate-pcr-key wrote no tpm2-pcr-public.pem"
cmp -s keys/tpm2-pcr-private.pem keys-2027/tpm2-pcr-private.pem || fail "keys-2027 has another PCR key (no --rotate-pcr-key)"
cmp -s keys-2027/tpm2-pcr-private.pem keys-2028/tpm2-pcr-private.pem && fail "keys-2028 kept the old PCR key"
t_host=$EPOCHREALTIME

# Job disks: each boot's guest blocks and the files they name at /mnt.
cat >lib.sh <<'SH'
say() { echo "TB-JOB $*"; }
# st STEP: the status report as one line: TB-STATUS STEP EXIT-STATUS JSON.
st() {
  trustboot status --json >/tmp/st.json 2>/tmp/st.err
  echo "TB-STATUS $1 $? $(tr -d '\n' </tmp/st.json)"
  sed "s/^/TB-JOB status-$1: /" /tmp/st.err
}
# guide NAME: a guest block, -e, its exit status and its output on the console.
guide() {
  sh -e "/mnt/guest-$1.sh" >"/tmp/guide-$1.out" 2>&1
  say "guide-$1=$? $(tail -n 1 "/tmp/guide-$1.out")"
  sed "s/^/TB-JOB guide-$1: /" "/tmp/guide-$1.out"
}
# guide_reboot NAME: a block that reboots: its output straight to the console.
guide_reboot() { sh -e "/mnt/guest-$1.sh"; say "guide-$1=$? (no reboot)"; }
mkdir -p /mnt && mount -o bind /job /mnt
SH
mkdir -p job1/keys-2027 job2/keys-2028 job2/build job3/keys job4
cp keys-2027/db-append.auth job1/keys-2027/
cp -r upgrade-2027 job1/
guest_block enroll-db job1
guest_block upgrade-2027 job1
cp dbx.auth job2/
cp "$iso_old" job2/build/
cp keys-2028/db-append.auth keys-2028/tpm2-pcr-public.pem job2/keys-2028/
cp -r upgrade-2028 job2/
guest_block revoke job2
guest_block pcr-add job2
guest_block upgrade-2028 job2
cp keys/tpm2-pcr-public.pem job3/keys/
guest_block pcr-remove job3
guest_block status job4
{ cat lib.sh; cat <<'SH'; } >job1/job.sh
st a
trustboot upgrade --source dir:/mnt/upgrade-2027 >/tmp/early.out 2>&1
say "upgrade-before-enroll=$? $(tail -n 1 /tmp/early.out)"
guide enroll-db
st a-enrolled
guide_reboot upgrade-2027
SH
{ cat lib.sh; cat <<'SH'; } >job2/job.sh
st b
guide revoke
st b-revoked
trustboot upgrade --source /mnt/build/$(ls /mnt/build) >/tmp/old.out 2>&1
say "upgrade-old-medium=$? $(tail -n 1 /tmp/old.out)"
guide pcr-add
st b-addkey
guide_reboot upgrade-2028
SH
{ cat lib.sh; cat <<'SH'; } >job3/job.sh
st p
guide pcr-remove
st p-removed
SH
{ cat lib.sh; cat <<'SH'; } >job4/job.sh
st final
guide status
SH
for i in 1 2 3 4; do xorriso -as mkisofs -quiet -o job$i.iso -V TBJOB -R job$i 2>/dev/null || fail "xorriso job$i.iso"; done
# Every block of the chapter is run here, and every shell block has a tag that says where.
untagged="$(guide_untagged "$keys_guide")"
[ -z "$untagged" ] || fail "docs/guide-keys.md: shell blocks no test runs: $untagged"
assert_eq "$(printf '%s\n' "${ran[@]}" | sort | tr '\n' ' ')" "$(guide_names "$keys_guide" | sort | tr '\n' ' ')" \
  "the blocks of guide-keys.md run by this test"

# Enroll (setup mode), install: as docs/guide.md.
install_node "$iso_old"

# boot_disk SERIAL JOB.iso: the installed disk with a job; checks that the volumes unlocked.
boot_disk() {
  mkdir -p empty
  vm empty --vars vars.fd --tpm-state tpm --disk disk.img --disk "$2" --memory 1536 --serial "$1" --timeout 900
  CLEAN="$1.clean"
  tr -d '\r' <"$1" >"$CLEAN"
  for v in oem persistent second_partition; do
    contains -a "unlocked by the TPM as /dev/mapper/$v" "$CLEAN" || fail "$1: $v not unlocked: $(grep -a 'trustboot\|TB-JOB' "$CLEAN" | tail -n 12)"
  done
}
tbjob() { sed -n "s/^.*TB-JOB $2=//p" "$1" | sed -n 1p; }
fp() { openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-64; }
db_a=$(fp keys/db.pem) db_b=$(fp keys-2027/db.pem) db_c=$(fp keys-2028/db.pem)
# check_status SERIAL STEP PYTHON-EXPRESSION...: each must hold over the step's report `s`, its
# exit status `rc`, db/dbx (certificate fingerprints) and vols (the volumes).
check_status() {
  local serial="$1" step="$2"; shift 2
  python3 - "$serial" "$step" "$db_a" "$db_b" "$db_c" "$@" <<'PY' || { status_failed+=("$step"); return 0; }
import json, re, sys
serial, step, db_a, db_b, db_c, *checks = sys.argv[1:]
m = None
for l in open(serial, errors="replace"):
    m = re.search(r"TB-STATUS (\S+) (\d+) (\{.*)$", l.rstrip("\n"))
    if m and m.group(1) == step:
        break
    m = None
if not m:
    print(f"no TB-STATUS line for step {step}", file=sys.stderr); sys.exit(1)
rc = int(m.group(2))
try:
    s = json.loads(m.group(3))
except ValueError as e:
    print(f"step {step}: status --json is not JSON ({e}): {m.group(3)[:300]}", file=sys.stderr); sys.exit(1)
class Obj(dict):  # a missing member is None (and None's members are None): a check is then false
    def __getitem__(self, k):
        v = self.get(k)
        return Obj(v) if isinstance(v, dict) else ([Obj(x) if isinstance(x, dict) else x for x in v] if isinstance(v, list) else v)
s = Obj(s)
db = [c["sha256"] for c in (s["variables"] or {}).get("db", {}).get("certificates", [])]
dbx = [c["sha256"] for c in (s["variables"] or {}).get("dbx", {}).get("certificates", [])]
vols = s["volumes"] or []
def holds(c):
    try:
        return bool(eval(c))
    except Exception as e:
        print(f"step {step}: {c}: {e!r}", file=sys.stderr)
        return False
bad = [c for c in checks if not holds(c)]
for c in bad:
    print(f"step {step}: not true: {c}; rc={rc}, db={db}, dbx={dbx}, volumes={vols}, problems={s.get('problems')}",
          file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}
status_failed=()
# At every step: Secure Boot enforced, the running UKI allowed and not revoked, PCR 11 meets its
# signed policy, the three encrypted volumes open and bound (also) to the running UKI's PCR key.
healthy=('s["secure_boot"] is True' 's["setup_mode"] is False' 's["running_uki"]["allowed_by_db"] is True'
         's["running_uki"]["revoked_by_dbx"] is False' 's["pcr11"]["signed_policy_met"] is True'
         'sorted(v["name"] for v in vols if v["open"]) == ["oem", "persistent", "second_partition"]'
         'all(v["pcr_key_matches_running_uki"] for v in vols)' 'all(v["srk_token"] for v in vols)')
guide_ok() { tbjob "$CLEAN" "guide-$1" | contains '^0 ' || fail "guest:$1: $(grep -a "TB-JOB guide-$1" "$CLEAN" | tail -n 6)"; }
export MTOOLS_SKIP_CHECK=1
# active_uki OUT: the UKI the installed active entry names, read from the disk.
active_uki() {
  local entry efi
  entry=$(mdir -b -i disk.img@@1M ::/loader/entries | tr -d '\r' | grep -m1 '/active') || fail "no active entry"
  efi=$(mtype -i disk.img@@1M "$entry" | tr -d '\r' | sed -n 's/^efi //p')
  mcopy -n -i disk.img@@1M "::$efi" "$1" || fail "cannot read $efi"
}
signed_by() { sbverify --cert "$2" "$1" >/dev/null 2>&1; }

# Boot 1: keys/ running.
boot_disk s2.txt job1.iso
assert_eq "$VM_RC" 0 "boot 1 (serial: $(tail -c 800 s2.txt))"
contains 'guest reset' <<<"$VM_OUT" || fail "guest:upgrade-2027 did not reboot: $(grep -a 'TB-JOB\|trustboot upgrade' "$CLEAN" | tail -n 8)"
check_status "$CLEAN" a "${healthy[@]}" 'rc == 0 and s["consistent"] is True' 'db_a in db and db_b not in db' 'dbx == []' \
  'all(v["pcr_keys"] == 1 for v in vols)'
tbjob "$CLEAN" upgrade-before-enroll | contains "^1 .*not in the firmware's db" ||
  fail "the keys-2027 medium before enroll: $(tbjob "$CLEAN" upgrade-before-enroll)"
guide_ok enroll-db
check_status "$CLEAN" a-enrolled "${healthy[@]}" 'rc == 0' 'db_a in db and db_b in db' 'dbx == []'
# The upgrade's expiry warnings: the enrolled Microsoft KEK CA 2011 expired in June 2026.
contains -a 'trustboot upgrade: warning: enrolled KEK: certificate .*CN=Microsoft Corporation KEK CA 2011 EXPIRED on Jun 24' "$CLEAN" ||
  fail "upgrade gave no expiry warning: $(grep -a 'trustboot upgrade' "$CLEAN" | head -n 5)"
contains -a 'systemd-boot [0-9]* replaces [0-9]* (signed differently)' "$CLEAN" ||
  fail "the upgrade did not replace the old-key systemd-boot: $(grep -a 'trustboot upgrade' "$CLEAN" | tail -n 5)"
active_uki active-2027.efi
signed_by active-2027.efi keys-2027/db.pem || fail "the new active UKI is not signed by keys-2027's db key"
mcopy -n -i disk.img@@1M ::/EFI/BOOT/BOOTX64.EFI sdboot-2027.efi || fail "cannot read systemd-boot"
signed_by sdboot-2027.efi keys-2027/db.pem || fail "systemd-boot is not signed by keys-2027's db key"

# Boot 2: keys-2027 running (the firmware started its systemd-boot and UKI).
boot_disk s3.txt job2.iso
assert_eq "$VM_RC" 0 "boot 2 (serial: $(tail -c 800 s3.txt))"
contains 'guest reset' <<<"$VM_OUT" || fail "guest:upgrade-2028 did not reboot: $(grep -a 'TB-JOB\|trustboot upgrade' "$CLEAN" | tail -n 8)"
check_status "$CLEAN" b "${healthy[@]}" 'rc == 0 and s["consistent"] is True'
guide_ok revoke
check_status "$CLEAN" b-revoked "${healthy[@]}" 'rc == 0' 'dbx == [db_a]' 'db_a in db and db_b in db'
tbjob "$CLEAN" upgrade-old-medium | contains '^1 .*in dbx' || fail "the old medium after dbx: $(tbjob "$CLEAN" upgrade-old-medium)"
guide_ok pcr-add
check_status "$CLEAN" b-addkey "${healthy[@]}" 'rc == 1' 'db_c in db' 'all(v["pcr_keys"] == 2 for v in vols)' \
  'any("rotation is not finished" in p for p in s["problems"])'

# Boot 3: keys-2028 (new PCR key) runs; its policy unseals the new tokens.
boot_disk s4.txt job3.iso
assert_eq "$VM_RC" 0 "boot 3 (serial: $(tail -c 800 s4.txt))"
active_uki active-2028.efi
signed_by active-2028.efi keys-2028/db.pem || fail "the active UKI is not keys-2028's"
check_status "$CLEAN" p "${healthy[@]}" 'rc == 1' 'all(v["pcr_keys"] == 2 for v in vols)'
guide_ok pcr-remove
check_status "$CLEAN" p-removed "${healthy[@]}" 'rc == 0 and s["consistent"] is True' 'all(v["pcr_keys"] == 1 for v in vols)'

# Boot 4: the new PCR key alone unlocks.
boot_disk s5.txt job4.iso
assert_eq "$VM_RC" 0 "boot 4 (serial: $(tail -c 800 s5.txt))"
check_status "$CLEAN" final "${healthy[@]}" 'rc == 0 and s["consistent"] is True' 'all(v["pcr_keys"] == 1 for v in vols)' \
  'db_a in db and db_b in db and db_c in db' 'dbx == [db_a]'
guide_ok status

# Boot 5: the old install medium (systemd-boot signed by the revoked key): the firmware refuses it.
vm "$iso_old" --vars vars.fd --tpm-state tpm --serial s6.txt --timeout 120
echo "$VM_OUT" | contains "refused by firmware.*Access Denied" || fail "the old medium was not refused by the firmware: $VM_OUT"
t_end=$EPOCHREALTIME
[ ${#status_failed[@]} -eq 0 ] || fail "status --json not as expected at steps: ${status_failed[*]} (see above)"
echo "ok: docs/guide-keys.md run: db key rotated (keys-2027 refused before enroll), the old key revoked (refused by" \
  "upgrade and by the firmware), PCR key rotated (add, upgrade, remove); the volumes unlocked at every boot;" \
  "status --json checked after each step. $(awk "BEGIN{printf \"host %.0f s, VMs %.0f s\", $t_host - $t0, $t_end - $t_host}")"
