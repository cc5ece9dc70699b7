#!/usr/bin/env bash
# A Debian 13 image (tests/images/debian.sh --release trixie: kernel 6.12 with .ko.xz modules,
# systemd 257, systemd-boot-efi 257, systemd-cryptsetup, trustboot's package built in a trixie
# chroot) through the seed's flow with the image's own stub and systemd-boot
# (`build-uki --sdboot-in-source`, AuroraBoot's flag), in the fewest VM runs:
#   0. setup mode: the medium's loader.conf says `secure-boot-enroll if-safe` (build-uki's default,
#      read from the 257 systemd-boot binary), and systemd-boot enrolls the keys by itself and
#      resets — no `force`.
#   1. the medium installs to a blank disk under Secure Boot with the seed's config verbatim.
#   2. the disk: PID 1 is systemd 257, the system is running, SecureBoot=1, the kernel's .ko.xz
#      modules were loaded by trustboot init under lockdown; PCR 11 equals
#      `trustboot measure calculate --uki` for the boot's phase path and systemd-measure 257's value
#      for the same sections; the UKI's .pcrsig policies are those systemd-measure 257 signs;
#      OEM, persistent and PARTITION_TWO are LUKS2 and unlocked; the seed's
#      `systemd-cryptsetup attach … tpm2-device=auto` opens them in 257; systemd-bless-boot
#      blesses the counted entry; `trustboot bootentry --select active@1` writes the id systemd-boot
#      published in LoaderEntries for the profile-1 entry (LoaderEntryOneShot); `systemctl reboot`.
#   3. the disk again: systemd-boot 257 boots profile 1 of the multi-profile UKI (--cmd-lines-v2,
#      profile 1 = one -c entry) once: its command line, LoaderEntrySelected, and PCR 11 = profile
#      1's prediction = systemd-measure 257's; its .pcrsig = systemd-measure 257 sign.
# Commands in the guest come from a TBJOB disk (the image's tb-job.service), as in
# real-image-lifecycle.sh; the seed's mount commands are docs/guide.md's guest:mount block.
. "$(dirname "$0")/../interop/lib/common.sh"
. "$(dirname "$0")/lib/e2e.sh"
. "$(dirname "$0")/lib/guide.sh"
need mmdebstrap dpkg-deb mcopy mtype xorriso
cache="${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}"
mkdir -p "$cache" || fail "cannot create the image cache $cache"
t0=$SECONDS

# The package built in a trixie chroot (its own directory: the bookworm .deb has the same name),
# the image and the systemd 257 oracle chroot (all cached: a second run builds nothing).
deb="$(bash "$TB_SRCDIR/scripts/build-deb.sh" --release trixie "$cache/deb-trixie")" || fail "build-deb --release trixie failed"
img="$(bash "$TB_SRCDIR/tests/images/debian.sh" --deb "$deb" --release trixie "$cache")" || fail "the Debian 13 image"
oracle="$(bash "$TB_SRCDIR/tests/images/systemd-oracle.sh" --release trixie "$cache")" || fail "the systemd 257 chroot"
echo "real-image-257: package, image and oracle ready in $((SECONDS - t0)) s" >&2
root="$img/rootfs"
grep -q '^VERSION_CODENAME=trixie' "$root/usr/lib/os-release" || fail "the image is not Debian 13: $(grep VERSION_CODENAME "$root/usr/lib/os-release")"
ls "$root"/usr/lib/modules/*/kernel/drivers/block/virtio_blk.ko.xz >/dev/null 2>&1 ||
  fail "the image's kernel modules are not .ko.xz: $(ls "$root"/usr/lib/modules/*/kernel/drivers/block/ | head -n 3)"
cd "$WORK"

# sdmagic EFI: the version its .sdmagic names, as `trustboot inspect` reads it ("systemd-boot 257.13-1~deb13u1").
# inspect says nothing on stderr about a good file (it once logged "out of memory" for every UKI).
sdmagic() {
  "$TRUSTBOOT" inspect --json "$1" >inspect.json 2>inspect.err || fail "inspect $1: $(cat inspect.err)"
  [ ! -s inspect.err ] || fail "inspect $1 printed on stderr: $(cat inspect.err)"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("stub") or "")' inspect.json
}
case "$(sdmagic "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi")" in
  *"systemd-boot 257"*) ;;
  *) fail "the image's systemd-boot is not 257: $(sdmagic "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi")" ;;
esac

