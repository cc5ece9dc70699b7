#!/usr/bin/env bash
# A chroot of a newer Debian release whose systemd tools serve as oracles (systemd-measure, ukify,
# the stub and systemd-boot of that generation), and prints its directory:
#
#   tests/images/systemd-oracle.sh [--release SUITE] [CACHE]
#
# SUITE defaults to trixie (systemd 257). The binaries need the release's own libraries, so tests
# run them with `chroot DIR …` and keep their files under DIR/tmp. CACHE (default
# ${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}) lives outside the clone; the chroot is keyed
# by this script, the suite, the mirror and the ISO week (packages of another release are not
# known to the host's apt), so CI's next run in the same week builds nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
release=trixie
if [ "${1:-}" = --release ]; then release="$2"; shift 2; fi
[ $# -le 1 ] || { echo "usage: $0 [--release SUITE] [CACHE]" >&2; exit 2; }
cache="${1:-${TRUSTBOOT_TEST_CACHE:-/var/cache/trustboot-test}}"
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
command -v mmdebstrap >/dev/null || { echo "systemd-oracle: mmdebstrap is not installed (make deps)" >&2; exit 1; }

mirror="$(bash "$top/scripts/apt-mirror.sh" --line "$release" main 2>/dev/null)"
# systemd-measure (in systemd), ukify, the stub and systemd-boot; tpm2-tools pulls the tss2
# libraries systemd dlopen()s to compute policies; the swtpm TCTI for a test's private TPM.
pkgs=(systemd systemd-ukify systemd-boot-efi systemd-cryptsetup tpm2-tools libtss2-tcti-swtpm0 openssl binutils)
key="$( { cat "$0"; echo "$release $mirror $(date -u +%G-%V)"; } | sha256sum | cut -c1-16)"
out="$cache/systemd-oracle-$release-$key"
if [ -f "$out/.complete" ]; then echo "$out/root"; exit 0; fi

echo "systemd-oracle: bootstrapping $release with ${pkgs[*]} (a few minutes)" >&2
tmp="$(mktemp -d "$cache/.oracle.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mmdebstrap --quiet --variant=minbase --include="$(IFS=,; echo "${pkgs[*]}")" \
  "$release" "$tmp/root" "$mirror" >"$tmp/log" 2>&1 ||
  { tail -n 20 "$tmp/log" >&2; echo "systemd-oracle: mmdebstrap $release failed" >&2; exit 1; }
chroot "$tmp/root" /usr/lib/systemd/systemd-measure --version | head -n1 >"$tmp/version"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
touch "$out/.complete"
echo "systemd-oracle: $(cat "$out/version")" >&2
echo "$out/root"
