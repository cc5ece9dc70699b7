#!/usr/bin/env bash
# Power loss during `trustboot upgrade`: an installed, encrypted node upgrades from inside the
# guest, and the power is cut at each of the upgrade's write steps in turn — the test build's
# fault point (util/testhook.h) stops the upgrade right before step N and prints "TB-FAULT N",
# the host then kills QEMU with SIGKILL: nothing is synced, the guest's page cache is lost. The
# steps include the moments after a file's data was written but before its fsync. Then the node
# boots again, with nobody choosing the entry: it must boot the old or the new version, its
# data partitions must unlock and the persistent data must be there, never neither; the same
# upgrade, run again there, must finish. Prints the matrix: step, what it was about to do,
# version booted, entry, unlocked.
#
# The guest runs the test build of trustboot (tests/trustboot-test as /usr/bin/trustboot); the
# release binary has no fault point.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need openssl xorriso mcopy mtype python3
: "${TRUSTBOOT_TEST:?the test binary is not built}"

TRUSTBOOT="$TRUSTBOOT_TEST" e2e_rootfs --trustboot
cd "$WORK"
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
{ grep -v '^VERSION_ID=' "$ROOTFS/rootfs/etc/os-release" 2>/dev/null || true; echo 'VERSION_ID=2.0-power'; } > overlay2/etc/os-release
build() { # OUTDIR TYPE NAME OVERLAY...
  local d="$1" t="$2" n="$3"; shift 3
  local o=(); for x in "$@"; do o+=(-o "$x"); done
  "$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" "${o[@]}" -t "$t" -d "$d" -k keys --secure-boot-enroll force \
    --init /usr/bin/trustboot -n "$n" >/dev/null || fail "build-uki $n"
}
build out iso medium overlay
iso=$(ls out/*.iso | head -n1)
build new uki new overlay overlay2

# 1. enroll and install once; every step starts from a copy of this node.
install_node "$iso"
export MTOOLS_SKIP_CHECK=1
mcopy -n -i disk.img@@1M ::/EFI/trustboot/active.efi old.efi || fail "cannot read the installed active UKI"

# The steps, as the same upgrade announces them on a copy of the installed ESP on the host.
mkdir -p hostesp hostvars
mcopy -s -n -i disk.img@@1M '::/*' hostesp/ || fail "cannot copy the ESP out"
python3 -c 'import sys,struct; sys.stdout.buffer.write(struct.pack("<I",0x27)+open(sys.argv[1],"rb").read())' keys/db.esl \
  > hostvars/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f
TRUSTBOOT_TEST_FAULT=0 "$TRUSTBOOT_TEST" upgrade --esp hostesp --efivars hostvars --luks-device none --source dir:new \
  2>steps.txt >/dev/null || fail "the host upgrade failed: $(cat steps.txt)"
grep '^TB-STEP ' steps.txt | sed 's/^TB-STEP [0-9]* //' > steps.list
n_steps=$(wc -l <steps.list)
[ "$n_steps" -ge 8 ] || fail "only $n_steps steps: $(cat steps.txt)"
echo "upgrade write steps: $n_steps" >&2

pcr_of() { # UKI → the PCR 11 values it can leave
  for ph in "" enter-initrd enter-initrd:leave-initrd; do
    "$TRUSTBOOT" measure calculate --uki "$1" --bank=sha256 --phase="$ph" 2>/dev/null | sed 's/.*=//'
  done
}
job_disk() { # ISO SCRIPT: the new medium and SCRIPT as job.sh on an ISO 9660 labelled TBJOB
  rm -rf jobdir && mkdir -p jobdir && cp -r new jobdir/new && cp "$2" jobdir/job.sh
  xorriso -as mkisofs -quiet -o "$1" -V TBJOB -R jobdir 2>/dev/null || fail "xorriso $1"
}
cat >verify.sh <<'SH'
trustboot bootentry --list | sed 's/^/TB-JOB list: /'
trustboot upgrade --source dir:/job/new >/tmp/again.out 2>&1
echo "TB-JOB again-exit=$?"
tail -n 2 /tmp/again.out | sed 's/^/TB-JOB again: /'
SH
job_disk verify.iso verify.sh
tbjob() { sed -n "s/^.*TB-JOB $2=//p" "$1" | sed -n 1p; }

mkdir -p empty
matrix="step | about to | booted | entry | unlocked | upgrade again"
for n in $(seq 1 "$n_steps"); do
  what=$(sed -n "${n}p" steps.list)
  rm -rf node && mkdir node && cp --sparse=always disk.img node/ && cp vars.fd node/ && cp -r tpm node/
  # Through a pipe: no progress line (stderr is no terminal) shares the serial line with TB-FAULT.
  printf 'TRUSTBOOT_TEST_FAULT=%s TRUSTBOOT_TEST_FAULT_HANG=1 trustboot upgrade --source dir:/job/new 2>&1 | cat >/dev/console\n' "$n" >fault.sh
  job_disk fault.iso fault.sh
  # 2. boot, upgrade until the fault point, cut the power.
  rm -f node/fault.txt
  ( vm empty --vars node/vars.fd --tpm-state node/tpm --disk node/disk.img --disk fault.iso --memory 1536 \
      --serial node/fault.txt --timeout 900 ) &
  vmpid=$!
  qemu=""
  for _ in $(seq 1 900); do
    if [ -e node/fault.txt ] && tr -d '\r' <node/fault.txt | contains -a "TB-FAULT $n "; then
      qemu=$(awk '$1 == "qemu" {print $2}' "$WORK/vm.pids" 2>/dev/null)
      break
    fi
    kill -0 "$vmpid" 2>/dev/null || break
    sleep 1
  done
  [ -n "$qemu" ] || { wait "$vmpid" || true; fail "step $n ($what): no fault point reached: $(tr -d '\r' <node/fault.txt | grep -a 'TB-\|trustboot' | tail -n 6)"; }
  kill -KILL "$qemu"
  wait "$vmpid" || true
  # The guest's names carry the counters systemd-boot gave the entries on this boot.
  what=$(tr -d '\r' <node/fault.txt | sed -n "s/.*TB-FAULT $n //p" | head -n 1)
  assert_eq "${what%% *}" "$(sed -n "${n}p" steps.list | cut -d' ' -f1)" "step $n's kind in the guest"

  # 3. power on: the old or the new version boots and unlocks; the upgrade completes there.
  vm empty --vars node/vars.fd --tpm-state node/tpm --disk node/disk.img --disk verify.iso --memory 1536 \
    --serial node/boot.txt --timeout 900 --expect "^$MARKER\$"
  clean=node/boot.clean; tr -d '\r' <node/boot.txt >"$clean"
  version=$(serial_value "$clean" VERSION_ID)
  pcr=$(serial_value "$clean" PCR11-sha256)
  entry=$(sed -n 's/.*booted from disk: entry \([^ ]*\) .*/\1/p' "$clean" | head -n 1)
  unlocked=yes
  for v in oem persistent; do contains -a "unlocked by the TPM as /dev/mapper/$v" "$clean" || unlocked=no; done
  again=$(tbjob "$clean" again-exit)
  matrix="$matrix
$n | $what | ${version:-none} | ${entry:-none} | $unlocked | ${again:-none}"
  [ "$VM_RC" -eq 0 ] || fail "step $n ($what): the node did not boot: $(grep -a 'trustboot\|TB-' "$clean" | tail -n 8)"
  case "$version" in
    1) pcr_of old.efi | contains -x "$pcr" || fail "step $n: version 1 booted, PCR 11 $pcr is not the old UKI's";;
    2.0-power) pcr_of new/EFI/trustboot/norole.efi | contains -x "$pcr" || fail "step $n: the new version booted, PCR 11 $pcr is not its UKI's";;
    *) fail "step $n ($what): neither version booted (VERSION_ID '$version')";;
  esac
  [ "$unlocked" = yes ] || fail "step $n ($what): the data partitions did not unlock: $(grep -a 'trustboot' "$clean" | tail -n 8)"
  assert_eq "$(serial_value "$clean" marker)" present "step $n: the persistent data"
  assert_eq "$again" 0 "step $n: the upgrade run again after the power loss ($(grep -a 'TB-JOB again:' "$clean"))"
done
echo "$matrix" >&2
echo "ok: power cut before each of $n_steps upgrade steps: the node booted the old or the new version and unlocked every time"
