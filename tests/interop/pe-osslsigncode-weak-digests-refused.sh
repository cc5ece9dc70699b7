#!/usr/bin/env bash
# Authenticode signatures made by osslsigncode over SHA-256, SHA-384 and SHA-512 image hashes
# verify with `trustboot verify`; the same signer over an MD5 or SHA-1 image hash does not (UEFI
# firmware does not accept those either), and the refusal names the digest.
. "$(dirname "$0")/lib/pe.sh"
need osslsigncode
img=${TB_SDBOOT_EFI_DIR:-/usr/lib/systemd/boot/efi}/systemd-bootx64.efi

for h in sha256 sha384 sha512 sha1 md5; do
        rm -f "$WORK/$h.efi"
        osslsigncode sign -h "$h" -certs "$cert" -key "$key" -in "$img" -out "$WORK/$h.efi" >/dev/null 2>&1 ||
                fail "osslsigncode cannot sign with $h"
        osslsigncode verify -CAfile "$cert" -in "$WORK/$h.efi" >/dev/null 2>&1 || true
        if "$TRUSTBOOT" verify --cert "$cert" "$WORK/$h.efi" >"$WORK/out" 2>"$WORK/err"; then
                case $h in sha1 | md5) fail "trustboot verify accepts a signature over a $h image hash" ;; esac
                echo "ok: $h image hash accepted"
        else
                case $h in sha1 | md5) ;; *) fail "trustboot verify rejects osslsigncode's $h signature: $(cat "$WORK/err")" ;; esac
                contains -i "$h" "$WORK/err" || fail "the refusal of the $h signature does not name the digest: $(cat "$WORK/err")"
                echo "ok: $h image hash refused: $(head -n1 "$WORK/err")"
        fi
done
