#!/usr/bin/env bash
# The seed's journey on a real Debian 12 image (tests/images/debian.sh: mmdebstrap minbase +
# kernel + systemd 252 + trustboot installed from its own .deb), with the seed's commands:
#   genkey "Acme Corp" --expiration-in-days 365; build-uki IMAGE -t iso -d out -k keys (no --init:
#   the image carries trustboot), IMAGE = the image as an OCI layout; the seed's example
#   cloud-config verbatim (tests/e2e/fixtures/seed-install-config.yaml, also the demo's).
# Five VM runs, the fewest that cover every item:
#   0. setup mode: systemd-boot enrolls the keys and resets.
#   1. the medium installs to a blank disk under Secure Boot.
#   2. the disk (version 1, from the OCI layout): PID 1 is systemd, the system is running,
#      SecureBoot=1, PCR 11 = `trustboot measure calculate` for the whole boot's phase path, OEM,
#      persistent and PARTITION_TWO are LUKS2, /oem and /usr/local come from /dev/mapper, the
#      image's owners/modes/hardlinks/capabilities and /var/tmp survived the hand-over, the seed's
#      `systemd-cryptsetup attach` and `trustboot unlock-all` work; then two upgrades in a row
#      (version 2 from a dir:, version 3 from an ocifile:) fit on the default ESP, `systemctl reboot`.
#   3. version 3 runs, systemd-bless-boot blesses its entry; `bootentry --select passive`, reboot.
#   4. the passive entry (version 2) boots and unlocks; `systemctl poweroff`.
# Commands in the guest come from a TBJOB disk: the image's tb-job.service runs its job.sh once
# the boot has finished and prints "TB-JOB key=value" lines on the serial console.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
need mmdebstrap umoci skopeo dpkg-buildpackage lintian mcopy blkid
cache="${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}"
mkdir -p "$cache" || fail "cannot create the image cache $cache"

# The package and the images (cached: a second run builds nothing).
deb="$(bash "$TB_SRCDIR/scripts/build-deb.sh" --lintian "$cache/deb")" || fail "make deb failed"
img1="$(bash "$TB_SRCDIR/tests/images/debian.sh" --deb "$deb" --oci "$cache")" || fail "image v1"
img2="$(bash "$TB_SRCDIR/tests/images/debian.sh" --deb "$deb" --version-id 2 "$cache")" || fail "image v2"
img3="$(bash "$TB_SRCDIR/tests/images/debian.sh" --deb "$deb" --version-id 3 --oci "$cache")" || fail "image v3"
cd "$WORK"

# The fixture is the seed's full example, verbatim.
cat >seed.yaml <<'YAML'
install:
  device: "auto" # Install to the biggest drive
  auto: true    # Enables auto installation
  partitions:
    persistent:
      size: 500 # Set persistent partition to 500MB (otherwise takes the whole disk)
  extra-partitions:
    - name: second_partition
      size: 100
      fs: ext2
      label: PARTITION_TWO
  encrypted_partitions:
  - PARTITION_TWO
YAML
cmp -s seed.yaml "$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml" ||
  fail "tests/e2e/fixtures/seed-install-config.yaml is not the seed's example verbatim: $(diff seed.yaml "$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml" | head -n 8)"

# The journey is docs/guide.md's: its host blocks run here in its order, with the image as
# rootfs/ (v1 tree), image/ (v1 OCI layout) and rootfs-v2/; its guest blocks run in the guest
# from the job disks. Its `trustboot` is the built binary, except that a `vm` run also writes
# the serial console to sN.txt and a pid file, and `--console` (a person at the console) becomes
# the job disk the test prepared for that boot.
. "$(dirname "$0")/lib/guide.sh"
guide="$TB_SRCDIR/docs/guide.md"
ln -s "$img1/rootfs" rootfs
ln -s "$img1/oci" image
ln -s "$img2/rootfs" rootfs-v2
guide_lang_block "$guide" yaml 1 >config.yaml
cmp -s config.yaml seed.yaml || fail "docs/guide.md's cloud-config is not the seed's example: $(diff seed.yaml config.yaml | head -n 8)"
mkdir -p bin
cat >bin/trustboot <<'SH'
#!/usr/bin/env bash
[ "$1" = vm ] || exec "$TRUSTBOOT" "$@"
shift
n=$(cat "$WORK/vm.n" 2>/dev/null || echo 0); echo $((n + 1)) >"$WORK/vm.n"
args=(--timeout 900)
for a in "$@"; do
  if [ "$a" = --console ]; then args+=(--disk "$GUIDE_JOB"); else args+=("$a"); fi
