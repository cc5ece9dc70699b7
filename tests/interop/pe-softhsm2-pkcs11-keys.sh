#!/usr/bin/env bash
# Keys in a PKCS#11 token (softhsm2, initialised here in a private SOFTHSM2_CONF): genkey --pkcs11
# keeps every private key in the token, build-uki signs with both token keys and sbverify and
# openssl accept the results; a key imported into the token signs byte-identically to the same
# key read from its PEM file (Authenticode, PCR policies, a whole medium); bad URIs, PINs and
# objects are one-line errors.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need softhsm2-util sbverify openssl python3
cd "$WORK"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
mkdir tokens
echo "directories.tokendir = $WORK/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label tb-test --so-pin 87654321 --pin 1234 >/dev/null
printf '1234\n' >pin
chmod 600 pin
TOKEN="pkcs11:token=tb-test"

# --- genkey --pkcs11: no private key material leaves the token ---
"$TRUSTBOOT" genkey Fleet --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING --pkcs11 "$TOKEN?pin-source=$WORK/pin" -o keys >/dev/null
assert_eq "$(ls -A keys | sort | tr '\n' ' ')" \
  "KEK.auth KEK.der KEK.esl KEK.pem KEK.pkcs11 PK.auth PK.der PK.esl PK.pem PK.pkcs11 db.auth db.der db.esl db.pem db.pkcs11 tpm2-pcr-private.pkcs11 tpm2-pcr-public.pem " "token key set files"
