#!/usr/bin/env bash
# A PKCS#11 token whose PIN really locks: tpm2-pkcs11 on a private swtpm. The user PIN unseals the
# token's wrapping key in the TPM, so each wrong PIN counts against the TPM's dictionary-attack
# counter; at maxTries (3, set here through the lockout hierarchy) the TPM locks and tpm2-pkcs11
# answers every login with CKR_PIN_LOCKED. softhsm2 (pe-softhsm2-pkcs11-keys.sh) never locks.
#
# A key generated in the token signs through `sign` and `build-uki --sb-key`, and sbverify
# accepts; a wrong PIN is one line and reaches the TPM (its counter moves); at the lockout the
# right PIN is refused with one line saying the PIN is locked (exit 1, nothing written, also for
# build-uki and genkey); clearing the lockout (what the message tells) makes the token sign again.
#
# Private everything: the module is loaded by path (module-path=, never registered with p11-kit),
# its store is TPM2_PKCS11_STORE in the work dir, the TPM is a swtpm on a unix socket stopped by
# PID. swtpm has no resource manager: every process leaves its objects and sessions loaded, so
# the test flushes them after each one (flush_all), as tpm2-abrmd or the kernel's would.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tpm2.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need swtpm tpm2_dictionarylockout tpm2_getcap tpm2_flushcontext p11tool sbverify openssl

# install-deps.sh unpacks the module there; Debian's own package path if it is installed.
MODULE=${TB_TPM2_PKCS11_MODULE:-/usr/local/lib/trustboot-test/tpm2-pkcs11/libtpm2_pkcs11.so}
[ -f "$MODULE" ] || MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
need_file "$MODULE"

cd "$WORK"
swtpm_start
# Answering, not only its socket file there (a loaded machine can be slow to get it listening).
for _ in $(seq 100); do tpm2_getcap properties-fixed >/dev/null 2>&1 && break; sleep 0.1; done
export TPM2_PKCS11_TCTI="$TCTI" TPM2_PKCS11_STORE="$WORK/store"
# tss2's own log lines off; tpm2-pkcs11 1.9 still prints its errors ("ERROR: …", level 0 cannot
# be lowered), which expect_token_error tells apart from trustboot's line.
export TSS2_LOG=all+none
mkdir store
sd=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
need_file "$sd"

# The TPM locks at the 3rd wrong authorization and stays locked for an hour (no recovery while
# the test runs, however slow the machine).
tpm2_dictionarylockout -s -n 3 -t 3600 -l 3600 >/dev/null
tpm_prop() { tpm2_getcap properties-variable | sed -n "s/^ *$1: *//p"; }
assert_eq "$(tpm_prop TPM2_PT_MAX_AUTH_FAIL)" 0x3 "maxTries"

# --- the token: initialised, user PIN set, an RSA key generated inside it (p11tool, PKCS#11 calls) ---
p11() { local rc=0; p11tool --provider "$MODULE" "$@" </dev/null || rc=$?; flush_all; return $rc; }
empty_slot=$(p11 --list-token-urls | grep -v ';token=.' | head -n1)
[ -n "$empty_slot" ] || fail "tpm2-pkcs11 lists no empty slot: $(p11 --list-token-urls)"
GNUTLS_SO_PIN=87654321 p11 --initialize --label tb-tpm "$empty_slot" >/dev/null 2>&1 ||
  fail "p11tool cannot initialise the tpm2-pkcs11 token"
GNUTLS_SO_PIN=87654321 GNUTLS_NEW_PIN=1234 GNUTLS_PIN=1234 p11 --initialize-pin "pkcs11:token=tb-tpm" >/dev/null 2>&1 ||
  fail "p11tool cannot set the user PIN"
GNUTLS_PIN=1234 p11 --login --generate-privkey rsa --bits 2048 --label tb-db --id 01 --outfile db.pub \
  "pkcs11:token=tb-tpm" >/dev/null 2>&1 || fail "p11tool cannot generate a key in the token"
# Its certificate, issued by a CA the test holds (trustboot takes the certificate as a file).
openssl req -new -x509 -newkey rsa:2048 -nodes -keyout ca.key -subj /CN=tb-tpm-ca/ -days 30 -out ca.crt 2>/dev/null
openssl req -new -key ca.key -subj /CN=tb-tpm-db/ -out db.csr 2>/dev/null
openssl x509 -req -in db.csr -CA ca.crt -CAkey ca.key -force_pubkey db.pub -days 30 -out db.crt 2>/dev/null
printf '1234\n' >pin
chmod 600 pin
TOKEN="pkcs11:token=tb-tpm"
Q="module-path=$MODULE"
KEY="$TOKEN;object=tb-db;type=private?$Q&pin-source=$WORK/pin"
WRONG="$TOKEN;object=tb-db?$Q&pin-value=9999"

