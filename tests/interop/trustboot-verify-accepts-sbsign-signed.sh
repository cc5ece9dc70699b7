#!/usr/bin/env bash
# Images signed by sbsign pass `trustboot verify --cert`, and only with the signer's certificate;
# the Debian kernel's own signature verifies against the Debian signer certificate it embeds.
set -euo pipefail
. "$(dirname "$0")/pe-lib.sh"
need sbsign sbattach objcopy openssl
images_under_test

for img in "$work"/img/*.efi; do
        name=$(basename "$img")
        cp "$img" "$work/in"
        if [ "$name" = vmlinuz.efi ]; then
                # Debian's signature first: check it against the signer certificate inside it.
                sbattach --detach "$work/sig.p7" "$work/in" >/dev/null 2>&1 || fail "$name: sbattach --detach failed"
                openssl pkcs7 -inform DER -in "$work/sig.p7" -print_certs >"$work/certs.pem" ||
                        fail "$name: cannot read the Debian signature"
                awk '/BEGIN CERT/ { n++ } n == 1' "$work/certs.pem" >"$work/debian-signer.pem"
                grep -q 'BEGIN CERT' "$work/debian-signer.pem" || fail "$name: no certificate in Debian's signature"
                "$TRUSTBOOT" verify --cert "$work/debian-signer.pem" "$work/in" >/dev/null ||
                        fail "$name: trustboot verify rejects Debian's own signature"
                sbattach --remove "$work/in" >/dev/null 2>&1 || fail "$name: sbattach --remove failed"
        fi
        sbsign --key "$key" --cert "$cert" --output "$work/out" "$work/in" >/dev/null 2>&1 || fail "$name: sbsign failed"
        "$TRUSTBOOT" verify --cert "$cert" "$work/out" >/dev/null || fail "$name: trustboot verify rejects sbsign's signature"
        if "$TRUSTBOOT" verify --cert "$other_cert" "$work/out" >/dev/null 2>&1; then
                fail "$name: trustboot verify accepts a certificate that did not sign"
        fi
        if "$TRUSTBOOT" verify --cert "$cert" "$work/in" >/dev/null 2>&1; then
                fail "$name: trustboot verify accepts an unsigned image"
        fi
        echo "ok: $name signed by sbsign verifies with trustboot"
done
