#!/usr/bin/env bash
# Volumes enrolled by systemd-cryptenroll 257 (run in the Debian 13 chroot of
# tests/images/systemd-oracle.sh against a private swtpm) in 257's default token shape — sealed
# under the SRK at 0x81000001 (tpm2_srk), PIN salted (tpm2_salt) — are unlocked by
# `trustboot unlock --test` on the host (the unsealed key is checked against the keyslot by
# libcryptsetup, nothing activated): PCR 7 bound; signed PCR 11 policy; signed + PCR 7 + PIN; and a
# blob sealed offline against the SRK's public key (--tpm2-device-key, an import seed in the blob);
# a token in 257's shape whose salted PIN gives an auth value with a trailing zero byte; and the
# token systemd 255 wrote for a signed policy (PCR key Name with exponent 0, bug #30546).
# Refused, each in one line: wrong / no PIN, PCR 7 changed, unsigned PCR 11, the SRK gone, the SRK
# replaced by another key.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for tool in swtpm tpm2_getcap tpm2_pcrextend tpm2_evictcontrol cryptsetup openssl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not available"; exit 77; }
done
. "$here/lib/oracle257.sh"
oracle_check_257 systemd-cryptenroll

# The work dir (swtpm socket, images, keys) lives inside the chroot so that the oracle reaches it.
export TMPDIR="$ORACLE/tmp"
. "$here/lib/common.sh"
. "$here/lib/tpm2.sh"
need_file "$SYSTEMD_MEASURE"
swtpm_start
make_uki_inputs
printf 'test-passphrase' > "$WORK/pass"
chmod 600 "$WORK/pass"

TCTI_IN_ROOT="swtpm:path=$(oracle_path "$WORK/tpm/sock")"

luks_image() {
  truncate -s 20M "$1"
  cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file "$WORK/pass" "$1"
}

# secret_volume X: $WORK/X.img with the base64 of $WORK/X.secret as keyslot 1, as systemd-cryptenroll
# adds a TPM2 slot (for tokens this test writes itself).
secret_volume() {
  luks_image "$WORK/$1.img"
  base64 -w0 "$WORK/$1.secret" > "$WORK/$1.pass"
  cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$WORK/pass" \
    "$WORK/$1.img" "$WORK/$1.pass"
}
# enroll IMAGE ARGS…: systemd-cryptenroll 257 in the chroot against our swtpm (or, with
# --tpm2-device-key in ARGS, offline); the new PIN, if any, from $NEWPIN.
enroll() {
  local img=$1 dev=(--tpm2-device="$TCTI_IN_ROOT"); shift
  case "$*" in *--tpm2-device-key=*) dev=() ;; esac
  luks_image "$img"
  chroot "$ORACLE" /usr/bin/env ${NEWPIN:+NEWPIN="$NEWPIN"} systemd-cryptenroll \
    --unlock-key-file="$(oracle_path "$WORK/pass")" "${dev[@]}" "$@" "$(oracle_path "$img")" \
    >"$WORK/enroll.log" 2>&1 || fail "systemd-cryptenroll 257 $* failed: $(tail -n3 "$WORK/enroll.log")"
  flush_all
  cryptsetup token export --token-id 0 "$img" > "$img.token"
}
token_has() { grep -q "\"$2\"" "$1.token" || fail "$(basename "$1"): the 257 token has no $2: $(cat "$1.token")"; }
token_lacks() { ! grep -q "\"$2\"" "$1.token" || fail "$(basename "$1"): the 257 token has $2: $(cat "$1.token")"; }

# Enrollment states: PCR 7 at a "secure boot" value, PCR 11 at the signed enter-initrd phase.
pcr_extend 7 "$(printf 'secure-boot-state' | sha256_of)"
pcr11_boot enter-initrd
measure_sign pcr enter-initrd > "$WORK/sig.json"

# A: PCR 7 only — 257's default sealing under the SRK (created and persisted by cryptenroll).
enroll "$WORK/a.img" --tpm2-pcrs=7
token_has "$WORK/a.img" tpm2_srk
tpm2_getcap handles-persistent | grep -q 0x81000001 || fail "no SRK at 0x81000001 after the 257 enrollment"
# B: signed PCR 11 policy only; 257 checks the signature by unsealing once at enrollment.
enroll "$WORK/b.img" --tpm2-public-key="$(oracle_path "$WORK/pcr.pub.pem")" --tpm2-public-key-pcrs=11 \
  --tpm2-signature="$(oracle_path "$WORK/sig.json")" --tpm2-pcrs=
