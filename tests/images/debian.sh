#!/usr/bin/env bash
# Builds a real Debian image, as a user of trustboot would, and prints the directory holding it:
#
#   tests/images/debian.sh --deb TRUSTBOOT.deb [--version-id V] [--oci] [--release SUITE] [CACHE]
#
# SUITE: bookworm (Debian 12: kernel 6.1, systemd 252) or trixie (Debian 13: kernel 6.12 with
# .ko.xz modules, systemd 257 with systemd-boot-efi and systemd-cryptsetup). The .deb must be
# built for SUITE (scripts/build-deb.sh --release SUITE), so that its library dependencies are
# that release's.
#
#   DIR/rootfs/        the image: mmdebstrap minbase of SUITE (default: the host's release) + a
#                      kernel, systemd as /sbin/init, udev, kmod, cryptsetup, the tools the seed's
#                      flow uses, and trustboot installed in a chroot with `apt-get install ./*.deb`
#                      (so `trustboot build-uki dir:DIR/rootfs` makes it /init). VERSION_ID in
#                      /usr/lib/os-release is V (default 1): versions 2, 3 … for upgrades.
#   DIR/oci/           with --oci: the same tree as an OCI image layout (umoci), tag "v$V"
#                      (`oci-layout:DIR/oci:vV`), and DIR/image.oci.tar, skopeo's oci-archive of
#                      it (`ocifile:DIR/image.oci.tar:vV`)
#   DIR/versions       the package versions it was made from
#
# Test fixtures in the image, for the acceptance checks after the hand-over:
#   /opt/tb-fixture/owned      a file owned 1234:2345, mode 2750
#   /opt/tb-fixture/pair-a,-b  one inode, two names
#   /usr/bin/ping              with the cap_net_raw capability Debian's iputils-ping sets
#   tb-job.service             runs job.sh from a disk labelled TBJOB once the boot is finished
#                              (is-system-running no longer "starting"), its output on the console
#                              (the e2e tests' way to run commands in the booted system); without
#                              such a disk it does nothing
#
# CACHE (default ${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}) lives outside the clone. Two
# levels: the bootstrap (debian-base-KEY: this script, the suite, the mirror, the candidate
# versions of the packages) and the image (debian-KEY-vV: the base, the .deb's hash, V, --oci), so
# a second run with the same inputs builds nothing and a new .deb only reinstalls it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
deb="" version=1 oci=no release=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="$2"; shift 2 ;;
    --version-id) version="$2"; shift 2 ;;
    --oci) oci=yes; shift ;;
    --release) release="$2"; shift 2 ;;
    -*) echo "usage: $0 --deb FILE [--version-id V] [--oci] [--release SUITE] [CACHE]" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -le 1 ] || { echo "usage: $0 --deb FILE [--version-id V] [--oci] [--release SUITE] [CACHE]" >&2; exit 2; }
[ -f "$deb" ] || { echo "debian-image: --deb: ${deb:-(none)}: not a file (make deb builds it)" >&2; exit 2; }
[[ "$version" =~ ^[A-Za-z0-9._~+-]+$ ]] || { echo "debian-image: --version-id $version: not a VERSION_ID" >&2; exit 2; }
cache="${1:-${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
log() { echo "debian-image: $*" >&2; }
for t in mmdebstrap dpkg-deb unshare; do
  command -v "$t" >/dev/null || { echo "debian-image: $t is not installed (make deps)" >&2; exit 1; }
done

host_release="$( . /etc/os-release && echo "${VERSION_CODENAME:-}" )"
[ -n "$release" ] || release="$host_release"
mirror="$(bash "$top/scripts/apt-mirror.sh" --line "$release" main 2>/dev/null)"

# What the image holds: the issue's list, what the seed's flow runs in the booted system
# (ip, mount, ps, getcap, ping, blkid), systemd-boot for systemd-bless-boot, and trustboot's own
# dependencies (from the .deb: they are installed in the bootstrap, so installing the .deb later
# needs no download).
pkgs=(linux-image-amd64 systemd systemd-sysv systemd-boot udev kmod cryptsetup-bin e2fsprogs dosfstools
      iproute2 util-linux procps libcap2-bin iputils-ping)
