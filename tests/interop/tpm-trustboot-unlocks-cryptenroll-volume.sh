#!/usr/bin/env bash
# Volumes enrolled by systemd-cryptenroll 252 (signed PCR 11 policy; + literal PCR 7 + PIN)
# are unlocked by trustboot unlock --test, and refused in the same wrong states.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tpm2.sh"
need swtpm tpm2_pcrextend tpm2_getcap cryptsetup openssl systemd-cryptenroll
need_file "$SYSTEMD_MEASURE"

swtpm_start
make_uki_inputs
printf 'test-passphrase' > "$WORK/pass"

luks_image() {
  truncate -s 20M "$1"
  cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --key-file "$WORK/pass" "$1"
}

# A: signed PCR 11 only, exactly as the issue's acceptance names it.
luks_image "$WORK/a.img"
systemd-cryptenroll --unlock-key-file="$WORK/pass" --tpm2-device="$TCTI" \
  --tpm2-public-key="$WORK/pcr.pub.pem" --tpm2-public-key-pcrs=11 --tpm2-pcrs= "$WORK/a.img" 2>/dev/null \
  || fail "systemd-cryptenroll (signed PCR 11) failed"
flush_all
# B: signed PCR 11 + PCR 7 literal + PIN (252 reads the new PIN from $NEWPIN).
pcr_extend 7 "$(printf 'secure-boot-state' | sha256_of)"
luks_image "$WORK/b.img"
NEWPIN=4711 systemd-cryptenroll --unlock-key-file="$WORK/pass" --tpm2-device="$TCTI" \
  --tpm2-public-key="$WORK/pcr.pub.pem" --tpm2-public-key-pcrs=11 --tpm2-pcrs=7 --tpm2-with-pin=yes \
  "$WORK/b.img" 2>/dev/null || fail "systemd-cryptenroll (PCR 7 + PIN) failed"
flush_all
cryptsetup token export --token-id 0 "$WORK/b.img" | grep -q '"tpm2-pin":true' || fail "B has no PIN token"

measure_sign pcr enter-initrd > "$WORK/sig.json"
pcr11_boot enter-initrd

unlock() { "$TRUSTBOOT" -q unlock "$1" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json"; }

unlock "$WORK/a.img" < /dev/null > "$WORK/out" || fail "trustboot cannot unlock the cryptenroll volume A"
grep -q 'keyslot 1 unlocks' "$WORK/out" || fail "A: $(cat "$WORK/out")"
assert_no_handles "trustboot unlock (A)"

expect_refusal "B without a PIN" "no PIN given" unlock "$WORK/b.img" < /dev/null
expect_refusal "B with a wrong PIN" "wrong PIN" unlock "$WORK/b.img" <<< 1234
assert_no_handles "a refused unlock (wrong PIN)"
echo 4711 | unlock "$WORK/b.img" > "$WORK/out" || fail "trustboot cannot unlock the cryptenroll PIN volume B"
grep -q 'keyslot 1 unlocks' "$WORK/out" || fail "B: $(cat "$WORK/out")"
assert_no_handles "trustboot unlock (B)"

pcr_extend 7 "$(printf 'another-db' | sha256_of)"
expect_refusal "B with PCR 7 changed" "PCR 7 (sha256) changed since enrollment" unlock "$WORK/b.img" <<< 4711
pcr_extend 11 "$(printf 'leave-initrd' | sha256_of)"
expect_refusal "A at an unsigned PCR 11" "no signature by key" unlock "$WORK/a.img"
assert_no_handles "refused unlocks"
echo "ok: trustboot unlocks systemd-cryptenroll 252 volumes and refuses the same wrong states"