# The medium: the seed's config verbatim, the image's stub and systemd-boot, build-uki's default
# enrollment mode.
mkdir -p overlay/etc/trustboot
cp "$TB_SRCDIR/tests/e2e/fixtures/seed-install-config.yaml" overlay/etc/trustboot/config.yaml
"$TRUSTBOOT" -q genkey "Acme Corp" --expiration-in-days 365 -o keys >/dev/null 2>genkey.err || fail "genkey: $(cat genkey.err)"
t=$SECONDS
"$TRUSTBOOT" build-uki "dir:$root" -o overlay -t iso -d build -k keys --sdboot-in-source --cmd-lines-v2 -c tb-e2e-profile=1 >build.out 2>&1 ||
  fail "build-uki --sdboot-in-source: $(tail -n 5 build.out)"
echo "real-image-257: build-uki in $((SECONDS - t)) s" >&2
contains -i 'warning' build.out && fail "build-uki warned: $(grep -i warning build.out)"
iso="$(ls build/*.iso)"
# The medium's ESP (its El Torito image): loader.conf says if-safe, the boot loader and the UKI's
# stub are the image's 257 ones.
mkdir -p eltorito
xorriso -osirrox on -indev "$iso" -extract_boot_images eltorito >/dev/null 2>&1 || fail "cannot extract the ISO's boot image"
espimg="$(ls eltorito/*uefi* 2>/dev/null | head -n1)"
[ -n "$espimg" ] || fail "the ISO has no UEFI boot image: $(ls eltorito)"
export MTOOLS_SKIP_CHECK=1
mtype -i "$espimg" ::/loader/loader.conf | tr -d '\r' >loader.conf || fail "no loader.conf on the medium"
grep -qx 'secure-boot-enroll if-safe' loader.conf || fail "the medium's loader.conf with systemd-boot 257: $(cat loader.conf)"
mcopy -n -i "$espimg" ::/EFI/BOOT/BOOTX64.EFI bootx64.efi && mcopy -n -i "$espimg" ::/EFI/trustboot/norole.efi norole.efi ||
  fail "the medium's ESP lacks BOOTX64.EFI or the UKI: $(mdir -/ -b -i "$espimg" ::)"
mtype -i "$espimg" ::/loader/entries/norole-profile1.conf | tr -d '\r' >profile1.conf || fail "no entry for profile 1 on the medium: $(mdir -b -i "$espimg" ::/loader/entries)"
grep -qx 'options @1' profile1.conf || fail "norole-profile1.conf does not boot profile 1: $(cat profile1.conf)"
assert_eq "$(sdmagic bootx64.efi)" "$(sdmagic "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi")" "the medium's systemd-boot"
assert_eq "$(sdmagic norole.efi)" "$(sdmagic "$root/usr/lib/systemd/boot/efi/linuxx64.efi.stub")" "the UKI's stub"

# 0. setup mode: systemd-boot 257 enrolls the keys by itself (if-safe: a VM) and resets.
vm "$iso" --setup-mode --vars vars.fd --tpm-state tpm --serial s0.txt --timeout 600
assert_eq "$VM_RC" 0 "the enrollment boot (serial: $(tr -d '\r' <s0.txt | tail -c 600))"
contains -a 'Enrolling secure boot keys' s0.txt || fail "systemd-boot did not enroll with if-safe: $(tr -d '\r' <s0.txt | tail -c 600)"
contains 'guest reset' <<<"$VM_OUT" || fail "no reset after the enrollment: $VM_OUT"

# 1. the medium installs under Secure Boot with the seed's config.
vm "$iso" --vars vars.fd --tpm-state tpm --disk disk.img:8G --memory 3G --serial s1.txt --timeout 900 --expect ': installed$'
tr -d '\r' <s1.txt >s1
assert_eq "$VM_RC" 0 "the install boot (serial: $(grep -a 'trustboot\|Kernel panic\|Access Denied' s1 | tail -n 12))"
mcopy -n -i disk.img@@1M ::/EFI/trustboot/active.efi active.efi || fail "cannot read the installed active UKI"

