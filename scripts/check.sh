#!/usr/bin/env bash
# `make check`: the whole test suite on a built tree — unit, interop, e2e (busybox guests), fuzz
# (bounded), and the real-image suite (real Debian images through the seed's journey).
#
#   scripts/check.sh BUILD MAKE-TARGET-FOR-FUZZ [MESON-TEST-ARGS...]
#
# The real-image suite (the Debian 12 lifecycle, Debian 13 with systemd 257) is ~30 minutes of TCG
# guests, one at a time; the e2e suite runs its guests one at a time too (is_parallel: false), so
# one of the two cores would idle through both: the real-image suite runs beside the others, with
# its own log base (BUILD/meson-logs/real-image.*), and its output is printed at the end; two e2e
# tests (suite beside-real-image, tests/e2e/meson.build) go with it to balance the streams. Left to
# be run by hand: `power-loss` (a VM killed at every write step, ~50 min per matrix:
# `make check-power-loss`) and `make fuzz-long`.
set -uo pipefail
build="$1" fuzz_target="$2"
shift 2

setsid meson test -C "$build" --no-rebuild --suite real-image --suite beside-real-image --logbase real-image "$@" >"$build/real-image.out" 2>&1 &
real=$!
# Stop the background suite (setsid: its guests are in its own process group) if we are stopped.
trap 'kill -- -"$real" 2>/dev/null; kill "$real" 2>/dev/null' INT TERM

meson test -C "$build" --no-suite real-image --no-suite beside-real-image --no-suite power-loss "$@"
rc_main=$?
make --no-print-directory "$fuzz_target"
rc_fuzz=$?
wait "$real"
rc_real=$?
echo "--- real-image suite (ran beside the others) ---"
cat "$build/real-image.out"
[ "$rc_main" -eq 0 ] && [ "$rc_fuzz" -eq 0 ] && [ "$rc_real" -eq 0 ]
