# Sourced by interop/e2e scripts: a private work dir removed on exit, and small assertions.
set -euo pipefail
: "${TRUSTBOOT:?TRUSTBOOT must point at the built binary}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tb-test.XXXXXX")"
_tb_cleanup_hooks=()
_tb_cleanup() {
  local h
  for h in "${_tb_cleanup_hooks[@]}"; do eval "$h" || true; done
  # TB_TEST_KEEP=1: leave the work dir (serial logs, images) for a post-mortem.
  if [ -n "${TB_TEST_KEEP:-}" ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap _tb_cleanup EXIT
on_exit() { _tb_cleanup_hooks+=("$1"); }

fail() { echo "FAIL: $*" >&2; exit 1; }
need() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not installed" >&2; exit 77; }; done; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# expect_error STATUS_OP CMD...: runs CMD, which must fail; its stderr must be one error line
# (plus the usage hint line for status 2). Sets $ERR to that first line.
expect_error() {
  local rc=0 lines
  "$@" >"$WORK/.out" 2>"$WORK/.err" || rc=$?
  [ "$rc" -ne 0 ] || fail "expected failure from: $*"
  lines=$(wc -l <"$WORK/.err")
  if [ "$rc" -eq 2 ]; then
    [ "$lines" -eq 2 ] && grep -q "^Try 'trustboot" "$WORK/.err" || fail "usage error of '$*' is not one line + hint: $(cat "$WORK/.err")"
  else
    [ "$lines" -eq 1 ] || fail "error of '$*' is not one line: $(cat "$WORK/.err")"
  fi
  ERR=$(head -n1 "$WORK/.err")
  EXIT_STATUS=$rc
}

# `producer | contains PATTERN`: like grep -q, but reads all of its input, so the producer never
# dies of SIGPIPE (which pipefail would turn into a spurious failure).
contains() { grep "$@" >/dev/null; }