done
exec "$TRUSTBOOT" vm "${args[@]}" --serial "$WORK/s$n.txt" --pid-file "$WORK/vm$n.pids"
SH
chmod +x bin/trustboot
ran=()
# guide_run NAME: one host block, as a script (-e: the first failing command fails the test).
guide_run() {
  local rc=0
  guide_block "$guide" "host:$1" >"host-$1.sh" || fail "docs/guide.md has no block host:$1"
  echo "guide: host:$1" >&2
  PATH="$WORK/bin:$PATH" WORK="$WORK" GUIDE_JOB="${GUIDE_JOB:-}" bash -euo pipefail "host-$1.sh" >"host-$1.out" 2>&1 || rc=$?
  ran+=("host:$1")
  for p in vm*.pids; do [ -e "$p" ] && assert_no_survivors "$p"; done
  [ "$rc" = 0 ] || fail "docs/guide.md host:$1 failed ($rc): $(tail -n 5 "host-$1.out")"
}
# guest_script NAME DIR: a guest block as DIR/guest-NAME.sh for the job disk.
guest_script() {
  mkdir -p "$2"
  guide_block "$guide" "guest:$1" >"$2/guest-$1.sh" || fail "docs/guide.md has no block guest:$1"
  ran+=("guest:$1")
}

guide_run keys
guide_run config
guide_run build-dir
guide_run build-image
contains -i 'warning' host-build-image.out && fail "build-uki warned on an image that carries trustboot: $(grep -i warning host-build-image.out)"
iso="$(ls build-image/*.iso)"
[ -f "$iso" ] && [ -f "$(ls build/*.iso)" ] || fail "the guide's build-uki wrote no ISO: $(cat host-build-image.out)"
guide_run build-upgrade
# The second upgrade in a row: version 3, from an image archive (ocifile:).
mkdir -p job1
"$TRUSTBOOT" -q build-uki "ocifile:$img3/image.oci.tar:v3" -o overlay -t uki -d job1/v3 -k keys >/dev/null 2>build3.err ||
  fail "build-uki v3: $(tail -n 3 build3.err)"
cp -r upgrade-v2 job1/
for g in mount unlock-all upgrade reboot; do guest_script "$g" job1; done
guest_script after-upgrade job2

