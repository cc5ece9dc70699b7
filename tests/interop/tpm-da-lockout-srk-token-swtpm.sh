#!/usr/bin/env bash
# A TPM in dictionary-attack lockout (what repeated power cuts lead to: each unorderly shutdown
# after a DA-protected authorization counts as a failure) still unlocks trustboot's volumes:
# every keyslot carries a second systemd-tpm2 token sealed under the persistent SRK (TCG template,
# noDA), which trustboot tries first; loading under a noDA parent and a policy session that does not
# use the auth value are exempt from DA protection (TPM 2.0 Part 1 "Dictionary Attack Protection").
# The legacy-primary token — what systemd 252's plugin uses — is refused with TPM_RC_LOCKOUT, and so
# is trustboot when the SRK token is removed (the old single-token layout). Sealing in lockout writes
# the SRK token only, with a warning; without the SRK and in lockout, encrypt says so in one line.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tpm2.sh"
need swtpm tpm2_pcrextend tpm2_getcap tpm2_dictionarylockout tpm2_evictcontrol cryptsetup openssl python3
need_file "$SYSTEMD_MEASURE" "$SD_PLUGIN" "$SD_TPM2_TOKEN"

swtpm_start
make_uki_inputs
IMG=$WORK/vol.img
truncate -s 20M "$IMG"
"$TRUSTBOOT" -q encrypt "$IMG" --label data --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI"
assert_no_handles "trustboot encrypt"

# Two tokens on keyslot 0: legacy primary first (systemd 252 stops at the first that fails to
# load), then the SRK token naming the persistent key 0x81000001.
cryptsetup luksDump --dump-json-metadata "$IMG" > "$WORK/meta.json"
python3 - "$WORK/meta.json" <<'PY' || fail "tokens: $(cat "$WORK/meta.json")"
import json, sys
t = json.load(open(sys.argv[1]))["tokens"]
assert sorted(t) == ["0", "1"], t
assert all(v["type"] == "systemd-tpm2" and v["keyslots"] == ["0"] for v in t.values()), t
assert "tpm2_srk" not in t["0"] and "tpm2_srk" in t["1"], t
assert t["0"]["tpm2-policy-hash"] == t["1"]["tpm2-policy-hash"], t
PY
grep -q 0x81000001 <<< "$(tpm2_getcap handles-persistent)" || fail "no SRK persisted at 0x81000001"
srk_pub=$(tpm2_readpublic -c 0x81000001)
grep -q 'value: .*noda|restricted|decrypt' <<< "$srk_pub" || fail "the SRK is not a noDA storage key: $srk_pub"