if grep -l 'PRIVATE KEY' keys/*; then fail "a private key was written out of the token"; fi
for t in PK KEK db tpm2-pcr-private; do
  head -n1 keys/$t.pkcs11 | contains "^pkcs11:token=tb-test;.*object=Fleet-" || fail "$t.pkcs11 does not name the token key: $(cat keys/$t.pkcs11)"
  if grep -q pin-value keys/$t.pkcs11; then fail "$t.pkcs11 holds a PIN"; fi
done
for t in PK KEK db; do
  openssl verify -CAfile keys/$t.pem keys/$t.pem >/dev/null || fail "$t.pem is not self-signed by its token key"
  openssl x509 -in keys/$t.pem -noout -subject | contains "Fleet-$t" || fail "$t.pem subject"
done
python3 "$TB_SRCDIR/tests/interop/lib/auth_split.py" keys "$WORK"
declare -A signer=([PK]=PK [KEK]=PK [db]=KEK)
for t in PK KEK db; do
  openssl cms -verify -binary -inform DER -in $t.p7 -content $t.signed -nointern -certfile keys/${signer[$t]}.pem \
    -CAfile keys/${signer[$t]}.pem -purpose any -out /dev/null 2>err || fail "$t.auth (token-signed) does not verify: $(cat err)"
done
echo "ok: genkey --pkcs11 keeps the keys in the token; certificates and .auth files verify"

# --- build-uki with both keys in the token ---
synthetic_rootfs root
export SOURCE_DATE_EPOCH=1700000000
"$TRUSTBOOT" -q build-uki dir:root -t uki -d out-token -k keys >/dev/null
n=0
while IFS= read -r -d '' efi; do
  sbverify --cert keys/db.pem "$efi" >/dev/null 2>&1 || fail "sbverify rejects $efi signed with the token's db key"
  n=$((n + 1))
done < <(find out-token -iname '*.efi' -print0)
[ "$n" -ge 2 ] || fail "build-uki wrote only $n EFI binaries"
echo "ok: build-uki -k (token keys): sbverify accepts all $n EFI binaries"

# --- an imported key signs exactly as its PEM file does ---
openssl genrsa -out db.key 2048 2>/dev/null
openssl genrsa -out pcr.key 2048 2>/dev/null
openssl req -new -x509 -key db.key -subj /CN=imported-db/ -days 30 -out db.crt 2>/dev/null
for k in db pcr; do
  openssl pkcs8 -topk8 -nocrypt -in $k.key -out $k.p8
  softhsm2-util --import $k.p8 --token tb-test --label imported-$k --id 0$([ $k = db ] && echo 1 || echo 2) --pin 1234 >/dev/null
done
DB_URI="$TOKEN;object=imported-db;type=private?pin-source=file:$WORK/pin"
PCR_URI="$TOKEN;object=imported-pcr?pin-source=$WORK/pin"
sd=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
"$TRUSTBOOT" sign --key db.key --cert db.crt -o pem.efi "$sd"
"$TRUSTBOOT" sign --key "$DB_URI" --cert db.crt -o token.efi "$sd"
cmp pem.efi token.efi || fail "sign: the token signature differs from the PEM one for the same key"
"$TRUSTBOOT" measure sign --linux="$sd" --osrel=/etc/os-release --private-key=pcr.key >pem.json
"$TRUSTBOOT" measure sign --linux="$sd" --osrel=/etc/os-release --private-key="$PCR_URI" >token.json
cmp pem.json token.json || fail "measure sign: the token policy signature differs from the PEM one"
"$TRUSTBOOT" -q build-uki dir:root -t uki -d out-pem --sb-key db.key --sb-cert db.crt --tpm-pcr-private-key pcr.key >/dev/null
"$TRUSTBOOT" -q build-uki dir:root -t uki -d out-imported --sb-key "$DB_URI" --sb-cert db.crt --tpm-pcr-private-key "$PCR_URI" >/dev/null
diff -r out-pem out-imported >/dev/null || fail "build-uki: the medium from token keys differs from the one from the same PEM keys"
echo "ok: imported key: sign, measure sign and build-uki are byte-identical to the PEM path"

# --- bad input: one line each, never the PIN ---
expect_error "$TRUSTBOOT" sign --key "$TOKEN;object=imported-db?pin-value=9999" --cert db.crt -o x.efi "$sd"
echo "$ERR" | contains "wrong PIN" || fail "wrong PIN: $ERR"
if echo "$ERR" | grep -q 9999; then fail "the PIN appears in the error: $ERR"; fi
expect_error "$TRUSTBOOT" sign --key "$TOKEN;object=no-such-key?pin-source=$WORK/pin" --cert db.crt -o x.efi "$sd"
echo "$ERR" | contains "no such private key" || fail "missing object: $ERR"
expect_error "$TRUSTBOOT" sign --key "$TOKEN;objcet=imported-db?pin-source=$WORK/pin" --cert db.crt -o x.efi "$sd"
echo "$ERR" | contains "unknown attribute 'objcet'" || fail "unknown attribute: $ERR"
expect_error "$TRUSTBOOT" sign --key "pkcs11:token=no-such-token;object=imported-db?pin-source=$WORK/pin" --cert db.crt -o x.efi "$sd"
echo "$ERR" | contains "no initialised token matches" || fail "missing token: $ERR"
expect_error "$TRUSTBOOT" sign --key "$TOKEN;object=imported-db" --cert db.crt -o x.efi "$sd" </dev/null
echo "$ERR" | contains "needs a PIN" || fail "no PIN and no terminal: $ERR"
expect_error "$TRUSTBOOT" sign --key "$DB_URI" --cert keys/db.pem -o x.efi "$sd"
echo "$ERR" | contains "does not match the certificate" || fail "key/certificate mismatch: $ERR"
expect_error "$TRUSTBOOT" genkey Fleet --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING --pkcs11 "$TOKEN?pin-source=$WORK/pin" -o keys2
echo "$ERR" | contains "already holds a key labelled" || fail "genkey over existing labels: $ERR"
[ ! -e keys2 ] || [ -z "$(ls -A keys2)" ] || fail "a failed genkey left files"
[ ! -e x.efi ] || fail "a failed sign left its output"
echo "ok: wrong PIN, missing object/token, unknown attribute, no PIN, mismatched certificate: one-line errors"
