#!/usr/bin/env bash
# A stub newer than the newest generation trustboot knows (here the host's 252 stub with its
# version bytes in .sdmagic and .sbat set to 259) cannot have its PCR 11 predicted: build-uki and
# `measure --uki` refuse it with one line, unless the user names the generation it follows
# (--stub-generation / --stub-version); forcing another generation on a known stub is refused too.
# Nothing is written by a refused build.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need python3
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
synthetic_build_inputs
python3 - "$stub" stub259.efi <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
n = d.count(b"systemd-stub 252") + d.count(b",systemd,252,")
assert n == 2, f"expected one version in .sdmagic and one in .sbat, found {n}"
d = d.replace(b"systemd-stub 252", b"systemd-stub 259").replace(b",systemd,252,", b",systemd,259,")
open(sys.argv[2], "wb").write(d)
PY

expect_error "$TRUSTBOOT" -q build-uki dir:root -t uki -d out -k keys --stub stub259.efi
contains "stub259.efi: systemd-stub 259 is newer than the newest stub trustboot can predict PCR 11 for (258)" <<<"$ERR" ||
  fail "build-uki with a 259 stub: $ERR"
[ ! -e out ] || fail "a refused build left $(ls out)"
echo "ok   refused: $ERR"

expect_error "$TRUSTBOOT" -q build-uki dir:root -t uki -d out -k keys --stub "$stub" --stub-generation 257
contains "systemd-stub 252 follows the 252 rules, not 257" <<<"$ERR" || fail "forcing 257 on a 252 stub: $ERR"
echo "ok   refused: $ERR"

expect_error "$TRUSTBOOT" -q build-uki dir:root -t uki -d out -k keys --stub stub259.efi --stub-generation 259
[ "$EXIT_STATUS" = 2 ] || fail "--stub-generation 259 is not a usage error"

# Forced: built, and predicted as the named generation.
"$TRUSTBOOT" -q build-uki dir:root -t uki -d out259 -k keys --stub stub259.efi --stub-generation 252 >/dev/null
"$TRUSTBOOT" -q build-uki dir:root -t uki -d out252 -k keys --stub "$stub" >/dev/null
uki=out259/EFI/trustboot/norole.efi
expect_error "$TRUSTBOOT" measure calculate --uki="$uki" --bank=sha256
contains "systemd-stub 259 is newer than the newest stub trustboot can predict" <<<"$ERR" || fail "measure --uki: $ERR"
echo "ok   refused: $ERR"
"$TRUSTBOOT" measure calculate --uki="$uki" --bank=sha256 --stub-version=252 --json=short >forced.json
"$TRUSTBOOT" measure calculate --uki=out252/EFI/trustboot/norole.efi --bank=sha256 --json=short >genuine.json
cmp -s forced.json genuine.json || fail "the forced-252 prediction differs from the genuine 252 stub's"
# measure's value errors are one line and exit 2, as systemd-measure's
rc=0; "$TRUSTBOOT" measure calculate --uki="$uki" --stub-version=259 >out 2>err || rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <err)" = 1 ] && [ ! -s out ] || fail "--stub-version=259: exit $rc, $(cat err)"
echo "PASS: too-new stubs refused; forced generations predicted as named"