# 2. the disk, with a job: what the boot shows, then the seed's mount commands.
mkdir -p job
guide_block "$TB_SRCDIR/docs/guide.md" guest:mount >job/guest-mount.sh || fail "docs/guide.md has no guest:mount block"
# report.sh, on every job disk (disk_boot copies it): what each disk boot reports first — its
# PCR 11 and the entry systemd-boot says it booted. job.sh sources it (tb-job runs it with sh).
cat >report.sh <<'SH'
say() { echo "TB-JOB $*"; }
say "PCR11=$(tr 'A-F' 'a-f' </sys/class/tpm/tpm0/pcr-sha256/11)"
say "selected=$(cat /sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f | tail -c +5 | tr -d '\000')"
SH
cat >job/job.sh <<'SH'
. /run/tb-job/report.sh
say "systemd=$(systemctl --version | head -n 1)"
say "pid1=$(readlink /proc/1/exe)"
say "SecureBoot=$(od -An -tu1 -j4 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -d ' ')"
say "lockdown=$(cat /sys/kernel/security/lockdown 2>&1)"
for m in virtio_blk dm_crypt; do say "module-$m=$(cat /sys/module/$m/initstate 2>&1) $(modinfo -n $m 2>&1)"; done
say "modules-rejected=$(dmesg | grep -c -i -e 'key was rejected' -e 'module verification failed')"
for d in /oem /usr/local; do say "mount$(echo $d | tr / _)=$(findmnt -n -o SOURCE $d)"; done
for p in /dev/vd?[0-9]*; do say "blkid $p $(blkid -p -o export "$p" | grep -E '^(TYPE|VERSION|PART_ENTRY_NAME|LABEL)=' | paste -sd' ' -)"; done
say "mapper=$(ls /dev/mapper | grep -v control | sort | paste -sd, -)"
say "bless-unit=$(systemctl is-active systemd-bless-boot.service) $(systemctl show -P Result systemd-bless-boot.service)"
say "bless-status=$(/usr/lib/systemd/systemd-bless-boot status 2>&1)"
trustboot bootentry --list 2>&1 | sed 's/^/TB-JOB list: /'
echo data >/usr/local/marker && sync
# The seed's commands: close what trustboot opened, attach with systemd-cryptsetup 257 and the TPM.
bash -e /run/tb-job/guest-mount.sh >/tmp/mount.out 2>&1
say "seed-mount=$? $(tail -n 1 /tmp/mount.out)"
sed 's/^/TB-JOB seed-mount: /' /tmp/mount.out
say "sd-mount=$(findmnt -n -o SOURCE /oem) $(findmnt -n -o SOURCE /usr/local) $(cat /usr/local/marker 2>&1)"
# The next boot: profile 1 of the same UKI, once, by the id systemd-boot published.
# (efivarfs files cannot seek: cat, then tail)
say "entries=$(cat /sys/firmware/efi/efivars/LoaderEntries-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f | tail -c +5 | iconv -f UTF-16LE -t UTF-8 | tr '\000' ' ')"
say "select=$(trustboot bootentry --select active@1 2>&1)"
say "oneshot=$(cat /sys/firmware/efi/efivars/LoaderEntryOneShot-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f | tail -c +5 | tr -d '\000')"
trustboot bootentry --list 2>&1 | sed 's/^/TB-JOB next: /'
touch /run/tb-job-no-poweroff
systemctl reboot
SH
# disk_boot JOBDIR SERIAL WHAT: the installed disk boots with JOBDIR and report.sh as its job disk
# (an ISO 9660 labelled TBJOB, JOBDIR.iso); SERIAL.txt is the console, SERIAL the same without CRs.
disk_boot() {
  local jobdir="$1" ser="$2" what="$3"
  cp report.sh "$jobdir/"
  xorriso -as mkisofs -quiet -o "$jobdir.iso" -V TBJOB -R "$jobdir" 2>/dev/null || fail "xorriso $jobdir.iso"
  mkdir -p empty
  vm empty --vars vars.fd --tpm-state tpm --disk disk.img --disk "$jobdir.iso" --memory 3G --serial "$ser.txt" --timeout 900
  tr -d '\r' <"$ser.txt" >"$ser"
  assert_eq "$VM_RC" 0 "$what (serial: $(grep -a 'trustboot\|TB-JOB\|Failed' "$ser" | tail -n 15))"
}
disk_boot job s2 "the disk boot"
# tbjob KEY: the value of the first "TB-JOB KEY=VALUE" line of this boot's console ($ser).
ser=s2
tbjob() { sed -n "s/^.*TB-JOB $1=//p" "$ser" | sed -n 1p; }
contains 'TB-JOB select=' s2 || fail "the job did not finish: $(grep -a 'trustboot\|TB-JOB\|Failed\|emergency\|panic' s2 | tail -n 15)"
contains 'guest reset' <<<"$VM_OUT" || fail "systemctl reboot did not reset the guest: $VM_OUT"
tbjob systemd | contains '^systemd 257 ' || fail "not systemd 257: $(tbjob systemd)"
assert_eq "$(tbjob pid1)" /usr/lib/systemd/systemd "PID 1"
assert_eq "$(tbjob system)" running "systemctl is-system-running (failed: $(tbjob failed-units))"
assert_eq "$(tbjob SecureBoot)" 1 "SecureBoot"
# Modules: trustboot init loaded the .ko.xz ones it needed (the disk's virtio_blk, dm_crypt) under
# Secure Boot's lockdown, and the kernel rejected none.
tbjob lockdown | contains '\[integrity\]\|\[confidentiality\]' || fail "the kernel is not locked down under Secure Boot: $(tbjob lockdown)"
for m in virtio_blk dm_crypt; do
  tbjob "module-$m" | contains '^live .*\.ko\.xz$' || fail "module $m: $(tbjob "module-$m")"
