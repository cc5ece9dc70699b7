#!/usr/bin/env bash
# Builds the Debian package of this source tree (debian/: debhelper, Meson) and prints its path:
#
#   scripts/build-deb.sh [--release SUITE] [--lintian] OUTDIR
#
# OUTDIR receives trustboot_VERSION_ARCH.deb (and the .buildinfo/.changes). Without --release, or
# with the host's own release, dpkg-buildpackage runs on the host, so the package links against the
# host's libraries: right for an image of the same release (bookworm here). With another SUITE it
# builds inside an mmdebstrap chroot of that release (buildd variant + the Build-Depends, kept in
# OUTDIR/.buildd-SUITE-KEY for the next build), on the mirror of the system's apt sources, so
# ${shlibs:Depends} names that release's libraries. --lintian checks the result and fails on any warning or error.
#
# A second run on unchanged sources (meson files, src/, docs/, debian/; same SUITE) prints the
# path again without building: OUTDIR/.stamp-SUITE holds the hash of those files.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
release="" lintian=no
while [ $# -gt 1 ]; do
  case "$1" in
    --release) release="$2"; shift 2 ;;
    --lintian) lintian=yes; shift ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--release SUITE] [--lintian] OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out="$(cd "$1" && pwd)"
log() { echo "build-deb: $*" >&2; }

host_release="$( . /etc/os-release && echo "${VERSION_CODENAME:-}" )"
[ -n "$release" ] || release="$host_release"

# The package version is the project's: debian/changelog must say the same as meson.build.
mver="$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$top/meson.build" | head -n1)"
dver="$(sed -n '1s/^trustboot (\([^)]*\)).*/\1/p' "$top/debian/changelog")"
[ "$mver" = "$dver" ] || { echo "build-deb: debian/changelog says $dver, meson.build says $mver: add a changelog entry" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
deb="$out/trustboot_${dver}_${arch}.deb"

# What the package is built from (the program, its man pages, debian/; not the tests, which the
# package build leaves out): git's view (tracked + new, not ignored) when there is one.
parts=(meson.build meson_options.txt src 'docs/*.1' debian)
files() {
  if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" ls-files -co --exclude-standard -z -- "${parts[@]}" |
      while IFS= read -r -d '' f; do [ -e "$top/$f" ] && printf '%s\0' "$f"; done
  else
    (cd "$top" && find meson.build meson_options.txt src debian -type f -print0 && find docs -maxdepth 1 -name '*.1' -print0)
  fi
}
srchash="$( { echo "$release"; cd "$top" && files | LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-64)"
stamp="$out/.stamp-$release"
if [ -f "$deb" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$srchash" ]; then echo "$deb"; exit 0; fi
rm -f "$stamp"

work="$(mktemp -d "$out/.work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
src="$work/trustboot-$dver"
mkdir -p "$src"
(cd "$top" && files | tar --null -T - -cf -) | tar -xf - -C "$src"

if [ "$release" = "$host_release" ]; then
  log "dpkg-buildpackage on the host ($release)"
  (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
    { tail -n 40 "$work/build.log" >&2; echo "build-deb: dpkg-buildpackage failed (log above)" >&2; exit 1; }
else
  command -v mmdebstrap >/dev/null || { echo "build-deb: mmdebstrap is not installed (make deps)" >&2; exit 1; }
  # Build-Depends as package names (first of each alternative, versions dropped); debhelper-compat
  # is provided by debhelper.
  bdeps="$(awk '/^Build-Depends:/ {on = 1; sub(/^Build-Depends:/, "")} on && /^[A-Za-z-]+:/ && !/^Build-Depends/ {on = 0}
      on {printf "%s ", $0}' "$top/debian/control" | tr ',' '\n' |
    sed 's/|.*//; s/(.*)//; s/\[.*\]//; s/ //g' | grep -v -e '^$' -e '^debhelper-compat$' | paste -sd, -)"
  bdeps="$bdeps,debhelper"
  mirror="$(bash "$top/scripts/apt-mirror.sh" --line "$release")"
  # The chroot (buildd variant + the Build-Depends) is made once and kept in OUTDIR as
  # .buildd-SUITE-KEY, KEY = the suite, the mirror, the Build-Depends and the ISO week (the host's
  # apt does not know another release's versions), so a changed source costs the build (~2 min),
  # not the bootstrap (~7 min). One build per chroot at a time (flock), always in
  # /build/trustboot-VERSION (same path, same bytes), in a private mount namespace.
  bkey="$(echo "$release $mirror $bdeps $(date -u +%G-%V)" | sha256sum | cut -c1-16)"
  broot="$out/.buildd-$release-$bkey"
  exec 8>"$out/.buildd-$release.lock"
  flock 8
  if [ ! -f "$broot/.complete" ]; then
    for old in "$out/.buildd-$release-"*; do [ -d "$old" ] && rm -rf "$old"; done
    log "bootstrapping a $release build chroot (mmdebstrap buildd + $bdeps)"
    mmdebstrap --quiet --variant=buildd --include="$bdeps" "$release" "$broot.tmp" "$mirror" >"$work/mmdebstrap.log" 2>&1 ||
      { rm -rf "$broot.tmp"; tail -n 40 "$work/mmdebstrap.log" >&2; echo "build-deb: mmdebstrap $release failed (log above)" >&2; exit 1; }
    mv "$broot.tmp" "$broot"
    touch "$broot/.complete"
  fi
  rm -rf "$broot/build" && mkdir -p "$broot/build"
  cp -a "$src" "$broot/build/"
  log "dpkg-buildpackage in the $release chroot ($(basename "$broot"))"
  # The caller's TMPDIR (the e2e tests export their work directory) does not exist in the chroot:
  # dpkg-deb would fail to make its temporary files there.
  unshare --mount --fork sh -c '
    set -e
    mount -t proc proc "$1/proc"; mount --rbind /dev "$1/dev"
    chroot "$1" env -u TMPDIR -u TMP -u TEMP sh -c "cd /build/$2 && DEB_BUILD_OPTIONS=parallel=$3 dpkg-buildpackage -b -us -uc"
  ' sh "$broot" "trustboot-$dver" "$(nproc)" >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; rm -rf "$broot/build"; echo "build-deb: the $release chroot build failed (log above)" >&2; exit 1; }
  mv "$broot/build"/*.deb "$broot/build"/*.buildinfo "$broot/build"/*.changes "$work/" 2>/dev/null || true
  rm -rf "$broot/build"
  flock -u 8
fi
built="$work/trustboot_${dver}_${arch}.deb"
[ -f "$built" ] || { echo "build-deb: no $(basename "$built") was built" >&2; exit 1; }

if [ "$lintian" = yes ]; then
  command -v lintian >/dev/null || { echo "build-deb: lintian is not installed (make deps)" >&2; exit 1; }
  lintian --fail-on error,warning --info --display-info "$built" >&2 ||
    { echo "build-deb: lintian found problems in $(basename "$built") (above)" >&2; exit 1; }
fi
for f in "$work"/trustboot_"${dver}"_*; do mv -f "$f" "$out/"; done
echo "$srchash" >"$stamp"
log "built $deb ($(du -h "$deb" | cut -f1))"
echo "$deb"