# Since systemd 256 (trixie) systemd-cryptsetup (the seed's `attach … tpm2-device=auto`) is a
# package of its own, and systemd-boot depends on "systemd-boot-efi-signed | systemd-boot-efi":
# name the unsigned EFI binaries, the ones build-uki --sdboot-in-source signs with the user's db
# key. (Bookworm's list stays as it was: its systemd-boot pulls systemd-boot-efi, and a changed
# list would change the cached Debian 12 bootstrap's key.)
case "$release" in
  bookworm) ;;
  *) pkgs+=(systemd-boot-efi systemd-cryptsetup) ;;
esac
mapfile -t tbdeps < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | sed '/^$/d' | sort -u)

# The candidate versions (the host's apt knows its own release; another release is keyed by the week).
if [ "$release" = "$host_release" ]; then
  versions="$(apt-cache policy "${pkgs[@]}" "${tbdeps[@]}" 2>/dev/null | awk '/^[^ ]/ {p=$1} /Candidate:/ {print p, $2}')"
  kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  versions="$versions
$(apt-cache policy "$kpkg" 2>/dev/null | awk -v p="$kpkg" '/Candidate:/ {print p, $2}')"
else
  versions="$release week $(date -u +%G-%V)"
fi
base_key="$( { sed -n '/^# --- base ---$/,/^# --- end base ---$/p' "$0"; echo "$release $mirror"; echo "$versions"; printf '%s\n' "${tbdeps[@]}"; } | sha256sum | cut -c1-16)"
base="$cache/debian-base-$base_key"
deb_hash="$(sha256sum <"$deb" | cut -c1-64)"
key="$( { echo "$base_key $deb_hash $oci"; cat "$0" "$here/tb-job.service" "$here/tb-job"; } | sha256sum | cut -c1-16)"
out="$cache/debian-$key-v$version"
if [ -f "$out/.complete" ]; then touch "$out/.complete"; echo "$out"; exit 0; fi

# One build of a key at a time (tests and people may run this concurrently): the second waits.
exec 8>"$base.lock"
flock 8
# --- base ---
if [ ! -f "$base/.complete" ]; then
  log "bootstrapping $release (mmdebstrap minbase, $mirror; a few minutes)"
  rm -rf "$base" && mkdir -p "$base"
  t0=$SECONDS
  # A fixed machine-id: with "uninitialized" every boot of the (RAM) root is a first boot, and
  # systemd-firstboot would ask for a locale on the console. A real image would set its own.
  mmdebstrap --variant=minbase --include="$(IFS=,; echo "${pkgs[*]},${tbdeps[*]}")" \
    --customize-hook='echo 5f7a1c2e9b3d4a6f8e0c1b2a3d4e5f60 > "$1/etc/machine-id"' \
    --customize-hook='rm -f "$1"/boot/initrd.img-*' \
    "$release" "$base/rootfs" "$mirror" >"$base.log" 2>&1 ||
    { tail -n 30 "$base.log" >&2; echo "debian-image: mmdebstrap failed (log above, $base.log)" >&2; exit 1; }
  dpkg-query --admindir="$base/rootfs/var/lib/dpkg" -W -f='${Package} ${Version}\n' >"$base/packages"
  touch "$base/.complete"
  log "bootstrapped in $((SECONDS - t0)) s: $(du -sh "$base/rootfs" | cut -f1), $(wc -l <"$base/packages") packages"
fi
# --- end base ---

flock -u 8
exec 7>"$out.lock"
flock 7
if [ -f "$out/.complete" ]; then touch "$out/.complete"; echo "$out"; exit 0; fi
tmp="$(mktemp -d "$cache/.image.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
r="$tmp/out/rootfs"
mkdir -p "$tmp/out"
log "image v$version: base + $(basename "$deb")"
cp -a "$base/rootfs" "$r"

