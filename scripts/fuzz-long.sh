#!/usr/bin/env bash
# Deep fuzzing outside CI: every libFuzzer target of the fuzz build runs RUNS executions (default
# 1 000 000, -runs), from its corpus in tests/fuzz/corpus/NAME; what a run finds that covers new
# code is merged back into that corpus (-merge=1, minimal), so the next run starts deeper.
# A crash, leak or sanitizer report stops the script with the reproducer's path.
# Usage: scripts/fuzz-long.sh FUZZ_BUILD_DIR [RUNS] [TARGET…]
set -euo pipefail
build="${1:?usage: fuzz-long.sh FUZZ_BUILD_DIR [RUNS] [TARGET…]}"; shift
runs="${1:-1000000}"; [ $# -gt 0 ] && shift
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/fuzz-long.XXXXXX")"
trap 'rm -rf "$work"' EXIT
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/tests/fuzz/fuzz-*; do [ -f "$f" ] && [ -x "$f" ] && targets+=("$(basename "$f" | sed 's/^fuzz-//')"); done
fi
printf '%-12s %10s %8s %10s %8s\n' target runs seconds runs/s corpus+
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz-$t" corpus="$src/tests/fuzz/corpus/$t"
  mkdir -p "$corpus" "$work/$t"
  before=$(ls "$corpus" | wc -l)
  start=$(date +%s.%N)
  if ! "$exe" -runs="$runs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$build/crash-$t-" "$work/$t" "$corpus" >"$work/$t.log" 2>&1; then
    tail -n 40 "$work/$t.log" >&2
    echo "fuzz-long: fuzz-$t found a problem; reproducer: $(ls "$build"/crash-$t-* 2>/dev/null | head -n1)" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/$t.log" | tail -n1)
  "$exe" -merge=1 "$corpus" "$work/$t" >"$work/$t.merge" 2>&1 || true
  after=$(ls "$corpus" | wc -l)
  awk -v t="$t" -v r="${done_runs:-0}" -v s="$start" -v e="$end" -v a="$before" -v b="$after" \
    'BEGIN { d = e - s; printf "%-12s %10d %8.0f %10.0f %8d\n", t, r, d, (d > 0 ? r / d : 0), b - a }'
done