# expect_token_error PATTERN CMD…: CMD fails with exit status 1 and writes exactly one line of its
# own, matching PATTERN; any other stderr line must be tpm2-pkcs11's own log format.
expect_token_error() {
  local pattern=$1 rc=0 own; shift
  "$@" >"$WORK/.out" 2>"$WORK/.err" || rc=$?
  flush_all
  [ "$rc" -eq 1 ] || fail "exit status $rc, expected 1, from: $* — $(cat "$WORK/.err")"
  own=$(grep -v -E '^(ERROR|WARNING): ' "$WORK/.err" || true)
  [ "$(printf '%s' "$own" | grep -c '')" -eq 1 ] || fail "trustboot's error is not one line: $own"
  ERR=$own
  grep -q -- "$pattern" <<<"$ERR" || fail "the error lacks '$pattern': $ERR"
  if grep -q 9999 "$WORK/.err"; then fail "the PIN appears in the error: $ERR"; fi
}

# --- the token's key signs ---
tb() { "$TRUSTBOOT" "$@" || fail "trustboot $* failed"; flush_all; }
tb sign --key "$KEY" --cert db.crt -o signed.efi "$sd"
sbverify --cert ca.crt signed.efi >/dev/null 2>&1 || fail "sbverify rejects the binary signed with the TPM token's key"
synthetic_rootfs root
export SOURCE_DATE_EPOCH=1700000000
openssl genrsa -out pcr.key 2048 2>/dev/null
tb -q build-uki dir:root -t uki -d out --sb-key "$KEY" --sb-cert db.crt --tpm-pcr-private-key pcr.key >/dev/null
n=0
while IFS= read -r -d '' efi; do
  sbverify --cert ca.crt "$efi" >/dev/null 2>&1 || fail "sbverify rejects $efi signed with the TPM token's key"
  n=$((n + 1))
done < <(find out -iname '*.efi' -print0)
[ "$n" -ge 2 ] || fail "build-uki wrote only $n EFI binaries"
echo "ok: a key generated in the TPM token signs (sign, build-uki: $n EFI binaries); sbverify accepts"

# --- wrong PINs: one line each, counted by the TPM ---
assert_eq "$(tpm_prop TPM2_PT_LOCKOUT_COUNTER)" 0x0 "failed authorizations before the wrong PINs"
for i in 1 2 3; do
  expect_token_error "token 'tb-tpm': wrong PIN" "$TRUSTBOOT" sign --key "$WRONG" --cert db.crt -o x.efi "$sd"
  assert_eq "$(tpm_prop TPM2_PT_LOCKOUT_COUNTER)" "0x$i" "the TPM's failure counter after wrong PIN $i"
done
tpm2_getcap properties-variable | contains 'inLockout: *1' || fail "the TPM is not in lockout after 3 wrong PINs"
echo "ok: wrong PIN: one line each, counted by the TPM; after 3 the TPM is in lockout"

# --- locked: the right PIN is refused, one line, nothing written ---
LOCKED="token 'tb-tpm': its user PIN is locked after too many wrong PINs"
expect_token_error "$LOCKED" "$TRUSTBOOT" sign --key "$KEY" --cert db.crt -o x.efi "$sd"
grep -q "refuses every login, the right PIN too" <<<"$ERR" || fail "the locked-PIN line does not say the right PIN is refused too: $ERR"
grep -q "dictionary-attack lockout" <<<"$ERR" || fail "the locked-PIN line does not say how a TPM token is unlocked: $ERR"
[ ! -e x.efi ] || fail "sign with a locked token wrote its output"
expect_token_error "$LOCKED" "$TRUSTBOOT" -q build-uki dir:root -t uki -d out-locked --sb-key "$KEY" --sb-cert db.crt \
  --tpm-pcr-private-key pcr.key
[ ! -e out-locked ] || [ -z "$(ls -A out-locked)" ] || fail "build-uki with a locked token wrote: $(ls -A out-locked)"
expect_token_error "$LOCKED" "$TRUSTBOOT" genkey Fleet --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING \
  --pkcs11 "$TOKEN?$Q&pin-source=$WORK/pin" -o keys
[ ! -e keys ] || [ -z "$(ls -A keys)" ] || fail "genkey with a locked token wrote: $(ls -A keys)"
echo "ok: locked token: sign, build-uki and genkey say the PIN is locked (one line, exit 1, nothing written)"

# --- unlocked as the message says (the TPM's lockout cleared): the token signs again ---
tpm2_dictionarylockout -c >/dev/null
tb sign --key "$KEY" --cert db.crt -o again.efi "$sd"
sbverify --cert ca.crt again.efi >/dev/null 2>&1 || fail "sbverify rejects the binary signed after the lockout was cleared"
echo "ok: lockout cleared: the token signs again"
