#!/usr/bin/env bash
# Issue 17, High 1 and 2: the boot paths that would give a shell while PCR 11 still matches a
# signed policy, each performed on an installed node and shown refused.
#  1. Secure Boot off (the variable store reset: no PK), the installed active entry given load
#     options "trustboot.insecure init=/sbin/init" (and loader.conf told not to re-enroll, as an
#     attacker with the ESP would): the stub takes the options, PCR 11 sees the same sections;
#     trustboot init must extend trustboot-insecure first, unlock nothing and say why; the
#     attacker's code (a job disk) finds `trustboot unlock-all` refused and PCR 11 equal to no
#     value `trustboot measure calculate` gives for the installed UKI.
#  2. The install medium's sibling (same keys, live: install.auto false) booted with the
#     installed disk attached: PCR 11 gets trustboot-medium before the live system runs, so
#     `trustboot unlock-all` there fails with a clear message.
#  3. The installed ESP copied to a stick (a FAT drive) and booted with the disk attached: the
#     entry is "active", but the ESP is not on the disk of the sealed volumes: medium, measured,
#     nothing unlocked.
#  4. The installed disk then boots and unlocks as before.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need mcopy mdir openssl

e2e_rootfs --trustboot
cd "$WORK"
seed_medium --init /usr/bin/trustboot
mkdir -p live/etc/trustboot
sed 's/^  auto: true/  auto: false/' overlay/etc/trustboot/config.yaml >live/etc/trustboot/config.yaml
grep -q 'auto: false' live/etc/trustboot/config.yaml || fail "live config"
"$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -o live -t iso -d liveout -k keys --secure-boot-enroll off \
  --init /usr/bin/trustboot -n live >/dev/null || fail "build-uki live"

install_node out/medium.iso

# The attacker's code: runs in the booted system from a disk labelled TBJOB (tests/rootfs/init).
cat >job.sh <<'SH'
echo "TB-JOB mapper=$(ls /dev/mapper | tr '\n' ' ')"
trustboot unlock-all >/tmp/u.out 2>&1; echo "TB-JOB unlock-all-exit=$?"
sed 's/^/TB-JOB unlock-all: /' /tmp/u.out
SH
mkdir -p jobdir && cp job.sh jobdir/
xorriso -as mkisofs -quiet -o job.iso -V TBJOB -R jobdir 2>/dev/null || fail "xorriso job.iso"
export MTOOLS_SKIP_CHECK=1
mcopy -i disk.img@@1M ::/EFI/trustboot/active.efi active.efi || fail "cannot read active.efi"
# Every PCR 11 value a signed policy of the installed UKI accepts (sha256, each phase path).
"$TRUSTBOOT" measure calculate --uki=active.efi --bank=sha256 --json=short >signed.json || fail "measure calculate"
signed_pcr() { grep -qi "$1" signed.json; }

# attempt SERIAL WHAT VM-ARGS…: one boot with the node's TPM (300 s at most), which must end well;
# SERIAL.txt is its console, SERIAL the same without CRs.
attempt() {
  local ser="$1" what="$2"; shift 2
  vm "$@" --tpm-state tpm --serial "$ser.txt" --timeout 300
  assert_eq "$VM_RC" 0 "$what (serial: $(tail -c 600 "$ser.txt"))"
  tr -d '\r' <"$ser.txt" >"$ser"
}

# Each refusal is checked on its own (a run without a fix shows every attack that works).
problems=0
problem() { echo "PROBLEM: $*" >&2; problems=$((problems + 1)); }

