#!/usr/bin/env bash
# PCR key rotation on a volume (swtpm): `encrypt --add-pcr-key NEW.pem` unseals the volume's
# current systemd-tpm2 token (old PCR key's signed policy) and adds a second keyslot + token bound
# to the new key; afterwards policies signed by either key unlock it, and systemd-measure's
# signatures by the new key work before any UKI carries them. Without a policy the TPM accepts
# now, nothing is added.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/tpm2.sh"
need swtpm tpm2_pcrextend cryptsetup openssl
need_file "$SYSTEMD_MEASURE"

swtpm_start
make_uki_inputs
IMG=$WORK/a.img
truncate -s 20M "$IMG"
"$TRUSTBOOT" -q encrypt "$IMG" --label data --pcr-public-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI" >/dev/null
flush_all
measure_sign pcr enter-initrd >"$WORK/sig-old.json"
measure_sign other enter-initrd >"$WORK/sig-new.json"
pcr11_boot enter-initrd
# Each TPM keyslot carries two systemd-tpm2 tokens of the same secret: legacy primary and SRK.
tokens() { cryptsetup luksDump "$IMG" | grep -c 'systemd-tpm2'; }
unlock() { "$TRUSTBOOT" -q unlock "$IMG" --test --tpm2-device "$TCTI" --pcr-signature "$1" </dev/null >/dev/null 2>&1; }

unlock "$WORK/sig-old.json" || fail "the fresh volume does not unlock with the old key's policy"
if unlock "$WORK/sig-new.json"; then fail "the new key unlocks before it was added"; fi

# The current token cannot be unsealed with the new key's signatures: refused, nothing added.
rc=0; "$TRUSTBOOT" encrypt "$IMG" --add-pcr-key "$WORK/other.pub.pem" --pcr-signature "$WORK/sig-new.json" \
  --tpm2-device "$TCTI" 2>"$WORK/err" || rc=$?
[ "$rc" -ne 0 ] || fail "--add-pcr-key succeeded without a policy the TPM accepts"
assert_eq "$(tokens)" 2 "tokens after a refused --add-pcr-key"
flush_all

"$TRUSTBOOT" -q encrypt "$IMG" --add-pcr-key "$WORK/other.pub.pem" --pcr-signature "$WORK/sig-old.json" \
  --tpm2-device "$TCTI" || fail "--add-pcr-key failed: $(cat "$WORK/err")"
assert_eq "$(tokens)" 4 "systemd-tpm2 tokens after --add-pcr-key"
flush_all
unlock "$WORK/sig-new.json" || fail "the new PCR key's policy does not unlock after --add-pcr-key"
unlock "$WORK/sig-old.json" || fail "the old PCR key's policy no longer unlocks"

# The end of the rotation: --remove-pcr-key OLD only once a token of another key unseals now.
keyslots() { cryptsetup luksDump "$IMG" | grep -cE '^  [0-9]+: luks2'; }
slots_before=$(keyslots)
rc=0; "$TRUSTBOOT" encrypt "$IMG" --remove-pcr-key "$WORK/pcr.pub.pem" --pcr-signature "$WORK/sig-old.json" \
  --tpm2-device "$TCTI" 2>"$WORK/err" || rc=$?
[ "$rc" -ne 0 ] || fail "--remove-pcr-key succeeded while only the old key's policy is at hand"
assert_eq "$(wc -l <"$WORK/err")" 1 "lines of the refusal: $(cat "$WORK/err")"
contains 'no other systemd-tpm2 token unseals now' "$WORK/err" || fail "refusal: $(cat "$WORK/err")"
assert_eq "$(tokens)" 4 "tokens after a refused --remove-pcr-key"
flush_all
"$TRUSTBOOT" -q encrypt "$IMG" --remove-pcr-key "$WORK/pcr.pub.pem" --pcr-signature "$WORK/sig-new.json" \
  --tpm2-device "$TCTI" 2>"$WORK/err" || fail "--remove-pcr-key failed: $(cat "$WORK/err")"
assert_eq "$(tokens)" 2 "systemd-tpm2 tokens after --remove-pcr-key"
assert_eq "$(keyslots)" "$((slots_before - 1))" "keyslots after --remove-pcr-key"
flush_all
if unlock "$WORK/sig-old.json"; then fail "the old PCR key still unlocks after --remove-pcr-key"; fi
flush_all
unlock "$WORK/sig-new.json" || fail "the new PCR key's policy does not unlock after --remove-pcr-key"
rc=0; "$TRUSTBOOT" encrypt "$IMG" --remove-pcr-key "$WORK/pcr.pub.pem" --tpm2-device "$TCTI" 2>"$WORK/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a second --remove-pcr-key succeeded"
contains 'no systemd-tpm2 token is bound to that PCR key' "$WORK/err" || fail "second removal: $(cat "$WORK/err")"
# The only token: never removed, whatever the signatures.
rc=0; "$TRUSTBOOT" encrypt "$IMG" --remove-pcr-key "$WORK/other.pub.pem" --pcr-signature "$WORK/sig-new.json" \
  --tpm2-device "$TCTI" 2>"$WORK/err" || rc=$?
[ "$rc" -ne 0 ] || fail "the only TPM2 token was removed"
contains 'not removing the only TPM2 key' "$WORK/err" || fail "only-token refusal: $(cat "$WORK/err")"
assert_eq "$(tokens)" 2 "tokens after refusing to remove the only one"
assert_no_handles "--add-pcr-key, --remove-pcr-key and unlocks"
echo "ok: --add-pcr-key adds a keyslot bound to the new PCR key; both keys unlock; refused without a valid policy;" \
  "--remove-pcr-key removes the old key's keyslot once the new one unseals, never the only one"
