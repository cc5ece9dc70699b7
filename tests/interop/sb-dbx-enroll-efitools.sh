#!/usr/bin/env bash
# `dbx add` makes the same KEK-signed append update as efitools' sign-efi-sig-list -a (byte for
# byte, over the same lists), its image hashes are hash-to-efi-sig-list's, and `enroll` writes it
# to (a directory standing in for) efivarfs only when the enrolled KEK signed it: an update by
# another KEK, a truncated one and one for the wrong variable are refused with one line, the
# variable untouched. genkey --rotate's db-append.auth is efitools' too. Certificate expiry is warned about with the date.
. "$(dirname "$0")/lib/common.sh"
need sign-efi-sig-list hash-to-efi-sig-list sig-list-to-certs python3 openssl
cd "$WORK"
"$TRUSTBOOT" genkey A --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING -o A >/dev/null
"$TRUSTBOOT" genkey B --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING -o B >/dev/null
cp /usr/lib/systemd/boot/efi/systemd-bootx64.efi img.efi
hash=$(printf '%064d' 7)
export SOURCE_DATE_EPOCH=1700000000
efitime=$(date -u -d @$SOURCE_DATE_EPOCH '+%Y-%m-%d %H:%M:%S')

"$TRUSTBOOT" -q dbx add --image img.efi --cert B/db.pem --hash "$hash" -k A -o dbx.auth
payload() { python3 -c "import struct,sys;d=open(sys.argv[1],'rb').read();l=struct.unpack('<I',d[16:20])[0];sys.stdout.buffer.write(d[16+l:])" "$1"; }
payload dbx.auth >payload.esl
sign-efi-sig-list -a -t "$efitime" -k A/KEK.key -c A/KEK.pem dbx payload.esl ref.auth >/dev/null
cmp dbx.auth ref.auth || fail "dbx add differs from sign-efi-sig-list -a over the same lists"
hash-to-efi-sig-list img.efi img.esl >/dev/null
python3 - payload.esl img.esl "$hash" <<'PY' || fail "dbx payload: wrong entries"
import sys
ours, ref, h = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), bytes.fromhex(sys.argv[3])
assert ref[-32:] in ours, "the image hash is not hash-to-efi-sig-list's"
assert ours.endswith(h), "the --hash entry is missing"
PY
mkdir certs && sig-list-to-certs payload.esl certs/c >/dev/null 2>&1 || fail "sig-list-to-certs cannot read the dbx lists"
cmp -s certs/c-1.der B/db.der || fail "the revoked certificate in the dbx lists is not B's db certificate"
echo "ok: dbx add = sign-efi-sig-list -a byte for byte; hashes as hash-to-efi-sig-list"

# A node enrolled with key set A, out of setup mode.
mkdir vars
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c SECDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f
efivar() { printf "$(printf '\\x%02x\\x00\\x00\\x00' "$1")"; cat "$2"; }
efivar 0x27 A/PK.esl >vars/PK-$GLOBAL
efivar 0x27 A/KEK.esl >vars/KEK-$GLOBAL
efivar 0x27 A/db.esl >vars/db-$SECDB
printf '\x06\x00\x00\x00\x00' >vars/SetupMode-$GLOBAL
cp vars/db-$SECDB db.before

"$TRUSTBOOT" dbx add --cert A/db.pem -k B -o dbx-wrong.auth >/dev/null
expect_error "$TRUSTBOOT" enroll --efivars vars dbx-wrong.auth
echo "$ERR" | contains "not signed by the enrolled KEK or PK.*firmware would refuse it" || fail "wrong KEK: $ERR"
[ ! -e vars/dbx-$SECDB ] || fail "a refused update was written"
head -c 1000 dbx.auth >dbx-truncated.auth
expect_error "$TRUSTBOOT" enroll --efivars vars dbx-truncated.auth
echo "$ERR" | contains "truncated or damaged" || fail "truncated: $ERR"
expect_error "$TRUSTBOOT" enroll --efivars vars --var db dbx.auth
echo "$ERR" | contains "not signed by the enrolled" || fail "dbx update as db: $ERR"
cmp -s vars/db-$SECDB db.before || fail "db changed by a refused update"
[ ! -e vars/dbx-$SECDB ] || fail "a refused update was written"