token_has "$WORK/b.img" tpm2_pubkey
token_lacks "$WORK/b.img" tpm2-pin
# C: signed PCR 11 + PCR 7 + a PIN, salted by 257.
NEWPIN=4711 enroll "$WORK/c.img" --tpm2-public-key="$(oracle_path "$WORK/pcr.pub.pem")" --tpm2-public-key-pcrs=11 \
  --tpm2-signature="$(oracle_path "$WORK/sig.json")" --tpm2-pcrs=7 --tpm2-with-pin=yes
token_has "$WORK/c.img" tpm2_salt
grep -q '"tpm2-pin":true' "$WORK/c.img.token" || fail "C has no PIN token"
# D: sealed without the TPM against the SRK's public key and PCR 7's value: the blob carries a seed.
tpm2_readpublic -c 0x81000001 -o "$WORK/srk.tpm2b_public" >/dev/null
enroll "$WORK/d.img" --tpm2-device-key="$(oracle_path "$WORK/srk.tpm2b_public")" \
  --tpm2-pcrs="7:sha256=$(tpm2_pcrread sha256:7 | sed -n 's/.*7 *: 0x//p')"
token_has "$WORK/d.img" tpm2_srk
# E: by hand, in 257's shape, a salted PIN whose auth value SHA-256(base64(PBKDF2(PIN, salt)))
# ends in 0x00 (1 enrollment in 256): the TPM drops trailing zeros of an auth value, so an unsealer
# must too. systemd 257's own unlock (cryptenroll --unlock-tpm2-device) opens it as the oracle.
E_PIN=200011 E_SALT=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
python3 - "$E_PIN" "$E_SALT" "$WORK/e" <<'PY'
import base64, hashlib, sys
pin, salt, out = sys.argv[1].encode(), base64.b64decode(sys.argv[2]), sys.argv[3]
auth = hashlib.sha256(base64.b64encode(hashlib.pbkdf2_hmac("sha256", pin, salt, 10000, 32))).digest()
assert auth[-1] == 0, "the PIN of E does not give an auth value ending in 0x00"
open(out + ".auth", "w").write(auth.hex())
# PolicyAuthValue from the empty policy: SHA-256(0^32 || TPM_CC_PolicyAuthValue)
open(out + ".policy", "wb").write(hashlib.sha256(bytes(32) + bytes.fromhex("0000016b")).digest())
PY
head -c 32 /dev/urandom > "$WORK/e.secret"
tpm2_create -C 0x81000001 -a 'fixedtpm|fixedparent' -L "$WORK/e.policy" -p "hex:$(cat "$WORK/e.auth")" \
  -i "$WORK/e.secret" -u "$WORK/e.pub" -r "$WORK/e.priv" >/dev/null
tpm2_readpublic -c 0x81000001 -t "$WORK/e.srk" >/dev/null
flush_all
secret_volume e
printf '{"type":"systemd-tpm2","keyslots":["1"],"tpm2-blob":"%s","tpm2-pcrs":[],"tpm2-pcr-bank":"sha256","tpm2-primary-alg":"ecc","tpm2-policy-hash":"%s","tpm2-pin":true,"tpm2_salt":"%s","tpm2_srk":"%s"}' \
  "$(cat "$WORK/e.priv" "$WORK/e.pub" | base64 -w0)" "$(od -An -tx1 -v "$WORK/e.policy" | tr -d ' \n')" \
  "$E_SALT" "$(base64 -w0 "$WORK/e.srk")" > "$WORK/e.token"
