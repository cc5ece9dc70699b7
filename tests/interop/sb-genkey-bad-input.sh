#!/usr/bin/env bash
# genkey refuses bad input with one line, a non-zero status, and leaves no file behind.
. "$(dirname "$0")/lib/common.sh"
cd "$WORK"
S=--skip-microsoft-certs-I-KNOW-WHAT-IM-DOING

snapshot() { find . -path ./.out -prune -o -path ./.err -prune -o -print | sort; }
nothing_written() { # runs expect_error, then checks the tree is unchanged
  local before after
  before=$(snapshot)
  expect_error "$@"
  after=$(snapshot)
  [ "$before" = "$after" ] || fail "'$*' left files behind: $(diff <(echo "$before") <(echo "$after") | tail -n +2)"
}

nothing_written "$TRUSTBOOT" genkey
assert_eq "$EXIT_STATUS" 2 "missing NAME status"; echo "$ERR" | contains 'missing NAME' || fail "missing NAME message: $ERR"
for n in 0 -1 abc 12x "" 99999999999; do
  nothing_written "$TRUSTBOOT" genkey Acme -e "$n" -o k
  assert_eq "$EXIT_STATUS" 2 "-e '$n' status"
  echo "$ERR" | contains 'expiration-in-days' || fail "-e '$n' message: $ERR"
done
nothing_written "$TRUSTBOOT" genkey Acme --key-size 1024 -o k
nothing_written "$TRUSTBOOT" genkey Acme --bogus
echo "$ERR" | contains -- "--bogus" || fail "unknown option message: $ERR"
nothing_written "$TRUSTBOOT" genkey Acme extra-arg

# Output under a regular file: cannot be created.
touch afile
nothing_written "$TRUSTBOOT" genkey Acme -o afile/keys $S
assert_eq "$EXIT_STATUS" 1 "unwritable output status"; echo "$ERR" | contains 'afile/keys' || fail "message names the dir: $ERR"
# Missing parents are created, and removed again when the generation fails.
mkdir custom-empty
nothing_written "$TRUSTBOOT" genkey Acme -o deep/er/keys $S --custom-cert-dir custom-empty
echo "$ERR" | contains 'custom-empty/KEK' || fail "missing custom KEK message: $ERR"

# Existing key set: refused without --force, untouched; replaced with --force.
"$TRUSTBOOT" genkey Acme -o keys $S >/dev/null
sum=$(cat keys/* | sha256sum)
nothing_written "$TRUSTBOOT" genkey Acme -o keys $S
echo "$ERR" | contains -- '--force' || fail "existing key set message: $ERR"
assert_eq "$(cat keys/* | sha256sum)" "$sum" "existing key set changed"
rm keys/db.auth keys/PK.key   # any one of the 16 names is enough to refuse
nothing_written "$TRUSTBOOT" genkey Acme -o keys $S
"$TRUSTBOOT" genkey Acme -o keys $S --force >/dev/null
[ "$(cat keys/* | sha256sum)" != "$sum" ] || fail "--force did not replace the key set"
assert_eq "$(ls -A keys | wc -l)" 16 "files after --force"

# Custom cert dir: missing files, malformed lists, an X.509 entry that is not a certificate.
mkdir c1 c2 c3
nothing_written "$TRUSTBOOT" genkey Acme -o k1 $S --custom-cert-dir nonexistent
echo "$ERR" | contains 'nonexistent/KEK' || fail "missing custom dir message: $ERR"
printf 'not a signature list at all' > c1/KEK; cp c1/KEK c1/db
nothing_written "$TRUSTBOOT" genkey Acme -o k1 $S --custom-cert-dir c1
echo "$ERR" | contains 'c1/KEK: not an EFI signature database' || fail "malformed list message: $ERR"
python3 - <<'PY'
import struct, uuid
x509 = uuid.UUID("a5c059a1-94e4-4aa7-87b5-ab155c2bf072").bytes_le
entry = bytes(16) + b"\x30\x03\x02\x01\x00"  # DER, but not a certificate
open("c2/KEK", "wb").write(x509 + struct.pack("<III", 28 + len(entry), 0, len(entry)) + entry)
open("c2/db", "wb").write(b"")
open("c3/KEK", "wb").write(b"")
PY
nothing_written "$TRUSTBOOT" genkey Acme -o k1 $S --custom-cert-dir c2
echo "$ERR" | contains 'c2/KEK: .*not a valid certificate' || fail "bad certificate message: $ERR"
nothing_written "$TRUSTBOOT" genkey Acme -o k1 $S --custom-cert-dir c3
echo "$ERR" | contains 'c3/db' || fail "missing custom db message: $ERR"

# Microsoft certificates missing: the error names the skip flag.
TRUSTBOOT_MS_CERT_DIR=$WORK/none nothing_written "$TRUSTBOOT" genkey Acme -o k1
echo "$ERR" | contains -- '--skip-microsoft-certs-I-KNOW-WHAT-IM-DOING' || fail "MS certs message: $ERR"

# Bad SOURCE_DATE_EPOCH.
SOURCE_DATE_EPOCH=yesterday nothing_written "$TRUSTBOOT" genkey Acme -o k1 $S
echo "genkey bad input: ok"
