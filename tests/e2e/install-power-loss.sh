#!/usr/bin/env bash
# Power loss during `trustboot install`: the medium boots as a live system with a blank disk and
# runs the installer, and the power is cut at each of the installer's write steps in turn — the
# test build's fault point (util/testhook.h) stops the install right before step N and prints
# "TB-FAULT N WHAT", the host then kills QEMU with SIGKILL: nothing is synced, the guest's page
# cache is lost. Then the medium boots again and the same install runs on the half-written disk:
# it must finish; and the disk, booted alone, must boot and unlock both volumes. To save a boot
# per step, the boot that installs again over step N's disk (/dev/vda) then cuts step N+1 on the
# next blank disk (/dev/vdb); the disks shrink from step to step, so that `--device auto` (the
# largest blank or interrupted disk) picks /dev/vda. The host also
# looks at each interrupted disk: its GPT's disk GUID (installing until the last step) and
# whether the firmware would find a boot loader on it (the ESP is written last, so only a cut
# after the loader was copied leaves one). Prints the matrix: step, what it was about to do, the
# cut disk's GPT and loader, install again, booted, unlocked.
#
# The guest runs the test build of trustboot (tests/trustboot-test as /usr/bin/trustboot); the
# release binary has no fault point. The installer runs from a job disk (tests/rootfs/init) as
# an operator runs `trustboot install` on the live medium. The run after the cut picks the disk
# itself (--device auto): auto refuses a disk that carries a partition table, except one whose
# GPT still says the install did not finish — what an unattended install.auto run needs.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need openssl xorriso mcopy mdir sfdisk swtpm tpm2_getcap
: "${TRUSTBOOT_TEST:?the test binary is not built}"

TRUSTBOOT="$TRUSTBOOT_TEST" e2e_rootfs --trustboot
cd "$WORK"
export MTOOLS_SKIP_CHECK=1
"$TRUSTBOOT" -q genkey demo -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null || fail "genkey"
mkdir -p overlay/etc/trustboot
# No install.auto: the medium boots as the live system, where the job runs the installer.
cat >overlay/etc/trustboot/config.yaml <<'YAML'
#cloud-config
install:
  device: /dev/vda
  encrypted_partitions: [COS_OEM, COS_PERSISTENT]
YAML
"$TRUSTBOOT" -q build-uki "dir:$ROOTFS/rootfs" -o overlay -t iso -d out -k keys --secure-boot-enroll force \
  --init /usr/bin/trustboot -n medium >/dev/null || fail "build-uki"