done
assert_eq "$(tbjob modules-rejected)" 0 "modules the kernel rejected"
grep -a 'kernel modules: [0-9]* loaded' s2 | head -n 1 | contains 'kernel modules: [1-9][0-9]* loaded' ||
  fail "trustboot init's module loading: $(grep -a 'kernel modules:' s2 | head -n 2)"
# A module may find no hardware it drives (aesni_intel for crypto-aes on TCG's CPU without AES-NI:
# "No such device"); none may fail for another reason (a rejected key, a bad format).
grep -a 'trustboot init: .*module .*: cannot load: ' s2 | grep -v ': No such device$' | contains . &&
  fail "trustboot init could not load a module: $(grep -a 'trustboot init: .*module .*: cannot load' s2 | head -n 3)"
# The volumes.
assert_eq "$(tbjob mount_oem)" /dev/mapper/oem "/oem"
assert_eq "$(tbjob mount_usr_local)" /dev/mapper/persistent "/usr/local"
for part in oem persistent second_partition; do
  line="$(grep "TB-JOB blkid .*PART_ENTRY_NAME=$part\( \|$\)" s2)"
  contains ' TYPE=crypto_LUKS\( \|$\)' <<<"$line" && contains ' VERSION=2\( \|$\)' <<<"$line" ||
    fail "$part is not LUKS2: $(grep 'TB-JOB blkid' s2)"
done
tbjob mapper | contains 'oem' && tbjob mapper | contains 'persistent' || fail "volumes not unlocked: $(tbjob mapper)"
# The seed's systemd-cryptsetup attach with tpm2-device=auto, in systemd 257.
tbjob seed-mount | contains '^0' || fail "the seed's systemd-cryptsetup attach/mount: $(grep 'TB-JOB seed-mount' s2 | tail -n 8)"
assert_eq "$(tbjob sd-mount)" "/dev/mapper/oem /dev/mapper/persistent data" "/oem and /usr/local after systemd-cryptsetup attach"
# Boot counting: the installed entry is active+3.conf; systemd-bless-boot 257 marks it good.
assert_eq "$(tbjob bless-unit)" "active success" "systemd-bless-boot.service"
assert_eq "$(tbjob bless-status)" good "systemd-bless-boot status"
contains -E 'TB-JOB list: active\.conf +good .*\[booted\]' s2 || fail "the booted entry is not blessed: $(grep 'TB-JOB list' s2)"

# PCR 11: the guest's value = trustboot's prediction = systemd-measure 257's, for the path the boot
# took (the stub's sections, trustboot init's enter-initrd and leave-initrd, systemd 257's
# systemd-pcrphase sysinit and ready).
phases=enter-initrd:leave-initrd:sysinit:ready
otmp="$(mktemp -d "$oracle/tmp/tb-257.XXXXXX")"
on_exit "rm -rf '$otmp'"
cp active.efi "$otmp/uki.efi"
cp keys/tpm2-pcr-private.pem "$otmp/key.pem"
# The sections the 257 stub measures for each profile, as systemd-measure arguments, and each
# profile's .pcrsig: pefile in the oracle chroot.
chroot "$oracle" python3 - "${otmp#"$oracle"}" uki.efi <"$TB_SRCDIR/tests/interop/lib/uki-profiles.py" ||
  fail "cannot read the UKI's sections in the oracle chroot"