# trustboot from its package, in a chroot, as a user does in an image's build. A private mount
# namespace: /proc and /dev of the chroot go away with it, whatever happens.
mkdir -p "$r/tmp/tbdeb"
cp "$deb" "$r/tmp/tbdeb/"
unshare --mount --fork sh -c '
  set -e
  mount -t proc proc "$1/proc"; mount --rbind /dev "$1/dev"; mount -t sysfs sys "$1/sys"
  chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ./tmp/tbdeb/'"$(basename "$deb")"'
' sh "$r" >"$tmp/apt.log" 2>&1 || { tail -n 20 "$tmp/apt.log" >&2; echo "debian-image: apt-get install ./$(basename "$deb") failed in the chroot" >&2; exit 1; }
rm -rf "$r/tmp/tbdeb"
chroot "$r" trustboot --version >/dev/null || { echo "debian-image: trustboot does not run in the image" >&2; exit 1; }

# The image's version.
sed -i "s/^VERSION_ID=.*/VERSION_ID=\"$version\"/" "$r/usr/lib/os-release"
grep -q '^VERSION_ID=' "$r/usr/lib/os-release" || echo "VERSION_ID=\"$version\"" >>"$r/usr/lib/os-release"

# Fixtures.
mkdir -p "$r/opt/tb-fixture"
echo owned >"$r/opt/tb-fixture/owned"
chown 1234:2345 "$r/opt/tb-fixture/owned"
chmod 2750 "$r/opt/tb-fixture/owned"
echo pair >"$r/opt/tb-fixture/pair-a"
ln "$r/opt/tb-fixture/pair-a" "$r/opt/tb-fixture/pair-b"
# Debian 12's iputils-ping sets cap_net_raw on ping; Debian 13's sets none (ping uses ICMP
# datagram sockets), so there the fixture sets it, as an image's build may.
if [ "$release" != bookworm ] && ! getcap "$r/usr/bin/ping" | grep -q cap_net_raw; then
  setcap cap_net_raw+ep "$r/usr/bin/ping"
fi
getcap "$r/usr/bin/ping" | grep -q cap_net_raw || { echo "debian-image: /usr/bin/ping has no capability in the image" >&2; exit 1; }
[ "$(stat -c %a "$r/var/tmp")" = 1777 ] || { echo "debian-image: /var/tmp is not 1777 in the image" >&2; exit 1; }

# The test job runner.
install -m 0755 "$here/tb-job" "$r/usr/sbin/tb-job"
install -m 0644 "$here/tb-job.service" "$r/etc/systemd/system/tb-job.service"
ln -sf /etc/systemd/system/tb-job.service "$r/etc/systemd/system/multi-user.target.wants/tb-job.service"

{ echo "release $release"; echo "mirror $mirror"; echo "trustboot.deb $deb_hash"; cat "$base/packages"; } >"$tmp/out/versions"

if [ "$oci" = yes ]; then
  command -v umoci >/dev/null && command -v skopeo >/dev/null || { echo "debian-image: --oci needs umoci and skopeo" >&2; exit 1; }
  log "image v$version: OCI layout (umoci) and oci-archive (skopeo)"
  umoci init --layout "$tmp/out/oci" >/dev/null
  umoci new --image "$tmp/out/oci:v$version" >/dev/null
  umoci insert --image "$tmp/out/oci:v$version" "$r" / >/dev/null
  skopeo copy --quiet "oci:$tmp/out/oci:v$version" "oci-archive:$tmp/out/image.oci.tar:v$version"
fi
touch "$tmp/out/.complete"
rm -rf "$out"
mv -T "$tmp/out" "$out"

# Keep the six most recently used images and the two newest bootstraps.
ls -1dt "$cache"/debian-base-*/ 2>/dev/null | tail -n +3 | while read -r d; do rm -rf "$d" "${d%/}.log" "${d%/}.lock"; done
ls -1dt "$cache"/debian-*-v*/.complete 2>/dev/null | tail -n +7 | while read -r f; do rm -rf "$(dirname "$f")" "$(dirname "$f").lock"; done
log "built $out ($(du -sh "$out/rootfs" | cut -f1))"
echo "$out"
