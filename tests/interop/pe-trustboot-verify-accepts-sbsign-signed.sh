#!/usr/bin/env bash
# Images signed by sbsign pass `trustboot verify --cert`, and only with the signer's certificate;
# the Debian kernel's own signature verifies against the Debian signer certificate it embeds.
. "$(dirname "$0")/lib/pe.sh"
need sbsign sbattach objcopy openssl
images_under_test

for img in "$WORK"/img/*.efi; do
        name=$(basename "$img")
        cp "$img" "$WORK/in"
        if [ "$name" = vmlinuz.efi ]; then
                # Debian's signature first: check it against the signer certificate inside it.
                sbattach --detach "$WORK/sig.p7" "$WORK/in" >/dev/null 2>&1 || fail "$name: sbattach --detach failed"
                openssl pkcs7 -inform DER -in "$WORK/sig.p7" -print_certs >"$WORK/certs.pem" ||
                        fail "$name: cannot read the Debian signature"
                awk '/BEGIN CERT/ { n++ } n == 1' "$WORK/certs.pem" >"$WORK/debian-signer.pem"
                grep -q 'BEGIN CERT' "$WORK/debian-signer.pem" || fail "$name: no certificate in Debian's signature"
                "$TRUSTBOOT" verify --cert "$WORK/debian-signer.pem" "$WORK/in" >/dev/null ||
                        fail "$name: trustboot verify rejects Debian's own signature"
                sbattach --remove "$WORK/in" >/dev/null 2>&1 || fail "$name: sbattach --remove failed"
        fi
        sbsign --key "$key" --cert "$cert" --output "$WORK/out" "$WORK/in" >/dev/null 2>&1 || fail "$name: sbsign failed"
        "$TRUSTBOOT" verify --cert "$cert" "$WORK/out" >/dev/null || fail "$name: trustboot verify rejects sbsign's signature"
        if "$TRUSTBOOT" verify --cert "$other_cert" "$WORK/out" >/dev/null 2>&1; then
                fail "$name: trustboot verify accepts a certificate that did not sign"
        fi
        if "$TRUSTBOOT" verify --cert "$cert" "$WORK/in" >/dev/null 2>&1; then
                fail "$name: trustboot verify accepts an unsigned image"
        fi
        echo "ok: $name signed by sbsign verifies with trustboot"
done