cryptsetup token import --json-file "$WORK/e.token" "$WORK/e.img"
# oracle_unlock IMAGE [ENV…]: systemd 257 unlocks (a copy of) IMAGE with its TPM2 token and enrolls
# a second one (a TPM2 keyslot: minimal PBKDF, unlike a password's argon2id).
oracle_unlock() {
  local img=$1.oracle; shift
  cp --sparse=always "${img%.oracle}" "$img"
  chroot "$ORACLE" /usr/bin/env "$@" systemd-cryptenroll --unlock-tpm2-device="$TCTI_IN_ROOT" \
    --tpm2-device="$TCTI_IN_ROOT" --tpm2-pcrs= "$(oracle_path "$img")" >"$WORK/enroll.log" 2>&1 ||
    fail "systemd 257 does not unlock the hand-made token $(basename "$img"): $(tail -n3 "$WORK/enroll.log")"
  flush_all
  cryptsetup token export --token-id 1 "$img" >/dev/null || fail "systemd 257 unlocked $(basename "$img") but added no token"
}
oracle_unlock "$WORK/e.img" PIN="$E_PIN"
# F: by hand, the token systemd 255 wrote for --tpm2-public-key (bug #30546): the policy authorizes
# the PCR key's Name with its exponent 65537 marshalled as 0. The same computation with the real
# exponent must give B's policy hash (so the construction is systemd's); 257's own unlock, which
# retries with exponent 0, is the oracle (signature in /run/systemd of a private mount namespace).
policy_authorize() { # PEM EXPONENT > policy digest (hex)
  python3 - "$1" "$2" "$(openssl rsa -pubin -in "$1" -noout -modulus | cut -d= -f2)" <<'PY'
import hashlib, struct, sys
exp, n = int(sys.argv[2]), bytes.fromhex(sys.argv[3])
# TPMT_PUBLIC as systemd builds it for a PEM key: RSA, SHA-256, decrypt|sign|userWithAuth, no policy,
# NULL symmetric and scheme, key bits, exponent, modulus.
pub = struct.pack(">HHIHHHHI", 0x0001, 0x000b, 0x00060040, 0, 0x0010, 0x0010, len(n) * 8, exp)
pub += struct.pack(">H", len(n)) + n
name = b"\x00\x0b" + hashlib.sha256(pub).digest()
d = hashlib.sha256(bytes(32) + struct.pack(">I", 0x16a) + name).digest()
print(hashlib.sha256(d).hexdigest())  # then the empty policyRef
PY
}
grep -q "\"tpm2-policy-hash\":\"$(policy_authorize "$WORK/pcr.pub.pem" 65537)\"" "$WORK/b.img.token" ||
  fail "the PolicyAuthorize digest computed here is not the one systemd 257 wrote for B"
policy_authorize "$WORK/pcr.pub.pem" 0 | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read()))' > "$WORK/f.policy"
head -c 32 /dev/urandom > "$WORK/f.secret"
tpm2_create -C 0x81000001 -a 'fixedtpm|fixedparent' -L "$WORK/f.policy" -i "$WORK/f.secret" \
  -u "$WORK/f.pub" -r "$WORK/f.priv" >/dev/null
flush_all
secret_volume f
printf '{"type":"systemd-tpm2","keyslots":["1"],"tpm2-blob":"%s","tpm2-pcrs":[],"tpm2-pcr-bank":"sha256","tpm2-primary-alg":"ecc","tpm2-policy-hash":"%s","tpm2_pubkey_pcrs":[11],"tpm2_pubkey":"%s","tpm2_srk":"%s"}' \
  "$(cat "$WORK/f.priv" "$WORK/f.pub" | base64 -w0)" "$(od -An -tx1 -v "$WORK/f.policy" | tr -d ' \n')" \
  "$(base64 -w0 "$WORK/pcr.pub.pem")" "$(base64 -w0 "$WORK/e.srk")" > "$WORK/f.token"
cryptsetup token import --json-file "$WORK/f.token" "$WORK/f.img"
mkdir -p "$WORK/run/systemd"
cp "$WORK/sig.json" "$WORK/run/systemd/tpm2-pcr-signature.json"
cp --sparse=always "$WORK/f.img" "$WORK/f.img.oracle"
unshare -m --propagation private sh -c 'mount --bind "$1" "$2/run" && shift 2 && exec chroot "$@"' sh \
  "$WORK/run" "$ORACLE" "$ORACLE" systemd-cryptenroll --unlock-tpm2-device="$TCTI_IN_ROOT" \
  --tpm2-device="$TCTI_IN_ROOT" --tpm2-pcrs= "$(oracle_path "$WORK/f.img.oracle")" >"$WORK/enroll.log" 2>&1 ||
  fail "systemd 257 does not unlock the hand-made exponent-0 token F: $(tail -n3 "$WORK/enroll.log")"