# 1. Secure Boot off, load options on the installed active entry.
cp disk.img disk1.img
entry=$(mdir -b -i disk1.img@@1M ::/loader/entries | tr -d '\r' | grep -m1 '/active') || fail "no active entry"
entry=${entry#::}
mcopy -i disk1.img@@1M "::$entry" active.conf || fail "mcopy $entry"
tr -d '\r' <active.conf | grep -v '^options' >attack.conf
echo 'options console=ttyS0 panic=-1 trustboot.insecure init=/sbin/init' >>attack.conf
mcopy -o -i disk1.img@@1M attack.conf "::$entry" || fail "cannot write $entry"
printf 'timeout 0\nsecure-boot-enroll off\n' >loader.conf
mcopy -o -i disk1.img@@1M loader.conf ::/loader/loader.conf || fail "cannot write loader.conf"
mkdir -p empty1
attempt s2 "Secure Boot off boot" empty1 --setup-mode --vars vars-off.fd --disk disk1.img --disk job.iso --expect "^$MARKER\$"
assert_eq "$(serial_value s2 SecureBoot)" 0 "Secure Boot in the attack boot"
contains 'Secure Boot: off, going on because of trustboot.insecure' s2 || problem "no insecure line: $(grep trustboot s2 | head)"
contains "PCR 11: extended trustboot-insecure" s2 || problem "trustboot-insecure not measured"
contains 'not unlocking the sealed volumes: Secure Boot is off' s2 || problem "no reason given: $(grep trustboot s2 | tail)"
contains 'unlocked by the TPM as' s2 && problem "a volume unlocked with Secure Boot off"
contains '^TB-JOB unlock-all-exit=0' s2 && problem "unlock-all worked with Secure Boot off"
contains '^TB-JOB unlock-all: .*PCR 11 carries trustboot-insecure' s2 || problem "unlock-all did not say why: $(grep TB-JOB s2)"
pcr=$(serial_value s2 PCR11-sha256)
[ ${#pcr} = 64 ] || fail "no PCR 11 reported: '$pcr'"
signed_pcr "$pcr" && problem "PCR 11 $pcr is a signed value with Secure Boot off"

# 2. The live medium (same keys) with the installed disk attached.
attempt s3 "live boot" liveout/live.iso --vars vars.fd --disk disk.img --disk job.iso --expect "^$MARKER\$"
assert_eq "$(serial_value s3 SecureBoot)" 1 "Secure Boot in the live boot"
contains 'booted from the medium' s3 || problem "live boot not seen as the medium: $(grep trustboot s3 | head)"
contains "PCR 11: extended trustboot-medium" s3 || problem "trustboot-medium not measured"
contains '^TB-JOB unlock-all-exit=0' s3 && problem "unlock-all worked on the live medium"
contains '^TB-JOB unlock-all-exit=' s3 || problem "the job did not run: $(tail -c 600 s3)"
contains '^TB-JOB unlock-all: .*PCR 11 carries trustboot-medium' s3 || problem "unlock-all did not say why: $(grep TB-JOB s3)"

# 3. The installed ESP on a stick, with the installed disk attached. Its entries carry the
# medium's command line (install-mode) and the image's config says install.auto: init takes it
# for the medium, measures that, and the installer then finds no install medium and stops —
# either way nothing is unlocked.
mkdir -p stick
mcopy -s -i disk.img@@1M ::/EFI ::/loader stick/ || fail "cannot copy the ESP"
attempt s4 "stick boot" stick --vars vars.fd --disk disk.img --expect 'trustboot init: (total in|FAILED)'
contains 'booted from the medium' s4 || problem "stick boot not seen as the medium: $(grep trustboot s4 | head)"
contains "PCR 11: extended trustboot-medium" s4 || problem "trustboot-medium not measured on the stick boot"
contains 'unlocked by the TPM as' s4 && problem "a volume unlocked from the stick"

# 4. The installed disk boots and unlocks as before.
attempt s5 "disk boot" empty1 --vars vars.fd --disk disk.img --expect "^$MARKER\$"
contains 'booted from disk' s5 || problem "disk boot not seen as such: $(grep trustboot s5 | head)"
for v in oem persistent second_partition; do
  contains "unlocked by the TPM as /dev/mapper/$v" s5 || problem "$v not unlocked: $(grep trustboot s5 | tail -n 8)"
done
assert_eq "$(serial_value s5 mount_oem)" /dev/mapper/oem "OEM mount"
[ "$problems" = 0 ] || fail "$problems of the checks above failed"
echo "ok: Secure Boot off, the live medium and a copied ESP unlock nothing; the disk still does"