iso=$(ls out/*.iso | head -n1)
# The medium's ESP, byte for byte what the live system would install from /run/trustboot/medium.
xorriso -osirrox on -indev "$iso" -extract /efiboot.img efiboot.img 2>/dev/null || fail "cannot extract the medium's ESP"
mkdir -p medium && mcopy -s -n -i efiboot.img '::/*' medium/ || fail "cannot copy the medium's ESP out"

tbjob() { sed -n "s/^.*TB-JOB $2=//p" "$1" | sed -n 1p; }
# What trustboot init loads before it installs (the live system has not: nothing asked for it).
prep='modprobe -a dm_crypt crypto-xts crypto-ecb crypto-aes fs-ext4 fs-vfat 2>/dev/null'
job_disk() { # ISO SCRIPT: the medium's ESP and SCRIPT as job.sh on an ISO 9660 labelled TBJOB
  rm -rf jobdir && mkdir -p jobdir && cp -r medium jobdir/medium && cp "$2" jobdir/job.sh
  xorriso -as mkisofs -quiet -o "$1" -V TBJOB -R jobdir 2>/dev/null || fail "xorriso $1"
}
size_of() { echo "$((1024 + (64 - $1) * 4))M"; }   # disk N: smaller than disk N-1
# TB_POWER_LOSS_FIRST=K: start at step K (a matrix in parts, or a quick look at the last steps).
first=${TB_POWER_LOSS_FIRST:-1}
# The cut of step N on /dev/vdb: through a pipe, so that no progress line (stderr is no
# terminal) shares the serial line with TB-FAULT.
cut_job() { # N
  printf 'TRUSTBOOT_TEST_FAULT=%s TRUSTBOOT_TEST_FAULT_HANG=1 trustboot install --device /dev/vdb --source /job/medium --no-lifecycle 2>&1 | cat >/dev/console\n' "$1"
}
# boot_medium SERIAL N_CUT DISK... : the live medium with the disks and job.iso; with N_CUT, the
# power is cut when step N_CUT's fault point is reached, else the boot runs to its end.
# One machine, one TPM for the whole run: every cut is an unorderly TPM shutdown, which the TPM
# counts as a failed authorization when the cycle made a dictionary-attack protected one (the
# install's seal under systemd's legacy primary does); swtpm (maxTries 3, recovery 1000 s of
# powered time) is in lockout after a few steps. The installs then seal under the SRK only (with
# a warning) and the boots unlock through the SRK token, which no lockout stops
# (docs/notes/security.md). The matrix shows the TPM's failed-tries counter as the next power-on
# sees it.
# da_state: failedTries/maxTries of a copy of the TPM after a power-on (TPM2_Startup counts an
# unorderly shutdown there), "lockout" if at the maximum.
da_state() {
  local d="$WORK/da" caps count max pid
  rm -rf "$d" && cp -r tpm "$d" || { echo "?"; return; }
  swtpm socket --tpm2 --tpmstate dir="$d" --server type=unixio,path="$d/sock" \
    --ctrl type=unixio,path="$d/sock.ctrl" --flags not-need-init,startup-clear --pid file="$d/pid" --daemon \
    2>/dev/null || { echo "?"; return; }
  for _ in $(seq 50); do [ -S "$d/sock" ] && [ -s "$d/pid" ] && break; sleep 0.1; done
  caps=$(TPM2TOOLS_TCTI="swtpm:path=$d/sock" tpm2_getcap properties-variable 2>/dev/null || true)
  pid=$(cat "$d/pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  for _ in $(seq 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  count=$(sed -n 's/^TPM2_PT_LOCKOUT_COUNTER: *0x//p' <<< "$caps")
  max=$(sed -n 's/^TPM2_PT_MAX_AUTH_FAIL: *0x//p' <<< "$caps")
  [ -n "$count" ] && [ -n "$max" ] || { echo "?"; return; }
  count=$((16#$count)) max=$((16#$max))
  if [ "$count" -ge "$max" ]; then echo "$count/$max lockout"; else echo "$count/$max"; fi
}
boot_medium() {
  local serial="$1" cut="$2" disks=() vmpid qemu=""; shift 2
  for d in "$@"; do disks+=(--disk "$d"); done
  if [ -z "$cut" ]; then
    vm "$iso" --vars vars.fd --tpm-state tpm "${disks[@]}" --disk job.iso --memory 1536 --serial "$serial" \
      --timeout 900 --expect "^$MARKER\$"
    return
  fi
  rm -f "$serial"
  ( vm "$iso" --vars vars.fd --tpm-state tpm "${disks[@]}" --disk job.iso --memory 1536 --serial "$serial" \
      --timeout 900 ) &
  vmpid=$!
  for _ in $(seq 1 900); do
    if [ -e "$serial" ] && tr -d '\r' <"$serial" | contains -a "TB-FAULT $cut "; then
      qemu=$(awk '$1 == "qemu" {print $2}' "$WORK/vm.pids" 2>/dev/null)
      break
    fi
    kill -0 "$vmpid" 2>/dev/null || break
    sleep 1
  done
  [ -n "$qemu" ] || { wait "$vmpid" || true; fail "step $cut: no fault point reached: $(tr -d '\r' <"$serial" | grep -a 'TB-\|trustboot' | tail -n 8)"; }
  kill -KILL "$qemu"
  wait "$vmpid" || true
}
boot_disk() { # DISK SERIAL: the disk alone, as the firmware finds it
  vm empty --vars vars.fd --tpm-state tpm --disk "$1" --memory 1536 --serial "$2" --timeout 600 --expect "^$MARKER\$"
  tr -d '\r' <"$2" >"$2.clean"
}
unlocked() { # SERIAL.clean → yes/no
  local v
  for v in oem persistent; do contains -a "unlocked by the TPM as /dev/mapper/$v" "$1" || { echo no; return; }; done
  echo yes
}
mkdir -p empty

# 1. enroll; then one whole install on /dev/vda, which lists the write steps
# (TRUSTBOOT_TEST_FAULT=0 prints every step and cuts none), and the cut of the first step on
# /dev/vdb.
vm "$iso" --setup-mode --vars vars.fd --tpm-state tpm --serial s0.txt --timeout 300
assert_eq "$VM_RC" 0 "enroll run (serial: $(tail -c 600 s0.txt))"
{ echo "$prep"
  echo 'TRUSTBOOT_TEST_FAULT=0 trustboot install --device /dev/vda --source /job/medium --no-lifecycle >/tmp/install.out 2>&1'
  echo 'echo "TB-JOB install-exit=$?"'
  echo "sed 's/^/TB-JOB install: /' /tmp/install.out"
  cut_job "$first"; } >job.sh
job_disk job.iso job.sh
boot_medium s1.txt "$first" "whole.img:$(size_of 0)" "disk$first.img:$(size_of "$first")"
tr -d '\r' <s1.txt >s1
assert_eq "$(tbjob s1 install-exit)" 0 "the whole install ($(grep -a 'TB-JOB install:' s1 | tail -n 5))"
sed -n 's/^.*TB-JOB install: TB-STEP [0-9]* //p' s1 > steps.list
n_steps=$(wc -l <steps.list)
[ "$n_steps" -ge 10 ] && [ "$n_steps" -lt 64 ] || fail "$n_steps install steps: $(grep -a 'TB-JOB' s1 | tail -n 20)"
echo "install write steps: $n_steps" >&2
rm -f whole.img   # (that a whole install boots and unlocks is install-encrypted-disk's test)

# 2. each step: the cut disk looked at; the medium installs again over it (and cuts the next
# step on the next disk); the disk boots alone and unlocks.
matrix="step | about to | cut disk: GPT, loader | TPM failed tries | install again | booted | unlocked"
cut_serial=s1
for n in $(seq "$first" "$n_steps"); do
  what=$(sed -n "${n}p" steps.list)
  assert_eq "$(sed -n "s/.*TB-FAULT $n //p" "$cut_serial" | head -n 1)" "$what" "step $n in the guest"
  loader=no
  mdir -i "disk$n.img@@1M" ::/EFI/BOOT/BOOTX64.EFI >/dev/null 2>&1 && loader=yes
  case "$(sfdisk --disk-id "disk$n.img" 2>/dev/null | tr 'A-F' 'a-f')" in
    416c8c5a-0998-5ca1-ba14-329492260e25) gpt=installing;;
    2ceff841-4c1d-5a14-8e46-ed3aeb621093) gpt=installed;;
    *) gpt=none;;
  esac
  da=$(da_state)
  { echo "$prep"
    echo 'trustboot install --device auto --source /job/medium --no-lifecycle >/tmp/install.out 2>&1'
    echo 'echo "TB-JOB install-exit=$?"'
    echo "grep 'install.device auto' /tmp/install.out | sed 's/^/TB-JOB auto: /'"
    echo "tail -n 3 /tmp/install.out | sed 's/^/TB-JOB install: /'"
    if [ "$n" -lt "$n_steps" ]; then cut_job $((n + 1)); fi; } >job.sh
  job_disk job.iso job.sh
  if [ "$n" -lt "$n_steps" ]; then
    boot_medium "again$n.txt" $((n + 1)) "disk$n.img" "disk$((n + 1)).img:$(size_of $((n + 1)))"
  else
    boot_medium "again$n.txt" "" "disk$n.img"
  fi
  tr -d '\r' <"again$n.txt" >"again$n"
  cut_serial="again$n"
  again=$(tbjob "again$n" install-exit)
  boot_disk "disk$n.img" "boot$n.txt"
  booted=$(serial_value "boot$n.txt.clean" VERSION_ID)
  ok=$(unlocked "boot$n.txt.clean")
  matrix="$matrix
$n | $what | $gpt, $loader | $da | ${again:-none} | ${booted:-none} | $ok"
  echo "step $n: $what | $gpt, $loader | $da | ${again:-none} | ${booted:-none} | $ok" >&2
  assert_eq "$again" 0 "step $n ($what): the install run again ($(grep -a 'TB-JOB install:\|TB-JOB auto:' "again$n"))"
  contains -a 'TB-JOB auto: .*install.device auto: /dev/vda$' "again$n" || fail "step $n: auto did not pick /dev/vda: $(grep -a 'TB-JOB auto:' "again$n")"
  [ -n "$booted" ] || fail "step $n ($what): the installed disk did not boot: $(grep -a 'trustboot\|TB-' "boot$n.txt.clean" | tail -n 8)"
  [ "$ok" = yes ] || fail "step $n ($what): the volumes did not unlock: $(grep -a 'trustboot' "boot$n.txt.clean" | tail -n 8)"
  assert_eq "$(serial_value "boot$n.txt.clean" marker)" created "step $n: the persistent volume's first boot"
  rm -f "disk$n.img"
done
echo "$matrix" >&2
echo "ok: power cut before each of $n_steps install steps: the install ran again to the end, the disk booted and unlocked every time"