measure_sign pcr enter-initrd > "$WORK/sig.json"
pcr11_boot enter-initrd
unlock() { "$TRUSTBOOT" unlock "$1" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json" </dev/null; }
unlock "$IMG" >/dev/null || fail "no unlock before the lockout"
sd_token_unlock "$IMG" "$TCTI" "$WORK/sig.json" >/dev/null || fail "systemd 252's plugin does not unlock before the lockout"
flush_all

# Lockout, as after a few power cuts in a row: maxTries 1 and one failed DA-protected authorization
# (a wrong password for a primary key without noDA) make failedTries >= maxTries.
tpm2_dictionarylockout --setup-parameters --max-tries=1 --recovery-time=600 --lockout-recovery-time=600 >/dev/null
tpm2_createprimary -C o -p right -c "$WORK/da.ctx" >/dev/null
if tpm2_create -C "$WORK/da.ctx" -P wrong -u "$WORK/x.pub" -r "$WORK/x.priv" >/dev/null 2>&1; then
  fail "a wrong password was accepted"
fi
flush_all
grep -q 'inLockout: *1' <<< "$(tpm2_getcap properties-variable)" || fail "the TPM is not in lockout"

# systemd 252's plugin takes the legacy token: refused by the TPM.
if sd_token_unlock "$IMG" "$TCTI" "$WORK/sig.json" 2>"$WORK/err"; then
  fail "systemd 252's plugin unlocked through the legacy primary in lockout"
fi
flush_all
# trustboot takes the SRK token: unlocks, with nothing left loaded.
unlock "$IMG" > "$WORK/out" 2>"$WORK/err" || fail "trustboot unlock failed in lockout: $(cat "$WORK/err")"
grep -q 'keyslot 0 unlocks' "$WORK/out" || fail "unlock --test output: $(cat "$WORK/out")"
assert_no_handles "trustboot unlock in lockout"

# A refused state is refused once (one line), the legacy token is not tried after the SRK one.
measure_sign other enter-initrd > "$WORK/other.json"
expect_refusal "other key's signature in lockout" "no signature by key" \
  "$TRUSTBOOT" unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/other.json"

# The old layout (legacy token only): locked out, with a line that says so.
cp "$IMG" "$WORK/legacy.img"
cryptsetup token remove --token-id 1 "$WORK/legacy.img"
expect_refusal "legacy-only volume in lockout" "dictionary-attack lockout" \
  "$TRUSTBOOT" unlock "$WORK/legacy.img" --test --tpm2-device "$TCTI" --pcr-signature "$WORK/sig.json"
assert_no_handles "a refused legacy unlock"

# Encrypting in lockout: the SRK token only, with a warning; it unlocks.
truncate -s 20M "$WORK/new.img"
"$TRUSTBOOT" encrypt "$WORK/new.img" --label new --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI" \
  >/dev/null 2>"$WORK/err" || fail "encrypt in lockout failed: $(cat "$WORK/err")"
grep -q 'in dictionary-attack lockout: sealed under the SRK only' "$WORK/err" || fail "no lockout warning: $(cat "$WORK/err")"
assert_eq "$(cryptsetup luksDump "$WORK/new.img" | grep -c systemd-tpm2)" 1 "tokens of a volume encrypted in lockout"
unlock "$WORK/new.img" >/dev/null || fail "the volume encrypted in lockout does not unlock"
assert_no_handles "encrypt and unlock in lockout"

# Another kind of key at 0x81000001 (a signing key): not used as the SRK, and in lockout nothing
# else to seal under: one line, the image untouched.
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null
tpm2_createprimary -C o -G rsa2048 -a 'sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda' \
  -c "$WORK/sign.ctx" >/dev/null
tpm2_evictcontrol -C o -c "$WORK/sign.ctx" 0x81000001 >/dev/null
tpm2_flushcontext -t >/dev/null
truncate -s 20M "$WORK/none.img"
expect_refusal "encrypt in lockout with a signing key at the SRK handle" \
  "in dictionary-attack lockout and no SRK to seal under (the key at 0x81000001 is not" \
  "$TRUSTBOOT" encrypt "$WORK/none.img" --label none --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI"
[ -z "$(blkid -p -o value -s TYPE "$WORK/none.img" 2>/dev/null)" ] || fail "the refused encrypt wrote the image"
assert_no_handles "a refused encrypt (signing key at 0x81000001)"
grep -q 'value: .*sign' <<< "$(tpm2_readpublic -c 0x81000001)" || fail "the signing key at 0x81000001 was replaced"

# No SRK and an owner auth value: neither key can be created.
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null
tpm2_changeauth -c owner ownerpass
expect_refusal "encrypt in lockout without an SRK" "owner hierarchy has an authorization value" \
  "$TRUSTBOOT" encrypt "$WORK/none.img" --label none --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI"
[ -z "$(blkid -p -o value -s TYPE "$WORK/none.img" 2>/dev/null)" ] || fail "the refused encrypt wrote the image"
assert_no_handles "a refused encrypt"
echo "ok: in DA lockout the SRK token unlocks (legacy refused), encrypt seals under the SRK only, refusals are one line"
