#!/usr/bin/env bash
# Images signed by `trustboot sign` pass sbverify and osslsigncode; signing is deterministic,
# the signed hash is the one sbsign computes, and the PE checksum is the one sbsign writes.
. "$(dirname "$0")/lib/pe.sh"
need sbsign sbverify osslsigncode objcopy openssl
images_under_test

for img in "$WORK"/img/*.efi; do
        name=$(basename "$img")
        out=$WORK/$name.signed
        replace=()
        # The Debian kernel is already signed (by Debian): replacing needs --replace.
        if "$TRUSTBOOT" inspect --json "$img" | grep -q '"signer"'; then
                if "$TRUSTBOOT" sign --key "$key" --cert "$cert" -o "$out" "$img" 2>"$WORK/err"; then
                        fail "$name: signing an already signed image without --replace succeeded"
                fi
                grep -q 'already signed' "$WORK/err" || fail "$name: unclear error: $(cat "$WORK/err")"
                replace=(--replace)
        fi
        "$TRUSTBOOT" sign --key "$key" --cert "$cert" "${replace[@]}" -o "$out" "$img" ||
                fail "$name: trustboot sign failed"
        sbverify --cert "$cert" "$out" >/dev/null 2>&1 || fail "$name: sbverify rejects the trustboot signature"
        if sbverify --cert "$other_cert" "$out" >/dev/null 2>&1; then
                fail "$name: sbverify accepts a certificate that did not sign"
        fi
        osslsigncode verify -CAfile "$cert" -in "$out" >"$WORK/oss" 2>&1 ||
                fail "$name: osslsigncode verify failed: $(grep -i -m3 -E 'fail|error|mismatch' "$WORK/oss")"

        "$TRUSTBOOT" sign --key "$key" --cert "$cert" "${replace[@]}" -o "$out.again" "$img"
        cmp -s "$out" "$out.again" || fail "$name: signing twice gave different bytes ($(cmp "$out" "$out.again"))"

        # Same key, same image: sbsign's signed digest and checksum computation must agree with ours.
        cp "$img" "$WORK/sb-in"
        if [ ${#replace[@]} -gt 0 ]; then
                sbattach --remove "$WORK/sb-in" >/dev/null 2>&1 || fail "$name: sbattach --remove failed"
        fi
        sbsign --key "$key" --cert "$cert" --output "$WORK/sb-out" "$WORK/sb-in" >/dev/null 2>&1 ||
                fail "$name: sbsign failed"
        ours=$(osslsigncode verify -CAfile "$cert" -in "$out" 2>&1 | awk '/Current message digest/ { print $5 }')
        theirs=$(osslsigncode verify -CAfile "$cert" -in "$WORK/sb-out" 2>&1 | awk '/Current message digest/ { print $5 }')
        [ -n "$ours" ] && [ "$ours" = "$theirs" ] || fail "$name: signed digest $ours, sbsign signs $theirs"
        calc=$(osslsigncode verify -CAfile "$cert" -in "$out" 2>&1 | awk '/Calculated message digest/ { print $5 }')
        [ "$calc" = "$ours" ] || fail "$name: osslsigncode computes $calc, we signed $ours"
        if grep -qi 'invalid PE checksum' "$WORK/oss"; then
                fail "$name: osslsigncode reports a wrong PE checksum: $(grep -i 'PE checksum' "$WORK/oss" | tr '\n' ' ')"
        fi
        echo "ok: $name signed, verified by sbverify and osslsigncode, digest $ours = sbsign's"
done

# In place (no -o): the file is replaced by the signed image; a second signature needs --replace
# and replaces the first rather than adding one.
cp "$WORK/img/linuxx64.stub.efi" "$WORK/inplace.efi"
"$TRUSTBOOT" sign --key "$key" --cert "$cert" "$WORK/inplace.efi"
cmp -s "$WORK/inplace.efi" "$WORK/linuxx64.stub.efi.signed" || fail "in-place signing differs from -o signing"
if "$TRUSTBOOT" sign --key "$other_key" --cert "$other_cert" "$WORK/inplace.efi" 2>/dev/null; then
        fail "re-signing a signed image without --replace succeeded"
fi
cmp -s "$WORK/inplace.efi" "$WORK/linuxx64.stub.efi.signed" || fail "a refused re-sign changed the file"
"$TRUSTBOOT" sign --key "$other_key" --cert "$other_cert" --replace "$WORK/inplace.efi"
sbverify --cert "$other_cert" "$WORK/inplace.efi" >/dev/null 2>&1 || fail "sbverify rejects the replaced signature"
if sbverify --cert "$cert" "$WORK/inplace.efi" >/dev/null 2>&1; then fail "the replaced signature is still there"; fi
[ "$("$TRUSTBOOT" inspect --json "$WORK/inplace.efi" | grep -c '"signer"')" = 1 ] || fail "--replace left more than one signature"
echo "ok: in-place signing and --replace"
