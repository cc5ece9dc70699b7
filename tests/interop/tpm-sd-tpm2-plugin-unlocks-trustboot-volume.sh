#!/usr/bin/env bash
# trustboot encrypt → systemd 252's own TPM2 token plugin unlocks the volume once PCR 11 is at
# a value systemd-measure signed; trustboot unlock --test agrees; every wrong state is refused
# with a clear reason; the recovery key opens the volume; no TPM handle is left behind.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tpm2.sh"
need swtpm tpm2_pcrextend tpm2_getcap cryptsetup openssl python3
need_file "$SYSTEMD_MEASURE" "$SD_PLUGIN" "$SD_TPM2_TOKEN"

swtpm_start
make_uki_inputs
IMG=$WORK/vol.img
truncate -s 20M "$IMG"

# Literal PCR 7 too: its value at enrollment is bound.
pcr_extend 7 "$(printf 'secure-boot-state' | sha256_of)"
"$TRUSTBOOT" -q encrypt "$IMG" --label data --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-pcrs 7 \
  --tpm2-device "$TCTI" --recovery-key "$WORK/recovery.key"
assert_no_handles "trustboot encrypt"
[ "$(stat -c %a "$WORK/recovery.key")" = 600 ] || fail "recovery key file mode is $(stat -c %a "$WORK/recovery.key")"
grep -qE '^([cbdefghijklnrtuv]{8}-){7}[cbdefghijklnrtuv]{8}$' "$WORK/recovery.key" || fail "recovery key format"
expect_refusal "second encrypt over an existing recovery key file" "never overwritten" \
  "$TRUSTBOOT" encrypt "$IMG" --label data --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI" \
  --recovery-key "$WORK/recovery.key"

# The token as systemd 252 writes it: key order, types, keyslot 0, v252 fields only.
cryptsetup token export --token-id 0 "$IMG" > "$WORK/token.json"
python3 - "$WORK/token.json" <<'PY' || fail "token JSON shape: $(cat "$WORK/token.json")"
import json, sys
t = json.load(open(sys.argv[1]))
assert list(t) == ["type", "keyslots", "tpm2-blob", "tpm2-pcrs", "tpm2-pcr-bank", "tpm2-primary-alg",
                   "tpm2-policy-hash", "tpm2-pin", "tpm2_pubkey_pcrs", "tpm2_pubkey"], list(t)
assert t["keyslots"] == ["0"] and t["tpm2-pcrs"] == [7] and t["tpm2_pubkey_pcrs"] == [11], t
assert t["tpm2-pcr-bank"] == "sha256" and t["tpm2-primary-alg"] == "ecc" and t["tpm2-pin"] is False
PY
cryptsetup luksDump --dump-json-metadata "$IMG" > "$WORK/meta.json"
python3 - "$WORK/meta.json" <<'PY' || fail "keyslots: $(cat "$WORK/meta.json")"
import json, sys
m = json.load(open(sys.argv[1]))
tpm, rec = m["keyslots"]["0"], m["keyslots"]["1"]
assert tpm["kdf"]["type"] == "pbkdf2" and tpm["kdf"]["hash"] == "sha512" and tpm["kdf"]["iterations"] == 1000, tpm
assert tpm["key_size"] == 64 and rec["kdf"]["type"] == "argon2id", (tpm, rec)
seg = m["segments"]["0"]
assert seg["encryption"] == "aes-xts-plain64", seg
assert m["tokens"]["0"]["type"] == "systemd-tpm2" and m["config"]["keyslots_size"], m
PY
[ "$(cryptsetup luksDump "$IMG" | sed -n 's/^Label:[[:space:]]*//p')" = data ] || fail "LUKS2 label is not 'data'"

measure_sign pcr enter-initrd enter-initrd:leave-initrd > "$WORK/sig.json"
measure_sign other enter-initrd > "$WORK/other-sig.json"

printf '{"sha256":' > "$WORK/broken.json"
expect_refusal "broken signature file" "broken.json: not a PCR signature JSON document" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/broken.json"
assert_no_handles "a refused unlock (broken signature file)"

# PCR 11 at zero: no signature covers it.
expect_refusal "PCR 11 unmeasured" "no signature by key" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json"
assert_no_handles "a refused unlock (PCR 11 unmeasured)"

# PCR 11 as the stub measures it but before the initrd phase: not a signed phase either.
pcr11_boot
[ "$(pcr11_value)" = "$(measure_calculate '')" ] || fail "PCR 11 replay $(pcr11_value) != systemd-measure's"
expect_refusal "PCR 11 at an unsigned value" "no signature by key" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json"
if sd_token_unlock "$IMG" "$TCTI" "$WORK/sig.json" 2>/dev/null; then fail "systemd plugin unlocked at unsigned PCR 11"; fi
flush_all

# enter-initrd: signed.
pcr_extend 11 "$(printf 'enter-initrd' | sha256_of)"
[ "$(pcr11_value)" = "$(measure_calculate enter-initrd)" ] || fail "PCR 11 is not the enter-initrd value"
slot=$(sd_token_unlock "$IMG" "$TCTI" "$WORK/sig.json") || fail "systemd's token plugin did not unlock our volume"
[ "$slot" = 0 ] || fail "systemd's plugin unlocked keyslot $slot, expected 0"
flush_all
"$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json" > "$WORK/out" \
  || fail "trustboot unlock --test failed at a signed PCR 11"