# job_disk ISO DIR SCRIPT: DIR + SCRIPT as job.sh on an ISO 9660 labelled TBJOB.
job_disk() {
  mkdir -p "$2" && cp "$3" "$2/job.sh"
  xorriso -as mkisofs -quiet -o "$1" -V TBJOB -R "$2" 2>/dev/null || fail "xorriso $1"
}
# What every disk boot reports: version, PID 1, Secure Boot, PCR 11, mounts, volumes.
cat >report.sh <<'SH'
say() { echo "TB-JOB $*"; }
# guide NAME: a guest block of docs/guide.md, -e, its output on the console.
guide() { bash -e "/run/tb-job/guest-$1.sh" >"/tmp/guide-$1.out" 2>&1; say "guide-$1=$? $(tail -n 1 "/tmp/guide-$1.out")"; sed "s/^/TB-JOB guide-$1: /" "/tmp/guide-$1.out"; }
. /etc/os-release; say "VERSION_ID=$VERSION_ID"
say "pid1=$(readlink /proc/1/exe)"
say "SecureBoot=$(od -An -tu1 -j4 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -d ' ')"
say "PCR11=$(tr 'A-F' 'a-f' </sys/class/tpm/tpm0/pcr-sha256/11)"
for d in /oem /usr/local /efi; do say "mount$(echo $d | tr / _)=$(findmnt -n -o SOURCE $d)"; done
for p in /dev/vd?[0-9]*; do say "blkid $p $(blkid -p -o export "$p" | grep -E '^(TYPE|VERSION|PART_ENTRY_NAME|LABEL)=' | paste -sd' ' -)"; done
trustboot bootentry --list 2>&1 | sed 's/^/TB-JOB list: /'
mkdir -p /mnt && mount --bind /run/tb-job /mnt
SH
cat report.sh - >job1.sh <<'SH'
# The image as built, after the hand-over.
say "owned=$(stat -c '%u:%g %a' /opt/tb-fixture/owned)"
say "pair=$(stat -c '%i %h' /opt/tb-fixture/pair-a) $(stat -c '%i %h' /opt/tb-fixture/pair-b)"
say "vartmp=$(stat -c %a /var/tmp)"
say "getcap=$(getcap /usr/bin/ping)"
echo data >/usr/local/marker && sync
say "partlabel-vda3=$(blkid -p -o value -s PART_ENTRY_NAME /dev/vda3)"
# The seed's notes (after closing trustboot's mappings), then unlock-all.
guide mount
say "sd-mount=$(findmnt -n -o SOURCE /oem) $(findmnt -n -o SOURCE /usr/local) $(cat /usr/local/marker 2>&1)"
guide unlock-all
say "unlock-all=$(ls /dev/mapper | paste -sd, -)"
# Two upgrades in a row on the default ESP: the guide's (version 2), then version 3.
df -k /efi | tail -n 1 | sed 's/^/TB-JOB df-before: /'
guide upgrade
trustboot upgrade --source dir:/mnt/v3 >/tmp/up3.out 2>&1
say "upgrade3=$? $(tail -n 1 /tmp/up3.out)"
df -k /efi | tail -n 1 | sed 's/^/TB-JOB df-after: /'
touch /run/tb-job-no-poweroff
say "reboot"
umount /mnt
guide reboot
SH
cat report.sh - >job2.sh <<'SH'
say "marker=$(cat /usr/local/marker 2>&1)"
say "owned=$(stat -c '%u:%g %a' /opt/tb-fixture/owned)"
say "getcap=$(getcap /usr/bin/ping)"
say "bless-unit=$(systemctl is-active systemd-bless-boot.service) $(systemctl show -P Result systemd-bless-boot.service)"
say "bless-status=$(/usr/lib/systemd/systemd-bless-boot status 2>&1)"
guide after-upgrade
touch /run/tb-job-no-poweroff
umount /mnt
systemctl reboot
SH
cp report.sh job3.sh
echo 'umount /mnt' >>job3.sh
job_disk job1.iso job1 job1.sh
job_disk job2.iso job2 job2.sh
job_disk job3.iso job3 job3.sh

# Every block of the guide is run here, and every shell block has a tag that says where.
untagged="$(guide_untagged "$guide")"
[ -z "$untagged" ] || fail "docs/guide.md: shell blocks no test runs: $untagged"
want="$(guide_names "$guide" | sort)"
got="$(printf '%s\n' "${ran[@]}" enroll manual-keys install boot | sed 's/^\([a-z-]*\)$/host:\1/' | sort)"
assert_eq "$got" "$want" "the guide's blocks run by this test"

