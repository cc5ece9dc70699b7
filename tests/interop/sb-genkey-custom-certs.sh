#!/usr/bin/env bash
# --custom-cert-dir: vendor KEK/db databases (efitools-made ESLs and efivarfs dumps) are added.
. "$(dirname "$0")/lib/common.sh"
need openssl cert-to-efi-sig-list sig-list-to-certs

cd "$WORK"
mk_cert() { openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$1/" -keyout "$1.key" -out "$1.pem" -days 5 2>/dev/null; }
mk_cert VendorKEK; mk_cert VendorDB1; mk_cert VendorDB2
mkdir custom
cert-to-efi-sig-list -g 11111111-2222-3333-4444-555555555555 VendorKEK.pem custom/KEK >/dev/null
cert-to-efi-sig-list VendorDB1.pem db1.esl >/dev/null
cert-to-efi-sig-list VendorDB2.pem db2.esl >/dev/null
# db as efivarfs exports it: 4 bytes of attributes, then the lists; plus a SHA-256 entry to skip.
python3 - <<'PY'
import struct, uuid, hashlib
sha = uuid.UUID("c1c41626-504c-4092-aca9-41f936934328").bytes_le
owner = uuid.UUID("77fa9abd-0359-4d32-bd60-28f4e78f784b").bytes_le
entry = owner + hashlib.sha256(b"x").digest()
hash_list = sha + struct.pack("<III", 28 + len(entry), 0, len(entry)) + entry
data = struct.pack("<I", 0x27) + open("db1.esl", "rb").read() + hash_list + open("db2.esl", "rb").read()
open("custom/db", "wb").write(data)
PY
cp custom/db custom/dbx   # ignored: only KEK and db are read

"$TRUSTBOOT" genkey Vendor -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING --custom-cert-dir custom >/dev/null
sig-list-to-certs keys/db.esl db >db.log
sig-list-to-certs keys/KEK.esl kek >kek.log
assert_eq "$(ls db-*.der | wc -l)" 3 "certificates in db.esl"
assert_eq "$(ls kek-*.der | wc -l)" 2 "certificates in KEK.esl"
cmp -s db-1.der <(openssl x509 -in VendorDB1.pem -outform DER) || fail "db.esl entry 1 is not VendorDB1"
cmp -s db-2.der <(openssl x509 -in VendorDB2.pem -outform DER) || fail "db.esl entry 2 is not VendorDB2"
cmp -s kek-1.der <(openssl x509 -in VendorKEK.pem -outform DER) || fail "KEK.esl entry 1 is not VendorKEK"
assert_eq "$(grep -c 'Guid 88a69775-5ad7-45d9-9f34-cec43e1f1989' db.log)" 2 "custom owner GUID in db.esl"
# Like Kairos: the custom certificates' DER is appended to db.der / KEK.der.
cmp -s keys/db.der <(cat db-0.der db-1.der db-2.der) || fail "db.der is not own + custom DER"
cmp -s keys/KEK.der <(cat kek-0.der kek-1.der) || fail "KEK.der is not own + custom DER"
cmp -s keys/PK.der <(openssl x509 -in keys/PK.pem -outform DER) || fail "PK.der changed"
# .auth carries the same list.
python3 "$TB_SRCDIR/tests/interop/lib/auth_split.py" keys .
cmp -s db.payload keys/db.esl || fail "db.auth payload is not db.esl"

# With Microsoft's certificates too (when installed): own, Microsoft, then custom.
if [ -f "${TRUSTBOOT_MS_CERT_DIR:-/usr/local/share/trustboot/ms-certs}/MicrosoftUEFICA2023.pem" ]; then
  "$TRUSTBOOT" genkey Vendor -o keys2 --custom-cert-dir custom >/dev/null
  sig-list-to-certs keys2/db.esl all >/dev/null
  assert_eq "$(ls all-*.der | wc -l)" 7 "own + 4 Microsoft + 2 custom in db.esl"
  cmp -s all-6.der db-2.der || fail "custom certificates are not last"
fi
echo "genkey custom certs: ok"
