#!/usr/bin/env bash
# genkey output read by openssl and efitools: certificates, signature lists, .auth signatures.
. "$(dirname "$0")/lib/common.sh"
need openssl sig-list-to-certs python3

cd "$WORK"
days=30
before=$(date +%s)
"$TRUSTBOOT" genkey "Acme Corp" -e "$days" -o out/keys >/dev/null
after=$(date +%s)
K=out/keys

# Exactly the 16 files, right modes.
assert_eq "$(ls -A $K | sort | tr '\n' ' ')" \
  "KEK.auth KEK.der KEK.esl KEK.key KEK.pem PK.auth PK.der PK.esl PK.key PK.pem db.auth db.der db.esl db.key db.pem tpm2-pcr-private.pem " "files"
assert_eq "$(stat -c %a $K)" 700 "output dir mode"
for f in PK.key KEK.key db.key tpm2-pcr-private.pem; do
  assert_eq "$(stat -c %a $K/$f)" 600 "$f mode"
  head -n1 $K/$f | contains -- '-----BEGIN PRIVATE KEY-----' || fail "$f is not PKCS#8 PEM"
  openssl pkey -in $K/$f -noout || fail "$f: openssl cannot read it"
done
openssl rsa -in $K/tpm2-pcr-private.pem -noout -text 2>/dev/null | contains 'Private-Key: (2048 bit' || fail "PCR key is not RSA-2048"

for t in PK KEK db; do
  openssl x509 -in $K/$t.pem -noout -subject | contains -x "subject=CN = Acme Corp-$t" || fail "$t.pem subject"
  openssl x509 -in $K/$t.pem -noout -issuer | contains -x "issuer=CN = Acme Corp-$t" || fail "$t.pem not self-signed"
  openssl x509 -in $K/$t.pem -noout -text | grep -A1 'Basic Constraints: critical' | contains 'CA:TRUE' || fail "$t.pem CA:TRUE"
  openssl x509 -in $K/$t.pem -noout -text | contains 'Signature Algorithm: sha256WithRSAEncryption' || fail "$t.pem not SHA-256"
  openssl x509 -in $K/$t.pem -noout -text | contains 'Public-Key: (2048 bit)' || fail "$t.pem not RSA-2048"
  openssl x509 -in $K/$t.pem -noout -ext subjectKeyIdentifier | contains 'Subject Key Identifier' || fail "$t.pem SKI"
  openssl x509 -in $K/$t.pem -noout -ext authorityKeyIdentifier | contains 'Authority Key Identifier' || fail "$t.pem AKI"
  openssl verify -CAfile $K/$t.pem $K/$t.pem >/dev/null || fail "$t.pem signature"
  end=$(date -d "$(openssl x509 -in $K/$t.pem -noout -enddate | cut -d= -f2)" +%s)
  [ "$end" -ge $((before + days * 86400)) ] && [ "$end" -le $((after + days * 86400)) ] || fail "$t.pem end date is not $days days ahead"
  cmp -s $K/$t.der <(openssl x509 -in $K/$t.pem -outform DER) || fail "$t.der differs from $t.pem"
  cmp -s <(openssl x509 -in $K/$t.pem -noout -modulus) <(openssl rsa -in $K/$t.key -noout -modulus 2>/dev/null) || fail "$t.key does not match $t.pem"
done

# efitools reads every list; our own cert comes first; Microsoft's follow in KEK and db.
declare -A want=([PK]=1 [KEK]=3 [db]=5)
for t in PK KEK db; do
  mkdir -p esl-$t
  sig-list-to-certs $K/$t.esl esl-$t/c >esl-$t/log 2>&1 || fail "sig-list-to-certs cannot read $t.esl: $(cat esl-$t/log)"
  assert_eq "$(ls esl-$t | grep -c '\.der$')" "${want[$t]}" "certificates in $t.esl"
  cmp -s esl-$t/c-0.der $K/$t.der || fail "$t.esl: first certificate is not $t.der"
  n=0
  for c in esl-$t/c-*.der; do
    openssl x509 -inform DER -in "$c" -noout || fail "$t.esl entry $c is not a certificate"
    if [ "$c" != esl-$t/c-0.der ]; then
      openssl x509 -inform DER -in "$c" -noout -subject | contains Microsoft || fail "$t.esl: $c is not Microsoft's"
      n=$((n + 1))
    fi
  done
  assert_eq "$(grep -c 'Guid 77fa9abd-0359-4d32-bd60-28f4e78f784b' esl-$t/log || true)" "$n" "$t.esl Microsoft-owned entries" # "$t.esl Microsoft owner GUID"
