#!/usr/bin/env bash
# One flipped byte in a section, in the headers or in the signature of a signed image makes
# `trustboot verify`, sbverify and osslsigncode all fail; the untouched image passes all three.
. "$(dirname "$0")/lib/pe.sh"
need sbverify osslsigncode objcopy openssl

cp "$SDBOOT_DIR/linuxx64.efi.stub" "$WORK/stub.efi"
"$TRUSTBOOT" sign --key "$key" --cert "$cert" -o "$WORK/signed.efi" "$WORK/stub.efi"

all_accept() {
        "$TRUSTBOOT" verify --cert "$cert" "$1" >/dev/null 2>&1 || fail "$2: trustboot verify rejects it"
        sbverify --cert "$cert" "$1" >/dev/null 2>&1 || fail "$2: sbverify rejects it"
        osslsigncode verify -CAfile "$cert" -in "$1" >/dev/null 2>&1 || fail "$2: osslsigncode rejects it"
}

all_reject() {
        if "$TRUSTBOOT" verify --cert "$cert" "$1" >/dev/null 2>&1; then fail "$2: trustboot verify accepts it"; fi
        if sbverify --cert "$cert" "$1" >/dev/null 2>&1; then fail "$2: sbverify accepts it"; fi
        if osslsigncode verify -CAfile "$cert" -in "$1" >/dev/null 2>&1; then fail "$2: osslsigncode accepts it"; fi
}

all_accept "$WORK/signed.efi" "the untouched signed stub"

size=$(stat -c %s "$WORK/signed.efi")
text=$(section_offset "$WORK/signed.efi" .text)
sdmagic=$(section_offset "$WORK/signed.efi" .sdmagic)
[ -n "$text" ] && [ -n "$sdmagic" ] || fail "objdump does not show .text/.sdmagic"
# name:offset — .text code, .sdmagic data, the DOS stub message, the COFF TimeDateStamp, and
# bytes inside the RSA signature (the end of the PKCS#7 blob, before the <= 7 padding bytes).
for t in "text:$((text + 0x1234))" "sdmagic:$((sdmagic + 3))" "dos-stub:$((0x50))" \
         "coff-timestamp:$((0x80 + 8))" "signature:$((size - 40))" "signature-cert:$((size - 800))"; do
        name=${t%%:*} off=${t#*:}
        cp "$WORK/signed.efi" "$WORK/t.efi"
        flip_byte "$WORK/t.efi" "$off"
        cmp -s "$WORK/t.efi" "$WORK/signed.efi" && fail "$name: flip_byte changed nothing"
        all_reject "$WORK/t.efi" "flipped byte in $name at $off"
        echo "ok: flipped byte in $name (offset $off) is rejected by all three"
done