grep -q 'keyslot 0 unlocks' "$WORK/out" || fail "unlock --test output: $(cat "$WORK/out")"
assert_no_handles "trustboot unlock --test"
# Without --pcr-signature: /run/systemd/tpm2-pcr-signature.json, as the initrd's tmpfiles put it
# (in a private mount namespace, never the host's /run/systemd).
if unshare -m true 2>/dev/null; then
  unshare -m --propagation private bash -c 'mount -t tmpfs tmpfs /run/systemd &&
    cp "$1" /run/systemd/tpm2-pcr-signature.json && "$2" -q unlock "$3" --test --tpm2-device "$4"' _ \
    "$WORK/sig.json" "$TRUSTBOOT" "$IMG" "$TCTI" > /dev/null || fail "no unlock with the signature in /run/systemd"
  assert_no_handles "trustboot unlock --test (default signature path)"
else
  echo "note: no mount namespaces here, default signature path not checked"
fi

# Signatures by another key: not found under our key's fingerprint…
expect_refusal "signature by another key" "no signature by key" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/other-sig.json"
assert_no_handles "a refused unlock (other key)"
# …and when relabelled with our fingerprint, the TPM's VerifySignature rejects it.
python3 - "$WORK/sig.json" "$WORK/other-sig.json" > "$WORK/forged.json" <<'PY'
import json, sys
ours, other = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ours["sha256"][0]["sig"] = other["sha256"][0]["sig"]
print(json.dumps(ours))
PY
expect_refusal "forged signature" "does not verify with the enrolled public key" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/forged.json"
assert_no_handles "a refused unlock (forged signature)"
if sd_token_unlock "$IMG" "$TCTI" "$WORK/forged.json" 2>/dev/null; then fail "systemd plugin accepted a forged signature"; fi
flush_all

# The next signed phase still unlocks (second entry of the signature file).
pcr_extend 11 "$(printf 'leave-initrd' | sha256_of)"
"$TRUSTBOOT" -q unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json" >/dev/null \
  || fail "trustboot unlock --test failed at enter-initrd:leave-initrd"
assert_no_handles "trustboot unlock --test (second phase)"

# PCR 7 changed after enrollment.
pcr_extend 7 "$(printf 'another-db' | sha256_of)"
expect_refusal "PCR 7 changed" "PCR 7 (sha256) changed since enrollment" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json"
assert_no_handles "a refused unlock (PCR 7 changed)"
if sd_token_unlock "$IMG" "$TCTI" "$WORK/sig.json" 2>/dev/null; then fail "systemd plugin unlocked with PCR 7 changed"; fi
flush_all

# A PIN enrollment: systemd 252 turns the PIN into SHA256(PIN) too.
truncate -s 20M "$WORK/pin.img"
echo 1234 | "$TRUSTBOOT" -q encrypt "$WORK/pin.img" --label pin --pcr-public-key "$WORK/pcr.pub.pem" \
  --tpm2-pin --tpm2-device "$TCTI"
assert_no_handles "trustboot encrypt --tpm2-pin"
cryptsetup token export --token-id 0 "$WORK/pin.img" | grep -q '"tpm2-pin":true' || fail "PIN token lacks tpm2-pin"
expect_refusal "wrong PIN" "wrong PIN" \
  "$TRUSTBOOT" unlock "$WORK/pin.img" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json" <<< 4321
assert_no_handles "a refused unlock (wrong PIN)"
sd_token_unlock "$WORK/pin.img" "$TCTI" "$WORK/sig.json" 1234 >/dev/null \
  || fail "systemd's token plugin did not unlock our PIN volume with the right PIN"
flush_all
echo 1234 | "$TRUSTBOOT" -q unlock "$WORK/pin.img" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json" \
  >/dev/null || fail "trustboot unlock --test with the right PIN failed"
assert_no_handles "trustboot unlock --test (PIN)"
# A PIN whose SHA-256 ends in 0x00: systemd 252's plugin fails its bound session on such a volume
# (the TPM trims the auth value, 252 does not), so encrypt refuses the PIN before touching the image.
[ "$(printf 100051 | sha256_of | tail -c 3)" = 00 ] || fail "the PIN 100051 does not hash to a trailing zero"
truncate -s 20M "$WORK/pin0.img"
expect_refusal "a PIN 252 cannot use" "PIN refused: systemd 252 cannot unlock" \
  "$TRUSTBOOT" encrypt "$WORK/pin0.img" --label pin0 --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-pin \
  --tpm2-device "$TCTI" <<< 100051
cryptsetup isLuks "$WORK/pin0.img" && fail "encrypt wrote a LUKS header although it refused the PIN"
assert_no_handles "a refused encrypt (PIN)"

# The recovery key still opens the volume, whatever the TPM says.
cryptsetup open --test-passphrase --key-file "$WORK/recovery.key" --key-slot 1 "$IMG" \
  || fail "the recovery key does not open keyslot 1"
echo "ok: systemd's plugin and trustboot unlock our enrollment only in signed states; recovery key works"
