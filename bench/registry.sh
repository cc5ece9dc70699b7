#!/usr/bin/env bash
# Benchmark: build-uki straight from a registry (trustboot pulls and unpacks while downloading)
# against the two-step peer: `skopeo copy docker://… oci:DIR` then build-uki oci-layout:DIR.
# Both from a private docker-registry on loopback (plain HTTP), same keys, same
# SOURCE_DATE_EPOCH; the two ISOs must be identical. Also: a rebuild from the blob cache.
#
#   bench/registry.sh [OCI_LAYOUT[:TAG]]
#
# Default image: the Debian 12 image of tests/images/debian.sh, if built (its oci/ directory);
# any sizeable OCI layout will do. Not part of `make check`.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
export TRUSTBOOT="${TRUSTBOOT:-$src/build/src/cli/trustboot}"
. "$src/tests/interop/lib/common.sh"
. "$src/tests/interop/lib/registry.sh"
need docker-registry skopeo
image="${1:-}"
if [ -z "$image" ]; then
  d=$(ls -d /var/cache/trustboot-test/debian-*-v1/oci 2>/dev/null | head -n1 || true)
  [ -n "$d" ] || { echo "no image: give an OCI layout, or build one with tests/images/debian.sh --oci" >&2; exit 77; }
  image="$d:v1"
fi
case "$image" in *:*) ;; *) image="$image:latest";; esac
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000 TMPDIR="$WORK/tmp"
mkdir -p "$TMPDIR"
"$TRUSTBOOT" genkey Bench -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
start_registry R plain
R=$REG_R_ADDR
skopeo copy -q --dest-tls-verify=false "oci:$image" "docker://$R/bench:v1"
size=$(du -sb "$REG_R_DIR/storage" | cut -f1)
echo "image: $image ($((size / 1048576)) MiB in the registry); $(nproc) CPUs"

timed() { # NAME COMMAND...
  local name="$1"; shift
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  read -r secs kib < "$WORK/time"
  printf '%-52s %7.1f s  peak RSS %5d MiB\n' "$name" "$secs" $((kib / 1024))
}
two_step() {
  skopeo copy -q --src-tls-verify=false "docker://$R/bench:v1" oci:"$WORK/layout":v1 &&
    "$TRUSTBOOT" -q build-uki oci-layout:"$WORK/layout":v1 -t iso -d out-peer -k keys
}
# Pull + unpack alone (an uncompressed initrd is little more than reading the tree once).
pull_two_step() {
  skopeo copy -q --src-tls-verify=false "docker://$R/bench:v1" oci:"$WORK/layout2":v1 &&
    "$TRUSTBOOT" -q initrd oci-layout:"$WORK/layout2":v1 -o "$WORK/peer.cpio" --compression none
}
timed "pull+unpack: trustboot initrd REGISTRY/IMAGE" \
  "$TRUSTBOOT" -q initrd "$R/bench:v1" -o "$WORK/tb.cpio" --compression none --allow-insecure-registries --no-cache
timed "pull+unpack: skopeo copy + trustboot initrd oci-layout:" \
  bash -c "$(declare -f pull_two_step); R=$R WORK=$WORK TRUSTBOOT=$TRUSTBOOT pull_two_step"
cmp -s "$WORK/tb.cpio" "$WORK/peer.cpio" || fail "the two initrds differ"
rm -f "$WORK/tb.cpio" "$WORK/peer.cpio"

timed "trustboot build-uki REGISTRY/IMAGE (no cache)" \
  "$TRUSTBOOT" -q build-uki "$R/bench:v1" -t iso -d out-tb -k keys --allow-insecure-registries --no-cache
timed "skopeo copy + trustboot build-uki oci-layout:" bash -c "$(declare -f two_step); R=$R WORK=$WORK TRUSTBOOT=$TRUSTBOOT two_step"
timed "trustboot build-uki REGISTRY/IMAGE (cold cache)" \
  "$TRUSTBOOT" -q build-uki "$R/bench:v1" -t iso -d out-c1 -k keys --allow-insecure-registries --cache "$WORK/cache"
timed "trustboot build-uki REGISTRY/IMAGE (warm cache)" \
  "$TRUSTBOOT" -q build-uki "$R/bench:v1" -t iso -d out-c2 -k keys --allow-insecure-registries --cache "$WORK/cache"
for d in out-peer out-c1 out-c2; do
  cmp -s out-tb/*.iso $d/*.iso || fail "$d: ISO differs from the one built straight from the registry"
done
echo "all four ISOs identical"
