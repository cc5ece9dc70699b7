#!/usr/bin/env bash
# build-uki refuses bad input with one line, a non-zero status, and nothing left in OUTDIR.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
cd "$WORK"
synthetic_rootfs root
"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
"$TRUSTBOOT" genkey Other -o other --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
mkdir out

left_nothing() { assert_eq "$(ls -A out)" "" "files left in the output directory after: $*"; }
bad() { expect_error "$TRUSTBOOT" build-uki "$@"; left_nothing "$@"; }

bad dir:root -t iso -d out
echo "$ERR" | contains 'keys missing' || fail "no keys: $ERR"
bad dir:root -t iso -d out -k nonexistent
echo "$ERR" | contains 'nonexistent/db.key' || fail "missing key dir: $ERR"
bad dir:root -t iso -d out --sb-key keys/db.key --sb-cert other/db.pem --tpm-pcr-private-key keys/tpm2-pcr-private.pem
echo "$ERR" | contains 'does not match' || fail "mismatched key: $ERR"
openssl ecparam -name prime256v1 -genkey -noout -out ec.pem 2>/dev/null
bad dir:root -t iso -d out --sb-key keys/db.key --sb-cert keys/db.pem --tpm-pcr-private-key ec.pem
echo "$ERR" | contains 'not an RSA key' || fail "EC PCR key: $ERR"
mkdir pk && cp keys/PK.auth keys/KEK.auth pk/
bad dir:root -t iso -d out --sb-key keys/db.key --sb-cert keys/db.pem --tpm-pcr-private-key keys/tpm2-pcr-private.pem --public-keys pk
echo "$ERR" | contains 'pk/db.auth' || fail "missing db.auth: $ERR"

cp -a root nokernel && rm nokernel/boot/vmlinuz
bad dir:nokernel -t iso -d out -k keys
echo "$ERR" | contains 'no kernel' || fail "no kernel: $ERR"
cp -a root noosrel && rm noosrel/etc/os-release
bad dir:noosrel -t iso -d out -k keys
echo "$ERR" | contains 'os-release' || fail "no os-release: $ERR"
bad dir:nonexistent -t iso -d out -k keys

# Stubs we cannot use: not a PE, a PE that is not a systemd-stub.
head -c 4096 /dev/urandom > junk.efi
bad dir:root -t iso -d out -k keys --stub junk.efi
echo "$ERR" | contains 'junk.efi' || fail "junk stub: $ERR"
bad dir:root -t iso -d out -k keys --stub /usr/lib/systemd/boot/efi/systemd-bootx64.efi
echo "$ERR" | contains 'not a supported systemd-stub' || fail "sd-boot as stub: $ERR"
bad dir:root -t iso -d out -k keys --sdboot /usr/lib/systemd/boot/efi/linuxx64.efi.stub
echo "$ERR" | contains 'not a supported systemd-boot' || fail "stub as sd-boot: $ERR"

# Output directory: a file, or unwritable (a read-only bind is not possible here: use a file path).
touch afile
expect_error "$TRUSTBOOT" build-uki dir:root -t iso -d afile -k keys
echo "$ERR" | contains 'afile' || fail "output is a file: $ERR"
expect_error "$TRUSTBOOT" build-uki dir:root -t iso -d afile/sub -k keys
[ ! -e afile/sub ] || fail "created something under a file"
# A missing output directory is created, and removed again when the build fails.
expect_error "$TRUSTBOOT" build-uki dir:nokernel -t iso -d newout -k keys
[ ! -e newout ] || fail "left the output directory it created"

# -t uki refuses to mix with an existing ESP tree, and leaves it as it was.
"$TRUSTBOOT" -q build-uki dir:root -t uki -d esp -k keys >/dev/null
sum=$(find esp -type f -exec sha256sum {} + | sort)
expect_error "$TRUSTBOOT" build-uki dir:root -t uki -d esp -k keys -x quiet
assert_eq "$(find esp -type f -exec sha256sum {} + | sort)" "$sum" "existing ESP tree changed"
assert_eq "$(ls -A esp | tr '\n' ' ')" "EFI loader " "leftovers in the ESP directory"

# Usage errors.
for args in "dir:root -t floppy -d out -k keys" "dir:root -d out -k keys -x a -c b" "dir:root -d out -k keys --secure-boot-enroll maybe" \
            "dir:root -d out -k keys --pcr-banks md5" "dir:root -d out -k keys -i root" "-d out -k keys"; do
  # shellcheck disable=SC2086
  expect_error "$TRUSTBOOT" build-uki $args
  assert_eq "$EXIT_STATUS" 2 "usage error status for: $args"
  left_nothing $args
done
echo "build-uki bad input: ok"
