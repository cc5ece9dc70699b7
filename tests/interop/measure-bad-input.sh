#!/usr/bin/env bash
# trustboot measure on bad input: missing files, unreadable or unusable keys, unknown banks and
# phase words, a file that is not a UKI. Each must fail (exit != 0) with exactly one line on
# stderr that names the culprit, and print nothing on stdout.
set -euo pipefail
: "${TRUSTBOOT:?}"
command -v openssl >/dev/null || { echo "SKIP: openssl not available"; exit 77; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'kernel' >"$tmp/linux"
printf 'not a key\n' >"$tmp/garbage.pem"
head -c 4096 /dev/zero | tr '\0' 'x' >"$tmp/notpe.efi"
mkdir "$tmp/dir.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/other.pem" 2>/dev/null
openssl pkey -in "$tmp/other.pem" -pubout -out "$tmp/other.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ec.pem" 2>/dev/null

fail=0
expect_error() { # $1 = substring the one error line must contain, rest = arguments
  local want="$1" rc=0 lines
  shift
  "$TRUSTBOOT" measure "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" = 0 ] || [ "$lines" != 1 ] || ! grep -qF -- "$want" "$tmp/err" || [ -s "$tmp/out" ]; then
    echo "FAIL: measure $*: want exit != 0, one stderr line containing '$want', empty stdout;"
    echo "      got exit $rc, $lines lines: $(cat "$tmp/err")"
    fail=1
  else
    echo "ok   exit $rc: $(cat "$tmp/err")"
  fi
}

L=(--linux="$tmp/linux")
expect_error "$tmp/missing: cannot open: No such file" calculate --linux="$tmp/missing"
expect_error "$tmp/missing: cannot open: No such file" calculate "${L[@]}" --initrd="$tmp/missing"
expect_error "$tmp/dir.pem: cannot read: Is a directory" calculate "${L[@]}" --osrel="$tmp/dir.pem"
expect_error "$tmp/missing.pem: cannot read private key: No such file" sign "${L[@]}" --private-key="$tmp/missing.pem"
expect_error "$tmp/garbage.pem: not a PEM private key" sign "${L[@]}" --private-key="$tmp/garbage.pem"
expect_error "$tmp/dir.pem: cannot read private key: Is a directory" sign "${L[@]}" --private-key="$tmp/dir.pem"
expect_error "$tmp/ec.pem: not an RSA key" sign "${L[@]}" --private-key="$tmp/ec.pem"
expect_error "$tmp/other.pub: not the public key of $tmp/rsa.pem" \
  sign "${L[@]}" --private-key="$tmp/rsa.pem" --public-key="$tmp/other.pub"
expect_error "$tmp/garbage.pem: not a PEM public key" \
  sign "${L[@]}" --private-key="$tmp/rsa.pem" --public-key="$tmp/garbage.pem"
expect_error "sign needs --private-key" sign "${L[@]}"
expect_error "unknown PCR bank 'md5'" calculate "${L[@]}" --bank=md5
expect_error "unknown PCR bank 'sha3-256'" calculate "${L[@]}" --bank=sha3-256
expect_error "unknown boot phase word 'bogus'" calculate "${L[@]}" --phase=enter-initrd:bogus:ready
expect_error "unknown boot phase word 'Enter-initrd'" sign "${L[@]}" --private-key="$tmp/rsa.pem" --phase=Enter-initrd
expect_error "--stub-version=251" calculate "${L[@]}" --stub-version=251
expect_error "--json=yaml" calculate "${L[@]}" --json=yaml
expect_error "--linux= or --uki= is required" calculate --osrel="$tmp/linux"
expect_error "$tmp/notpe.efi: not a PE image" calculate --uki="$tmp/notpe.efi"
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
if [ -f "$STUB" ]; then # a PE, but a stub without a kernel
  expect_error "$STUB: no .linux section; not a UKI" calculate --uki="$STUB"
fi
expect_error "$tmp/missing.efi" calculate --uki="$tmp/missing.efi"
if [ "$(id -u)" != 0 ]; then # root reads files whatever their mode
  cp "$tmp/rsa.pem" "$tmp/noread.pem"; chmod 000 "$tmp/noread.pem"
  expect_error "$tmp/noread.pem: cannot read private key: Permission denied" sign "${L[@]}" --private-key="$tmp/noread.pem"
fi

# Usage errors (unknown option, verb) exit 2.
rc=0; "$TRUSTBOOT" measure frobnicate "${L[@]}" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || { echo "FAIL: unknown verb gave exit $rc, want 2"; fail=1; }
rc=0; "$TRUSTBOOT" measure calculate "${L[@]}" --frob 2>/dev/null || rc=$?
[ "$rc" = 2 ] || { echo "FAIL: unknown option gave exit $rc, want 2"; fail=1; }

[ "$fail" = 0 ] && echo "PASS: every bad input refused with one line"
exit "$fail"