# tbjob FILE KEY: the value of the first "TB-JOB KEY=VALUE" line.
tbjob() { sed -n "s/^.*TB-JOB $2=//p" "$1" | sed -n 1p; }
# check_boot N: what every boot of the installed disk must show (serial sN.txt, cleaned to sN).
check_boot() {
  local n="$1" part
  tr -d '\r' <"s$n.txt" >"s$n"
  contains 'TB-JOB job=' "s$n" || fail "boot $n: the job did not run: $(grep -a 'trustboot\|TB-JOB\|Failed\|emergency\|panic' "s$n" | tail -n 15)"
  assert_eq "$(tbjob "s$n" pid1)" /usr/lib/systemd/systemd "boot $n: PID 1"
  # "running": no unit failed (no unit is allowed to: none is listed as expected).
  assert_eq "$(tbjob "s$n" system)" running "boot $n: systemctl is-system-running (failed: $(tbjob "s$n" failed-units))"
  assert_eq "$(tbjob "s$n" SecureBoot)" 1 "boot $n: SecureBoot"
  assert_eq "$(tbjob "s$n" mount_oem)" /dev/mapper/oem "boot $n: /oem"
  assert_eq "$(tbjob "s$n" mount_usr_local)" /dev/mapper/persistent "boot $n: /usr/local"
  for part in oem persistent second_partition; do
    # blkid's order of the keys is its own: check each.
    grep "TB-JOB blkid .*PART_ENTRY_NAME=$part\( \|$\)" "s$n" | grep -w 'TYPE=crypto_LUKS' | grep -qw 'VERSION=2' ||
      fail "boot $n: $part is not LUKS2: $(grep 'TB-JOB blkid' "s$n")"
  done
}
# boot_disk N JOB.iso: the installed disk with a job disk; the VM ends at the job's reboot or poweroff.
boot_disk() {
  mkdir -p empty
  vm empty --vars vars.fd --tpm-state tpm --disk disk.img --disk "$2" --memory 3G --serial "s$1.txt" --timeout 900
  assert_eq "$VM_RC" 0 "disk boot $1 (serial: $(tr -d '\r' <"s$1.txt" | grep -a 'trustboot\|TB-JOB\|Failed' | tail -n 15))"
  check_boot "$1"
}
# pcr_of UKI: PCR 11 after a whole boot (stub sections, trustboot init's enter-initrd and
# leave-initrd, systemd-pcrphase's sysinit and ready).
pcr_of() { "$TRUSTBOOT" measure calculate --uki "$1" --bank=sha256 --phase=enter-initrd:leave-initrd:sysinit:ready | sed -n 's/^11:sha256=//p'; }
export MTOOLS_SKIP_CHECK=1

# 0. setup mode: systemd-boot enrolls the keys and resets.
guide_run enroll
contains -a 'Enrolling secure boot keys' s0.txt || fail "no enrollment: $(tail -c 600 s0.txt)"
guide_run manual-keys

# 1. the medium installs under Secure Boot, with the seed's config.
guide_run install
tr -d '\r' <s1.txt >s1
contains -a 'trustboot install: .*: installed' s1 || fail "no install: $(grep -a 'trustboot\|Kernel panic' s1 | tail -n 12)"
mcopy -n -i disk.img@@1M ::/EFI/trustboot/active.efi v1.efi || fail "cannot read the installed active UKI"