"$TRUSTBOOT" enroll --efivars vars dbx.auth | contains "appended to dbx" || fail "enroll of the KEK-signed dbx append"
cmp -s vars/dbx-$SECDB <(efivar 0x67 dbx.auth) || fail "efivarfs did not get attributes 0x67 (append) + the .auth"
# The KEK's own full db/KEK updates (genkey's .auth) are replacing writes, by the PK for KEK.
"$TRUSTBOOT" enroll --efivars vars A/KEK.auth | contains "written to KEK" || fail "enroll KEK.auth"
cmp -s vars/KEK-$GLOBAL <(efivar 0x27 A/KEK.auth) || fail "KEK write"
expect_error "$TRUSTBOOT" enroll --efivars vars B/KEK.auth
echo "$ERR" | contains "not signed by the enrolled PK" || fail "KEK update by another PK: $ERR"
echo "ok: enroll writes updates the enrolled KEK/PK signed (append recognised) and refuses the rest"

# Rotation: a new db key under A's PK and KEK; its db-append.auth is efitools' append of the new
# certificate list, and the node (enrolled with A) accepts it.
efivar 0x27 A/KEK.esl >vars/KEK-$GLOBAL   # what the firmware would hold after that write
SOURCE_DATE_EPOCH=1700000000 "$TRUSTBOOT" genkey A2 -e 3650 --rotate A -o A2 --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
for f in PK.key PK.pem PK.auth KEK.key KEK.pem KEK.esl tpm2-pcr-private.pem; do cmp -s A/$f A2/$f || fail "rotation changed $f"; done
cmp -s A/db.key A2/db.key && fail "rotation kept the db key"
assert_eq "$(stat -c %a A2/db.key)" 600 "rotated db.key mode"
sign-efi-sig-list -a -t "$efitime" -k A/KEK.key -c A/KEK.pem db A2/db.esl ref-db.auth >/dev/null
cmp A2/db-append.auth ref-db.auth || fail "db-append.auth differs from sign-efi-sig-list -a"
"$TRUSTBOOT" enroll --efivars vars A2/db-append.auth | contains "appended to db" || fail "enroll db-append.auth"
SOURCE_DATE_EPOCH=1700000000 "$TRUSTBOOT" genkey A3 -e 3650 --rotate A --rotate-pcr-key -o A3 --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
cmp -s A/tpm2-pcr-private.pem A3/tpm2-pcr-private.pem && fail "--rotate-pcr-key kept the PCR key"
expect_error "$TRUSTBOOT" genkey A4 --rotate A -o A2
echo "$ERR" | contains "a key set already exists" || fail "rotation over an existing set: $ERR"
echo "ok: genkey --rotate: same PK/KEK, new db (and PCR) key, db-append.auth = efitools' and enrolled"

# Expiry: a key set made two years ago with 30-day certificates, and one expiring in 10 days.
SOURCE_DATE_EPOCH=$(( $(date +%s) - 2 * 365 * 86400 )) "$TRUSTBOOT" genkey Old -e 30 \
  --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING -o old >/dev/null 2>genkey.err
contains "certificate /CN=Old-db EXPIRED on" genkey.err || fail "genkey does not warn about an expired certificate: $(cat genkey.err)"
unset SOURCE_DATE_EPOCH
"$TRUSTBOOT" sign --key old/db.key --cert old/db.pem -o old.efi img.efi 2>sign.err || fail "sign with an expired certificate failed"
contains "old/db.pem: certificate /CN=Old-db EXPIRED on .* ago" sign.err || fail "sign does not warn about the expired certificate: $(cat sign.err)"
"$TRUSTBOOT" genkey Soon -e 10 --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING -o soon >/dev/null 2>soon.err
contains "certificate /CN=Soon-db expires on .* (in 9 days)" soon.err || fail "genkey -e 10: $(cat soon.err)"
"$TRUSTBOOT" sign --expiry-warn-days 5 --key soon/db.key --cert soon/db.pem -o soon.efi img.efi 2>soon-sign.err
[ ! -s soon-sign.err ] || fail "--expiry-warn-days 5 still warns: $(cat soon-sign.err)"
"$TRUSTBOOT" sign --key soon/db.key --cert soon/db.pem -o soon.efi img.efi 2>soon-sign.err
contains "expires on" soon-sign.err || fail "sign does not warn within 30 days"
echo "ok: expired and expiring certificates are warned about with the date"