flush_all
cryptsetup token export --token-id 1 "$WORK/f.img.oracle" >/dev/null || fail "systemd 257 unlocked F but added no token"
assert_no_handles "the enrollments (flushed)"
# G, the other way round: trustboot's SRK token (the second of its two tokens) in systemd 257's
# hands. The legacy token removed, 257's own unlock must take the SRK token (tpm2_srk).
truncate -s 20M "$WORK/g.img"
"$TRUSTBOOT" -q encrypt "$WORK/g.img" --label g --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI"
cryptsetup token export --token-id 1 "$WORK/g.img" | grep -q '"tpm2_srk"' || fail "trustboot's token 1 is not an SRK token"
cryptsetup token remove --token-id 0 "$WORK/g.img"
cp --sparse=always "$WORK/g.img" "$WORK/g.img.oracle"
unshare -m --propagation private sh -c 'mount --bind "$1" "$2/run" && shift 2 && exec chroot "$@"' sh \
  "$WORK/run" "$root" "$root" systemd-cryptenroll --unlock-tpm2-device="$TCTI_IN_ROOT" \
  --tpm2-device="$TCTI_IN_ROOT" --tpm2-pcrs= "$(in_root "$WORK/g.img.oracle")" >"$WORK/enroll.log" 2>&1 ||
  fail "systemd 257 does not unlock trustboot's SRK token: $(tail -n3 "$WORK/enroll.log")"
flush_all
assert_eq "$(cryptsetup luksDump "$WORK/g.img.oracle" | grep -c systemd-tpm2)" 2 "tokens after 257 unlocked G"

unlock() { "$TRUSTBOOT" -q unlock "$1" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json"; }
unlocks() { # IMAGE [PIN]
  local out
  out=$(if [ $# -gt 1 ]; then echo "$2"; fi | unlock "$1") || fail "trustboot cannot unlock the 257 volume $(basename "$1")"
  grep -q 'keyslot 1 unlocks' <<< "$out" || fail "$(basename "$1"): $out"
  assert_no_handles "trustboot unlock ($(basename "$1"))"
}
unlocks "$WORK/a.img"
unlocks "$WORK/b.img"
unlocks "$WORK/c.img" 4711
unlocks "$WORK/d.img"
unlocks "$WORK/e.img" "$E_PIN"
unlocks "$WORK/f.img"
expect_refusal "C without a PIN" "no PIN given" unlock "$WORK/c.img" < /dev/null
expect_refusal "C with a wrong PIN" "wrong PIN" unlock "$WORK/c.img" <<< 1234
assert_no_handles "a refused unlock (wrong PIN)"
echo 4711 | unlock "$WORK/c.img" >/dev/null || fail "C: the right PIN after a wrong one"

pcr_extend 7 "$(printf 'another-db' | sha256_of)"
expect_refusal "A with PCR 7 changed" "PCR 7 (sha256) changed since enrollment" unlock "$WORK/a.img"
expect_refusal "C with PCR 7 changed" "PCR 7 (sha256) changed since enrollment" unlock "$WORK/c.img" <<< 4711
expect_refusal "D with PCR 7 changed" "PCR 7 (sha256) changed since enrollment" unlock "$WORK/d.img"
pcr_extend 11 "$(printf 'leave-initrd' | sha256_of)"
expect_refusal "B at an unsigned PCR 11" "no signature by key" unlock "$WORK/b.img"
expect_refusal "F at an unsigned PCR 11" "no signature by key" unlock "$WORK/f.img"
assert_no_handles "refused unlocks"

# The SRK replaced by another persistent key at its handle, then gone: named, not a failed HMAC.
tpm2_evictcontrol -c 0x81000001 >/dev/null
tpm2_createprimary -C o -G rsa2048 -c "$WORK/other.ctx" >/dev/null
tpm2_evictcontrol -c "$WORK/other.ctx" 0x81000001 >/dev/null
flush_all
expect_refusal "B under another SRK" "is not the SRK the token was sealed under" unlock "$WORK/b.img"
tpm2_evictcontrol -c 0x81000001 >/dev/null
expect_refusal "B without an SRK" "no key at 0x81000001" unlock "$WORK/b.img"
assert_no_handles "refused unlocks (SRK)"
echo "ok: trustboot unlocks systemd-cryptenroll 257 volumes (SRK, signed policy, salted PIN, offline seal) and refuses the wrong states"