# 2. version 1 from disk (the guide's console boot; its console session is job1).
GUIDE_JOB="$WORK/job1.iso" guide_run boot
check_boot 2
assert_eq "$(tbjob s2 VERSION_ID)" 1 "boot 2: version"
assert_eq "$(tbjob s2 PCR11)" "$(pcr_of v1.efi)" "boot 2: PCR 11 against measure calculate"
assert_eq "$(tbjob s2 owned)" "1234:2345 2750" "owner and mode of /opt/tb-fixture/owned"
read -r ia na ib nb <<<"$(tbjob s2 pair)"
[ -n "$ia" ] && [ "$ia" = "$ib" ] && [ "$na" = 2 ] && [ "$nb" = 2 ] || fail "the hardlinked pair is not one inode with two links: $(tbjob s2 pair)"
assert_eq "$(tbjob s2 vartmp)" 1777 "/var/tmp mode"
tbjob s2 getcap | contains 'cap_net_raw[=+]ep' || fail "ping lost its capability: $(tbjob s2 getcap)"
assert_eq "$(tbjob s2 partlabel-vda3)" persistent "the seed's /dev/vda3"
tbjob s2 guide-mount | contains '^0' || fail "the seed's systemd-cryptsetup attach/mount: $(grep 'TB-JOB guide-mount' s2 | tail -n 6)"
assert_eq "$(tbjob s2 sd-mount)" "/dev/mapper/oem /dev/mapper/persistent data" "/oem and /usr/local after systemd-cryptsetup attach"
tbjob s2 guide-unlock-all | contains '^0' || fail "trustboot unlock-all: $(grep 'TB-JOB guide-unlock-all' s2 | tail -n 6)"
tbjob s2 unlock-all | contains 'oem' || fail "unlock-all did not open oem: $(tbjob s2 unlock-all)"
tbjob s2 guide-upgrade | contains '^0' || fail "upgrade to v2: $(grep 'TB-JOB guide-upgrade\|TB-JOB df' s2 | tail -n 6)"
tbjob s2 upgrade3 | contains '^0' || fail "upgrade to v3 (second upgrade on the default ESP): $(tbjob s2 upgrade3); $(grep 'TB-JOB df' s2)"
contains 'guest reset' host-boot.out || fail "systemctl reboot did not reset the guest: $(cat host-boot.out)"
# upgrade writes each new UKI under a fresh name that only its counted entry names.
v3efi=$(mtype -i disk.img@@1M ::/loader/entries/active+3.conf | tr -d '\r' | sed -n 's/^efi //p')
[ -n "$v3efi" ] || fail "no active+3.conf with an efi line after the upgrades: $(mdir -b -i disk.img@@1M ::/loader/entries)"
mcopy -n -i disk.img@@1M "::$v3efi" v3.efi || fail "cannot read the upgraded active UKI $v3efi"
cmp -s v3.efi job1/v3/EFI/trustboot/norole.efi || fail "the active entry does not name version 3's UKI"

# 3. version 3 runs and is blessed by systemd-bless-boot; select passive.
boot_disk 3 job2.iso
assert_eq "$(tbjob s3 VERSION_ID)" 3 "boot 3: version"
assert_eq "$(tbjob s3 PCR11)" "$(pcr_of v3.efi)" "boot 3: PCR 11 against measure calculate"
assert_eq "$(tbjob s3 marker)" data "the persistent data after two upgrades"
assert_eq "$(tbjob s3 owned)" "1234:2345 2750" "owner and mode after the ocifile: build"
tbjob s3 getcap | contains 'cap_net_raw[=+]ep' || fail "ping lost its capability (ocifile:): $(tbjob s3 getcap)"
assert_eq "$(tbjob s3 bless-unit)" "active success" "systemd-bless-boot.service"
assert_eq "$(tbjob s3 bless-status)" good "systemd-bless-boot status"
contains -E 'TB-JOB list: active\.conf +good .*\[booted\]' s3 || fail "the booted entry is not blessed: $(grep 'TB-JOB list' s3)"
tbjob s3 guide-after-upgrade | contains '^0' || fail "bootentry --select passive: $(grep 'TB-JOB guide-after' s3)"
contains 'guest reset' <<<"$VM_OUT" || fail "systemctl reboot did not reset the guest: $VM_OUT"

# 4. the passive entry, the old version (2), boots and unlocks; systemctl poweroff.
boot_disk 4 job3.iso
assert_eq "$(tbjob s4 VERSION_ID)" 2 "boot 4: the passive entry's version"
contains -E 'TB-JOB list: passive.*\[booted\]' s4 || fail "boot 4 is not the passive entry: $(grep 'TB-JOB list' s4)"
contains 'TB-JOB-DONE' s4 || fail "no end of job before systemctl poweroff"
contains 'guest reset' <<<"$VM_OUT" && fail "systemctl poweroff reset the guest: $VM_OUT"
echo "ok: the guide's journey on Debian 12 + systemd 252: keys, media from dir: and oci-layout:, setup-mode enrollment, install with the seed's config, Secure Boot + PCR 11 as predicted, LUKS2 OEM/persistent/PARTITION_TWO, image metadata kept, the seed's systemd-cryptsetup attach, unlock-all, two upgrades (dir:, ocifile:), bless-boot, passive boots"
