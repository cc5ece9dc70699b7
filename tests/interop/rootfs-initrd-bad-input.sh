#!/usr/bin/env bash
# `trustboot initrd` refuses bad command lines (status 2) and bad sources (status 1) with one
# line that says what is wrong, and leaves no output file behind.
. "$(dirname "$0")/lib/common.sh"

mkdir -p "$WORK/tree/etc"
echo x > "$WORK/tree/etc/x"
T="$TRUSTBOOT"

expect_error "$T" initrd -o "$WORK/out"
echo "$ERR" | contains "missing SOURCE" || fail "no source: $ERR"
expect_error "$T" initrd "dir:$WORK/tree"
echo "$ERR" | contains "missing -o FILE" || fail "no output: $ERR"
expect_error "$T" initrd "dir:$WORK/tree" "dir:$WORK/tree" -o "$WORK/out"
assert_eq "$EXIT_STATUS" 2 "two sources"
expect_error "$T" initrd "dir:$WORK/tree" -o "$WORK/out" --compression lz4
echo "$ERR" | contains "'lz4' is not zstd, xz, gzip or none" || fail "bad compression: $ERR"
expect_error "$T" initrd "dir:$WORK/tree" -o "$WORK/out" --compression-level 99
assert_eq "$EXIT_STATUS" 2 "level 99"
expect_error "$T" initrd "dir:$WORK/tree" -o "$WORK/out" --threads 0
assert_eq "$EXIT_STATUS" 2 "zero threads"

expect_error "$T" initrd "docker:alpine" -o "$WORK/out"
assert_eq "$EXIT_STATUS" 1 "unknown source type"
echo "$ERR" | contains "unknown source; use dir:PATH" || fail "unknown source: $ERR"
expect_error "$T" initrd "dir:$WORK/missing" -o "$WORK/out"
echo "$ERR" | contains "$WORK/missing: cannot open directory: No such file" || fail "missing dir: $ERR"
expect_error "$T" initrd "oci-layout:$WORK/tree" -o "$WORK/out" --workdir "$WORK"
echo "$ERR" | contains "neither index.json (OCI) nor manifest.json" || fail "not an image: $ERR"
expect_error "$T" initrd "ocifile:$WORK/tree/etc/x" -o "$WORK/out" --workdir "$WORK"
echo "$ERR" | contains "etc/x: " || fail "not a tarball: $ERR"
expect_error "$T" initrd "dir:$WORK/tree" --print-kernel
echo "$ERR" | contains "no kernel found" || fail "no kernel: $ERR"
expect_error "$T" initrd "dir:$WORK/tree" -o "$WORK/out" --overlay-rootfs "$WORK/nope"
echo "$ERR" | contains "nope: cannot open overlay directory" || fail "missing overlay: $ERR"
SOURCE_DATE_EPOCH=soon expect_error "$T" initrd "dir:$WORK/tree" -o "$WORK/out"
echo "$ERR" | contains "SOURCE_DATE_EPOCH=soon" || fail "bad epoch: $ERR"

[ ! -e "$WORK/out" ] || fail "an output file was left behind"
[ -z "$(find "$WORK" -maxdepth 1 -name 'trustboot-rootfs.*')" ] || fail "a work area was left behind"
echo "initrd bad input: ok"