done
owner=$(grep -m1 -o 'Guid [0-9a-f-]*' esl-PK/log)
for t in KEK db; do grep -m1 -o 'Guid [0-9a-f-]*' esl-$t/log | contains -x "$owner" || fail "owner GUID differs between PK and $t"; done
# The 2023 successors are there.
for s in "KEK 2K CA 2023" "UEFI CA 2023" "Windows UEFI CA 2023"; do
  grep -aqF "$s" esl-KEK/c-*.der esl-db/c-*.der || fail "missing Microsoft certificate '$s'"
done

# .auth = EFI_VARIABLE_AUTHENTICATION_2 + the .esl; the PKCS#7 verifies over the rebuilt buffer
# with the right signer (PK for PK and KEK, KEK for db) and not with another.
python3 "$TB_SRCDIR/tests/interop/lib/auth_split.py" $K "$WORK"
declare -A signer=([PK]=PK [KEK]=PK [db]=KEK) wrong=([PK]=db [KEK]=db [db]=PK)
for t in PK KEK db; do
  cmp -s $t.payload $K/$t.esl || fail "$t.auth payload differs from $t.esl"
  openssl cms -verify -binary -inform DER -in $t.p7 -content $t.signed -nointern \
    -certfile $K/${signer[$t]}.pem -CAfile $K/${signer[$t]}.pem -purpose any -out /dev/null 2>err-$t \
    || fail "$t.auth does not verify with ${signer[$t]}.pem: $(cat err-$t)"
  if openssl cms -verify -binary -inform DER -in $t.p7 -content $t.signed -nointern \
    -certfile $K/${wrong[$t]}.pem -CAfile $K/${wrong[$t]}.pem -purpose any -out /dev/null 2>/dev/null; then
    fail "$t.auth also verifies with ${wrong[$t]}.pem"
  fi
  # A changed byte in the payload must break the signature.
  printf '\xff' | dd of=$t.signed bs=1 seek=60 conv=notrunc status=none
  if openssl cms -verify -binary -inform DER -in $t.p7 -content $t.signed -nointern \
    -certfile $K/${signer[$t]}.pem -CAfile $K/${signer[$t]}.pem -purpose any -out /dev/null 2>/dev/null; then
    fail "$t.auth verifies over a modified buffer"
  fi
done

# SOURCE_DATE_EPOCH sets notBefore and the .auth timestamp.
SOURCE_DATE_EPOCH=1700000000 "$TRUSTBOOT" genkey Repro -e 10 -o repro --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
openssl x509 -in repro/db.pem -noout -startdate | contains 'Nov 14 22:13:20 2023 GMT' || fail "SOURCE_DATE_EPOCH not used for notBefore"
openssl x509 -in repro/db.pem -noout -enddate | contains 'Nov 24 22:13:20 2023 GMT' || fail "SOURCE_DATE_EPOCH not used for notAfter"
python3 -c 'import sys; d=open(sys.argv[1],"rb").read(16); import struct; y,mo,da,h,mi,s=struct.unpack("<HBBBBB",d[:7]); assert (y,mo,da,h,mi,s)==(2023,11,14,22,13,20), (y,mo,da,h,mi,s)' repro/db.auth \
  || fail "SOURCE_DATE_EPOCH not used for the .auth EFI_TIME"
sig-list-to-certs repro/db.esl skip >/dev/null && [ ! -e skip-1.der ] || fail "skip flag still added certificates"

echo "genkey interop: ok"
