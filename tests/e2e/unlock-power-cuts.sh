#!/usr/bin/env bash
# Power cuts must not lock the TPM out (issue 17). An installed, encrypted node (the seed's
# example config: OEM, persistent and PARTITION_TWO sealed) is booted five times in a row and its
# power cut each time (QEMU SIGKILL: no TPM2_Shutdown) right after trustboot init unlocked the
# volumes; the sixth boot must unlock them all. Every cut is an unorderly TPM shutdown; had the boot
# made a dictionary-attack protected authorization (a load under systemd's legacy primary key,
# which has no noDA), the TPM would count it as a failed try at the next startup and swtpm
# (maxTries 3) would refuse to unlock from the third or fourth boot on — what the code before the
# SRK token did (docs/notes/security.md). The SRK token (noDA parent, policy without auth value)
# keeps the boot path out of DA protection.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need openssl

e2e_rootfs --trustboot
cd "$WORK"
seed_medium

# 1. enroll the keys, then the medium installs and powers off (an orderly shutdown).
install_node out/medium.iso 300 900

# 2. five boots from the disk, each cut right after the unlock.
mkdir -p empty
cut_after_unlock() { # SERIAL
  local vmpid qemu=""
  rm -f "$1"
  ( vm empty --vars vars.fd --tpm-state tpm --disk disk.img --serial "$1" --timeout 900 ) &
  vmpid=$!
  for _ in $(seq 1 900); do
    if [ -e "$1" ] && tr -d '\r' <"$1" | contains -a -E 'trustboot init: unlock: [0-9]+ volumes in'; then
      qemu=$(awk '$1 == "qemu" {print $2}' "$WORK/vm.pids" 2>/dev/null)
      break
    fi
    kill -0 "$vmpid" 2>/dev/null || break
    sleep 1
  done
  [ -n "$qemu" ] || { wait "$vmpid" || true; fail "power cut $1: no unlock: $(tr -d '\r' <"$1" | grep -a trustboot | tail -n 6)"; }
  kill -KILL "$qemu"
  wait "$vmpid" || true
  tr -d '\r' <"$1" | contains -a 'NOT unlocked' && fail "power cut $1: a volume did not unlock: $(tr -d '\r' <"$1" | grep -a trustboot | tail -n 6)"
  return 0
}
for i in 1 2 3 4 5; do
  cut_after_unlock "cut$i.txt"
done

# 3. the sixth boot unlocks everything and runs to its end.
vm empty --vars vars.fd --tpm-state tpm --disk disk.img --serial s2.txt --expect "^$MARKER\$" --timeout 900
assert_eq "$VM_RC" 0 "boot after five power cuts (serial: $(tail -c 600 s2.txt))"
tr -d '\r' <s2.txt >s2
for v in oem persistent second_partition; do
  contains "unlocked by the TPM as /dev/mapper/$v" s2 || fail "$v not unlocked after five power cuts: $(grep -a trustboot s2 | tail -n 8)"
done
assert_eq "$(serial_value s2 mount_usr_local)" /dev/mapper/persistent "persistent mount after five power cuts"
echo "ok: five power cuts in a row right after the unlock, and the node still unlocks"
