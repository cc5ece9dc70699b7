#!/usr/bin/env bash
# An installed, encrypted node (the install scenario) upgraded from inside the guest to a second
# medium built from the same rootfs with a new VERSION_ID and the same keys. The test root
# filesystem runs job.sh from a disk labelled TBJOB (tests/rootfs/init), so each boot's commands
# come on their own job disk:
#   boot 1: `trustboot upgrade` from a medium signed with another db key, from one whose PCR
#           policy is signed with another PCR key, and, after the guest added its image hash to
#           the firmware's dbx, from a revoked one: all refused, the ESP partition and the
#           loader variables byte-for-byte unchanged; then the real upgrade with --reboot.
#   boot 2: systemd-boot follows LoaderEntryOneShot to the new active entry: the new version
#           runs (PCR 11 is the new UKI's), the data partitions unlock, the persistent data is
#           still there; `trustboot bootentry --mark-good` blesses it (no more counting) and
#           `trustboot bootentry --select passive` picks the old version, once.
#   boot 3: the passive entry, the old version, boots and unlocks.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need openssl xorriso sfdisk hash-to-efi-sig-list sign-efi-sig-list

e2e_rootfs --trustboot
cd "$WORK"
genkey() { "$TRUSTBOOT" -q genkey "$1" -o "$2" --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null || fail "genkey $1"; }
genkey demo keys
genkey other other
# Key sets that differ from keys/ in one key only.
cp -r keys otherdb && cp other/db.key other/db.pem otherdb/
cp -r keys otherpcr && cp other/tpm2-pcr-private.pem otherpcr/