[ -f "$otmp/p1.args" ] || fail "the installed UKI has no profile 1"
# check_pcr N GUEST_VALUE: profile N's prediction by trustboot and by systemd-measure 257 equal the
# guest's PCR 11; its .pcrsig is what systemd-measure 257 signs for those sections (default phases,
# as build-uki signs them).
check_pcr() {
  local n="$1" guest="$2" predicted oracle_pcr sargs
  predicted="$("$TRUSTBOOT" measure calculate --uki active.efi --profile "$n" --bank=sha256 --phase=$phases | sed -n 's/^11:sha256=//p')"
  [ -n "$predicted" ] || fail "profile $n: measure calculate --uki printed no sha256 value"
  assert_eq "$guest" "$predicted" "profile $n: the guest's PCR 11 against trustboot measure calculate"
  mapfile -t sargs <"$otmp/p$n.args"
  grep -q -- '--uname=' "$otmp/p$n.args" && grep -q -- '--sbat=' "$otmp/p$n.args" || fail "profile $n: no .uname or .sbat: $(cat "$otmp/p$n.args")"
  oracle_pcr="$(chroot "$oracle" /usr/lib/systemd/systemd-measure calculate "${sargs[@]}" --bank=sha256 --phase=$phases | sed -n 's/^11:sha256=//p')"
  assert_eq "$oracle_pcr" "$predicted" "profile $n: systemd-measure 257 against trustboot measure calculate"
  chroot "$oracle" /usr/lib/systemd/systemd-measure sign "${sargs[@]}" --bank=sha256 --private-key="${otmp#"$oracle"}/key.pem" \
    --json=short >"$otmp/p$n.oracle-sig" 2>"$otmp/p$n.oracle-err" || fail "profile $n: systemd-measure 257 sign: $(cat "$otmp/p$n.oracle-err")"
  python3 -m json.tool --sort-keys "$otmp/p$n.pcrsig" >"p$n-pcrsig.json" && python3 -m json.tool --sort-keys "$otmp/p$n.oracle-sig" >"p$n-oracle.json" ||
    fail "profile $n: a .pcrsig is not JSON"
  cmp -s "p$n-pcrsig.json" "p$n-oracle.json" || fail "profile $n: the .pcrsig is not what systemd-measure 257 signs: $(diff "p$n-pcrsig.json" "p$n-oracle.json" | head -n 8)"
}
check_pcr 0 "$(tbjob PCR11)"
# The one-shot: `bootentry --select active@1` wrote the id systemd-boot 257 published for the
# profile-1 entry (counted, active-profile1+3.conf: 257.13 names it without the counter), and --list
# marks that entry [next].
profile1_file="$(sed -n 's/^TB-JOB list: \(active-profile1[^ ]*\.conf\) .*/\1/p' s2 | head -n 1)"
[ -n "$profile1_file" ] || fail "no active-profile1 entry on the installed ESP: $(grep 'TB-JOB list' s2)"
tbjob entries | tr ' ' '\n' | grep -qx "$(tbjob select)" ||
  fail "bootentry --select wrote \"$(tbjob select)\", not an id systemd-boot published: $(tbjob entries)"
assert_eq "$(tbjob oneshot)" "$(tbjob select)" "LoaderEntryOneShot after bootentry --select"
selected_id="$(tbjob select)"
grep "TB-JOB next: $profile1_file " s2 | contains '\[next\]' || fail "bootentry --list does not mark the profile-1 entry next: $(grep 'TB-JOB next' s2)"

# 3. the disk again: systemd-boot 257 takes the one-shot and boots profile 1 of the UKI (its
# .cmdline: tb-e2e-profile=1); PCR 11 equals profile 1's prediction.
mkdir -p job3
cat >job3/job.sh <<'SH'
. /run/tb-job/report.sh
say "cmdline=$(cat /proc/cmdline)"
say "oneshot-left=$(ls /sys/firmware/efi/efivars/ | grep -c '^LoaderEntryOneShot-')"
SH
disk_boot job3 s3 "the profile-1 boot"
ser=s3
contains 'TB-JOB-DONE' s3 || fail "the profile-1 boot's job did not finish: $(grep -a 'trustboot\|TB-JOB\|Failed\|emergency\|panic' s3 | tail -n 15)"
assert_eq "$(tbjob selected)" "$selected_id" "LoaderEntrySelected on the one-shot boot"
tbjob cmdline | grep -qw 'tb-e2e-profile=1' || fail "profile 1's command line was not booted: $(tbjob cmdline)"
assert_eq "$(tbjob oneshot-left)" 0 "LoaderEntryOneShot left after the boot (systemd-boot removes it)"
assert_eq "$(tbjob system)" running "systemctl is-system-running on profile 1"
check_pcr 1 "$(tbjob PCR11)"
echo "ok: Debian 13 (kernel 6.12 .ko.xz, systemd 257) with its own stub and systemd-boot: if-safe enrollment in setup mode, install with the seed's config, Secure Boot with the modules loaded under lockdown, PCR 11 = trustboot = systemd-measure 257, .pcrsig = systemd-measure 257 sign (profiles 0 and 1 of the multi-profile UKI), profile 1 booted through LoaderEntryOneShot, LUKS2 volumes unlocked, the seed's systemd-cryptsetup attach in 257, systemd-bless-boot blessed; $((SECONDS - t0)) s"
