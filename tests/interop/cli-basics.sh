#!/usr/bin/env bash
# The command-line contract: --help, --version, help COMMAND, usage errors with status 2.
. "$(dirname "$0")/lib/common.sh"

"$TRUSTBOOT" --help | contains '^Usage: trustboot' || fail "--help"
"$TRUSTBOOT" --version | grep -Eq '^trustboot [0-9]+\.[0-9]+' || fail "--version"
"$TRUSTBOOT" help | contains 'genkey' || fail "help lists commands"
# Every listed command answers --help and `help COMMAND` with its usage, status 0.
for c in $("$TRUSTBOOT" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1}'); do
  "$TRUSTBOOT" "$c" --help | contains "trustboot $c" || fail "'$c --help' does not show its usage"
  "$TRUSTBOOT" help "$c" | contains "trustboot $c" || fail "'help $c' does not show its usage"
done
expect_error "$TRUSTBOOT" frobnicate
assert_eq "$EXIT_STATUS" 2 "unknown command status"
echo "$ERR" | contains "unknown command 'frobnicate'" || fail "unknown command message: $ERR"
expect_error "$TRUSTBOOT" --frobnicate
assert_eq "$EXIT_STATUS" 2 "unknown global flag status"
expect_error "$TRUSTBOOT" help frobnicate
assert_eq "$EXIT_STATUS" 2 "help for unknown command status"
expect_error "$TRUSTBOOT" genkey --no-such-flag
assert_eq "$EXIT_STATUS" 2 "unknown subcommand flag status"
rc=0; "$TRUSTBOOT" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 2 "no command status"
# -q silences the success summary; -v is accepted.
out=$(cd "$WORK" && "$TRUSTBOOT" -q genkey Q -o q --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING)
assert_eq "$out" "" "-q output"
(cd "$WORK" && "$TRUSTBOOT" -v genkey V -o v --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null) || fail "-v"
echo "cli basics: ok"