mkdir -p overlay/etc/trustboot overlay2/etc
cp "$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml" overlay/etc/trustboot/config.yaml   # the seed's example
{ grep -v '^VERSION_ID=' "$ROOTFS/rootfs/etc/os-release" 2>/dev/null || true; echo 'VERSION_ID=99.0-upgrade'; } > overlay2/etc/os-release
build() { # OUTDIR TYPE NAME KEYS OVERLAY...
  local d="$1" t="$2" n="$3" k="$4"; shift 4
  local o=(); for x in "$@"; do o+=(-o "$x"); done
  "$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" "${o[@]}" -t "$t" -d "$d" -k "$k" --secure-boot-enroll force \
    --init /usr/bin/trustboot -n "$n" >/dev/null || fail "build-uki $n"
}
build out iso medium keys overlay
iso=$(ls out/*.iso | head -n1)
mkdir -p job1
build job1/new uki new keys overlay overlay2
build job1/otherdb uki otherdb otherdb overlay overlay2
build job1/otherpcr uki otherpcr otherpcr overlay overlay2
# A third version, signed and bound like the new one, but revoked: its image hash goes into the
# firmware's dbx (an update signed by the KEK, written by the guest through efivarfs).
mkdir -p overlay3/etc
sed 's/^VERSION_ID=.*/VERSION_ID=98.0-revoked/' overlay2/etc/os-release > overlay3/etc/os-release
build job1/revoked uki revoked keys overlay overlay3
hash-to-efi-sig-list job1/revoked/EFI/trustboot/norole.efi dbx.esl >/dev/null || fail "hash-to-efi-sig-list"
sign-efi-sig-list -k keys/KEK.key -c keys/KEK.pem dbx dbx.esl dbx.auth >/dev/null || fail "sign-efi-sig-list dbx"
{ printf '\x27\x00\x00\x00'; cat dbx.auth; } > job1/dbx.var   # efivarfs: attributes NV|BS|RT|TIME_AUTH, then the data

# job_disk ISO DIR SCRIPT: DIR (may be empty) + SCRIPT as job.sh on an ISO 9660 labelled TBJOB.
job_disk() {
  mkdir -p "$2" && cp "$3" "$2/job.sh"
  xorriso -as mkisofs -quiet -o "$1" -V TBJOB -R "$2" 2>/dev/null || fail "xorriso $1"
}
cat >job1.sh <<'SH'
say() { echo "TB-JOB $*"; }
# The ESP partition read with O_DIRECT (past the page cache, after a sync), its files, and the
# loader's one-shot variable: what a refused upgrade must leave as it was.
esp_state() {
  sync
  { dd if="$(findfs LABEL=COS_GRUB)" bs=1M iflag=direct 2>/tmp/dd.err | sha256sum
    head -n 1 /tmp/dd.err
    (cd /efi && find . -type f | sort | xargs sha256sum)
    cat /sys/firmware/efi/efivars/LoaderEntryOneShot-* 2>/dev/null | sha256sum
  } | sha256sum | cut -c1-64
}
trustboot bootentry --list | sed 's/^/TB-JOB before: /'
before=$(esp_state)
say "esp-before=$before"
say "esp-read=$(head -n 1 /tmp/dd.err)"
for bad in otherdb otherpcr; do
  if trustboot upgrade --source dir:/job/$bad >/tmp/$bad.out 2>&1; then
    say "$bad=accepted"
  else
    say "$bad=refused: $(tail -n 1 /tmp/$bad.out)"
  fi
  say "$bad-esp=$(esp_state)"
done
dd if=/job/dbx.var of=/sys/firmware/efi/efivars/dbx-d719b2cb-3d3a-4596-a3bc-dad00e67656f bs=64k conv=notrunc 2>/tmp/dbx.err
say "dbx-write=$?"
if trustboot upgrade --source dir:/job/revoked >/tmp/revoked.out 2>&1; then
  say "revoked=accepted"
else
  say "revoked=refused: $(tail -n 1 /tmp/revoked.out)"
fi
say "revoked-esp=$(esp_state)"
trustboot upgrade --source dir:/job/new --reboot
say "upgrade-exit=$?"
SH
cat >job2.sh <<'SH'
trustboot bootentry --mark-good >/tmp/good.out 2>&1
echo "TB-JOB good-exit=$?"
sed 's/^/TB-JOB good: /' /tmp/good.out
trustboot bootentry --list | sed 's/^/TB-JOB list: /'
trustboot bootentry --select passive >/tmp/select.out 2>&1
echo "TB-JOB select-exit=$?"
sed 's/^/TB-JOB select: /' /tmp/select.out
SH
cat >job3.sh <<'SH'
trustboot bootentry --list | sed 's/^/TB-JOB list: /'
SH
job_disk job1.iso job1 job1.sh
job_disk job2.iso job2 job2.sh
job_disk job3.iso job3 job3.sh

# 1. enroll, install (as the install scenario).
install_node "$iso"

export MTOOLS_SKIP_CHECK=1
mcopy -n -i disk.img@@1M ::/EFI/trustboot/active.efi old-active.efi || fail "cannot read the installed active UKI"

pcr_of() { # UKI → the PCR 11 values it can leave (no phase, enter-initrd, enter+leave-initrd)
  for ph in "" enter-initrd enter-initrd:leave-initrd; do
    "$TRUSTBOOT" measure calculate --uki "$1" --bank=sha256 --phase="$ph" 2>/dev/null | sed 's/.*=//'
  done
}
# boot_disk SERIAL JOB.iso [VM ARGS…]: boot the installed disk; checks that the data partitions
# unlocked and sets PCR, VERSION and CLEAN (the serial output without CRs).
boot_disk() {
  local serial="$1" jobiso="$2"; shift 2
  local disks=(--disk disk.img --disk "$jobiso")
  mkdir -p empty
  vm empty --vars vars.fd --tpm-state tpm "${disks[@]}" --memory 1536 --serial "$serial" --timeout 900 "$@"
  CLEAN="$serial.clean"
  tr -d '\r' <"$serial" >"$CLEAN"
  for v in oem persistent; do
    contains -a "unlocked by the TPM as /dev/mapper/$v" "$CLEAN" || fail "$serial: $v not unlocked: $(grep trustboot "$CLEAN" | tail -n 8)"
  done
  contains -a 'TB-ROOTFS mount_efi=' "$CLEAN" || fail "$serial: the ESP is not mounted at /efi: $(grep -a 'COS_GRUB\|efi' "$CLEAN" | tail -n 3)"
  PCR=$(serial_value "$CLEAN" PCR11-sha256)
  VERSION=$(serial_value "$CLEAN" VERSION_ID)
}
# tbjob FILE KEY: the value of a "TB-JOB KEY=VALUE" line.
tbjob() { sed -n "s/^.*TB-JOB $2=//p" "$1" | sed -n 1p; }

# 2. inside the old version: two refused upgrades, then the upgrade, which reboots.
boot_disk s2.txt job1.iso
assert_eq "$VM_RC" 0 "boot 1 (serial: $(tail -c 800 s2.txt))"
contains 'guest reset' <<<"$VM_OUT" || fail "the upgrade did not reboot: $VM_OUT; $(grep -a 'TB-JOB\|trustboot upgrade' "$CLEAN" | tail -n 8)"
assert_eq "$VERSION" 1 "version before the upgrade"
contains -E 'entry active(\+[0-9-]+)?\.conf \(role active\)' "$CLEAN" || fail "boot 1 is not the active entry: $(grep -a 'booted from' "$CLEAN")"
before=$(tbjob "$CLEAN" esp-before)
[ -n "$before" ] || fail "no ESP state from the job: $(grep -a 'TB-JOB\|TB-ROOTFS job' "$CLEAN")"
# The state covers the whole partition (dd read it), not an empty stream.
esp_bytes=$(python3 -c 'import json,sys; p=json.load(sys.stdin)["partitiontable"]["partitions"][0]; print(p["size"]*512)' \
  < <(sfdisk -J disk.img)) || fail "cannot read the disk's partition table"
tbjob "$CLEAN" esp-read | contains -x "$((esp_bytes / 1048576))+0 records in" ||
  fail "the job did not read the whole ESP ($esp_bytes bytes): $(tbjob "$CLEAN" esp-read)"
tbjob "$CLEAN" otherdb | contains "refused: .*not in the firmware's db" || fail "other db key: $(tbjob "$CLEAN" otherdb)"
tbjob "$CLEAN" otherpcr | contains 'refused: .*disks would not unlock after reboot' || fail "other PCR key: $(tbjob "$CLEAN" otherpcr)"
assert_eq "$(tbjob "$CLEAN" otherdb-esp)" "$before" "the ESP after the refused other-db upgrade"
assert_eq "$(tbjob "$CLEAN" otherpcr-esp)" "$before" "the ESP after the refused other-PCR-key upgrade"
assert_eq "$(tbjob "$CLEAN" dbx-write)" 0 "the guest's dbx update (serial: $(grep -a 'TB-JOB' "$CLEAN" | tail -n 3))"
tbjob "$CLEAN" revoked | contains 'refused: .*in dbx' || fail "revoked UKI: $(tbjob "$CLEAN" revoked)"
assert_eq "$(tbjob "$CLEAN" revoked-esp)" "$before" "the ESP after the refused revoked upgrade"
contains -a '(next boot)' "$CLEAN" || fail "upgrade said no next boot: $(grep -a 'trustboot upgrade\|TB-JOB' "$CLEAN" | tail -n 5)"
# Each entry names its UKI: the new one a fresh file only the counted active entry names, the
# passive one the old active file, unchanged.
for f in active passive; do
  efi=$(mtype -i disk.img@@1M "::/loader/entries/$f+3.conf" | tr -d '\r' | sed -n 's/^efi //p')
  [ -n "$efi" ] || fail "no $f+3.conf with an efi line on the upgraded ESP: $(mdir -b -i disk.img@@1M ::/loader/entries)"
  mcopy -n -i disk.img@@1M "::$efi" "new-$f.efi" || fail "cannot read $efi ($f) from the upgraded ESP"
  echo "$efi" >"new-$f.path"
done
cmp -s new-active.efi job1/new/EFI/trustboot/norole.efi || fail "the active entry does not name the new UKI"
cmp -s new-passive.efi old-active.efi || fail "the passive entry does not name the old active UKI"
contains -x '/EFI/trustboot/active.efi' new-passive.path || fail "passive names $(cat new-passive.path), not the old active file"

# 3. the new version is active (chosen by the one-shot variable the guest set); select passive.
boot_disk s3.txt job2.iso --expect "^$MARKER\$"
assert_eq "$VM_RC" 0 "boot 2 (serial: $(tail -c 800 s3.txt))"
assert_eq "$VERSION" 99.0-upgrade "version after the upgrade"
contains -E 'entry active\+3\.conf \(role active\)' "$CLEAN" || fail "boot 2 is not the new active entry: $(grep -a 'booted from' "$CLEAN")"
pcr_of job1/new/EFI/trustboot/norole.efi | contains -x "$PCR" || fail "PCR 11 $PCR is not the new UKI's"
assert_eq "$(serial_value "$CLEAN" marker)" present "the persistent data after the upgrade"
contains -E 'TB-JOB list: .*passive' "$CLEAN" || fail "bootentry --list shows no passive entry: $(grep -a 'TB-JOB' "$CLEAN")"
assert_eq "$(tbjob "$CLEAN" good-exit)" 0 "bootentry --mark-good"
contains -E 'TB-JOB good: active\+2-1\.conf -> active\.conf' "$CLEAN" || fail "the new active entry was not blessed: $(grep -a 'TB-JOB' "$CLEAN")"
contains -E 'TB-JOB list: active\.conf +good .*\[booted\]' "$CLEAN" || fail "the blessed entry is not listed as good and booted: $(grep -a 'TB-JOB list' "$CLEAN")"
assert_eq "$(tbjob "$CLEAN" select-exit)" 0 "bootentry --select passive"

# 4. the passive entry: the old version, still unlocking the disks.
boot_disk s4.txt job3.iso --expect "^$MARKER\$"
assert_eq "$VM_RC" 0 "boot 3 (serial: $(tail -c 800 s4.txt))"
assert_eq "$VERSION" 1 "version of the passive entry"
contains '(role passive)' "$CLEAN" || fail "boot 3 is not the passive entry: $(grep -a 'booted from' "$CLEAN")"
pcr_of old-active.efi | contains -x "$PCR" || fail "PCR 11 $PCR is not the old UKI's"
# The one-shot is spent and the blessed active entry stays the default.
contains -E 'TB-JOB list: active\.conf +good' "$CLEAN" || fail "active is no longer blessed: $(grep -a 'TB-JOB list' "$CLEAN")"
contains -aF '[next]' "$CLEAN" && fail "a one-shot is still pending: $(grep -a 'TB-JOB list' "$CLEAN")"
echo "ok: upgraded inside the guest (other db key, other PCR key and a dbx-revoked UKI refused, ESP unchanged); the new version boots active and unlocks; the passive entry boots the old one and unlocks"
