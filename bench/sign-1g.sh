#!/usr/bin/env bash
# Signs a 1 GiB UKI-shaped image (the Debian stub with a 1 GiB .linux section) with
# `trustboot sign` and reports wall time and peak RSS (/usr/bin/time -v). The signer streams
# the file in 1 MiB chunks, so the peak must stay under 64 MiB whatever the image size.
# Usage: bench/sign-1g.sh [TRUSTBOOT] [--compare-sbsign]
set -euo pipefail

TRUSTBOOT=${1:-build/src/cli/trustboot}
COMPARE=${2:-}
STUB=${TB_SDBOOT_EFI_DIR:-/usr/lib/systemd/boot/efi}/linuxx64.efi.stub
LIMIT_KB=$((64 * 1024))

for t in /usr/bin/time objcopy openssl; do
        command -v "$t" >/dev/null || { echo "sign-1g: $t is not installed" >&2; exit 1; }
done
[ -x "$TRUSTBOOT" ] || { echo "sign-1g: $TRUSTBOOT: not built" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/sign-1g.XXXXXX")
trap 'rm -rf "$work"' EXIT

openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=bench/" \
        -keyout "$work/db.key" -out "$work/db.crt" 2>/dev/null
# Random bytes, not a sparse file, so that reading really touches 1 GiB of page cache.
head -c $((1024 * 1024 * 1024)) /dev/urandom >"$work/linux"
objcopy --add-section .linux="$work/linux" --change-section-vma .linux=0x2000000 "$STUB" "$work/uki.efi"
rm "$work/linux"
size=$(stat -c %s "$work/uki.efi")

measure() { # LABEL COMMAND...
        local label=$1
        shift
        /usr/bin/time -v "$@" 2>"$work/time.txt" >/dev/null || { cat "$work/time.txt" >&2; exit 1; }
        rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$work/time.txt")
        awk -v l="$label" -v s="$size" -v w="$wall" -v r="$rss" \
                'BEGIN { printf "%-16s image %d bytes  wall %s  peak RSS %d KiB (%.1f MiB)\n", l, s, w, r, r / 1024 }'
}

measure "trustboot sign" "$TRUSTBOOT" sign --key "$work/db.key" --cert "$work/db.crt" -o "$work/signed.efi" "$work/uki.efi"
trustboot_rss=$rss
measure "trustboot verify" "$TRUSTBOOT" verify --cert "$work/db.crt" "$work/signed.efi"
if command -v sbverify >/dev/null; then
        sbverify --cert "$work/db.crt" "$work/signed.efi" >/dev/null 2>&1 || { echo "sign-1g: sbverify rejects the result" >&2; exit 1; }
        echo "sbverify: OK"
fi
if [ "$COMPARE" = --compare-sbsign ]; then
        measure "sbsign" sbsign --key "$work/db.key" --cert "$work/db.crt" --output "$work/sb.efi" "$work/uki.efi"
        cmp -s <("$TRUSTBOOT" inspect --json "$work/sb.efi" | grep '"digest"') \
                <("$TRUSTBOOT" inspect --json "$work/signed.efi" | grep '"digest"') ||
                { echo "sign-1g: sbsign signed a different digest" >&2; exit 1; }
fi
if [ "$trustboot_rss" -ge "$LIMIT_KB" ]; then
        echo "sign-1g: FAIL: peak RSS $trustboot_rss KiB >= $LIMIT_KB KiB" >&2
        exit 1
fi
echo "sign-1g: OK: peak RSS under 64 MiB"
