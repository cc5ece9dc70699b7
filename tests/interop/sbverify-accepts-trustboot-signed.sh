#!/usr/bin/env bash
# Images signed by `trustboot sign` pass sbverify and osslsigncode; signing is deterministic,
# the signed hash is the one sbsign computes, and the PE checksum is the one sbsign writes.
set -euo pipefail
. "$(dirname "$0")/pe-lib.sh"
need sbsign sbverify osslsigncode objcopy openssl
images_under_test

for img in "$work"/img/*.efi; do
        name=$(basename "$img")
        out=$work/$name.signed
        replace=()
        # The Debian kernel is already signed (by Debian): replacing needs --replace.
        if "$TRUSTBOOT" inspect --json "$img" | grep -q '"signer"'; then
                if "$TRUSTBOOT" sign --key "$key" --cert "$cert" -o "$out" "$img" 2>"$work/err"; then
                        fail "$name: signing an already signed image without --replace succeeded"
                fi
                grep -q 'already signed' "$work/err" || fail "$name: unclear error: $(cat "$work/err")"
                replace=(--replace)
        fi
        "$TRUSTBOOT" sign --key "$key" --cert "$cert" "${replace[@]}" -o "$out" "$img" ||
                fail "$name: trustboot sign failed"
        sbverify --cert "$cert" "$out" >/dev/null 2>&1 || fail "$name: sbverify rejects the trustboot signature"
        if sbverify --cert "$other_cert" "$out" >/dev/null 2>&1; then
                fail "$name: sbverify accepts a certificate that did not sign"
        fi
        osslsigncode verify -CAfile "$cert" -in "$out" >"$work/oss" 2>&1 ||
                fail "$name: osslsigncode verify failed: $(grep -i -m3 -E 'fail|error|mismatch' "$work/oss")"

        "$TRUSTBOOT" sign --key "$key" --cert "$cert" "${replace[@]}" -o "$out.again" "$img"
        cmp -s "$out" "$out.again" || fail "$name: signing twice gave different bytes ($(cmp "$out" "$out.again"))"

        # Same key, same image: sbsign's signed digest and checksum computation must agree with ours.
        cp "$img" "$work/sb-in"
        if [ ${#replace[@]} -gt 0 ]; then
                sbattach --remove "$work/sb-in" >/dev/null 2>&1 || fail "$name: sbattach --remove failed"
        fi
        sbsign --key "$key" --cert "$cert" --output "$work/sb-out" "$work/sb-in" >/dev/null 2>&1 ||
                fail "$name: sbsign failed"
        ours=$(osslsigncode verify -CAfile "$cert" -in "$out" 2>&1 | awk '/Current message digest/ { print $5 }')
        theirs=$(osslsigncode verify -CAfile "$cert" -in "$work/sb-out" 2>&1 | awk '/Current message digest/ { print $5 }')
        [ -n "$ours" ] && [ "$ours" = "$theirs" ] || fail "$name: signed digest $ours, sbsign signs $theirs"
        calc=$(osslsigncode verify -CAfile "$cert" -in "$out" 2>&1 | awk '/Calculated message digest/ { print $5 }')
        [ "$calc" = "$ours" ] || fail "$name: osslsigncode computes $calc, we signed $ours"
        if grep -qi 'invalid PE checksum' "$work/oss"; then
                fail "$name: osslsigncode reports a wrong PE checksum: $(grep -i 'PE checksum' "$work/oss" | tr '\n' ' ')"
        fi
        echo "ok: $name signed, verified by sbverify and osslsigncode, digest $ours = sbsign's"
done

# In place (no -o): the file is replaced by the signed image; a second signature needs --replace
# and replaces the first rather than adding one.
cp "$work/img/linuxx64.stub.efi" "$work/inplace.efi"
"$TRUSTBOOT" sign --key "$key" --cert "$cert" "$work/inplace.efi"
cmp -s "$work/inplace.efi" "$work/linuxx64.stub.efi.signed" || fail "in-place signing differs from -o signing"
if "$TRUSTBOOT" sign --key "$other_key" --cert "$other_cert" "$work/inplace.efi" 2>/dev/null; then
        fail "re-signing a signed image without --replace succeeded"
fi
cmp -s "$work/inplace.efi" "$work/linuxx64.stub.efi.signed" || fail "a refused re-sign changed the file"
"$TRUSTBOOT" sign --key "$other_key" --cert "$other_cert" --replace "$work/inplace.efi"
sbverify --cert "$other_cert" "$work/inplace.efi" >/dev/null 2>&1 || fail "sbverify rejects the replaced signature"
if sbverify --cert "$cert" "$work/inplace.efi" >/dev/null 2>&1; then fail "the replaced signature is still there"; fi
[ "$("$TRUSTBOOT" inspect --json "$work/inplace.efi" | grep -c '"signer"')" = 1 ] || fail "--replace left more than one signature"
echo "ok: in-place signing and --replace"
