#!/usr/bin/env bash
# trustboot upgrade stages a new medium's UKIs outside the ESP before checking them; a hostile
# medium must not fill the staging file system: no staged file may be larger than the ESP (or
# than the staging file system has free), and a medium may not list more than 256 norole*
# files. Each is refused with one line, the partial copy removed, the ESP unchanged. The
# release binary reads no TRUSTBOOT_TEST_* variable: the fake ESP size only works with the
# test binary.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/node.sh"
need python3
: "${TRUSTBOOT_TEST:?the test binary is not built}"
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000

node_medium
mkdir -p stage
node_esp esp m1/EFI/trustboot/norole.efi trustboot
node_vars vars
snapshot() { ( cd esp && find . -type f | sort | xargs sha256sum ) > "$1"; }
snapshot before

# A 96 MiB UKI (sparse here; in a compressed layer it would be a few KiB) for a 64 MiB ESP.
cp -r m1 big && rm big/EFI/trustboot/norole.efi && truncate -s 96M big/EFI/trustboot/norole.efi
run() { TMPDIR="$WORK/stage" "$1" upgrade --esp esp --efivars vars --luks-device none --source "dir:$2"; }
TRUSTBOOT_TEST_ESP_SIZE=$((64 << 20)) expect_error run "$TRUSTBOOT_TEST" big
contains "EFI/trustboot/norole.efi: more than the 67108864 bytes the ESP or the staging directory" <<<"$ERR" ||
  fail "oversized UKI: $ERR"
[ -z "$(ls -A stage)" ] || fail "the staging directory is not cleaned up: $(ls -AR stage | head)"
snapshot after
cmp -s before after || fail "the refused upgrade changed the ESP"
# The release binary ignores the variable (the host file system is larger than 96 MiB, so
# staging succeeds and the all-zero "UKI" is refused as a PE instead).
TRUSTBOOT_TEST_ESP_SIZE=$((64 << 20)) expect_error run "$TRUSTBOOT" big
contains -v "bytes the ESP or the staging directory" <<<"$ERR" || fail "the release binary honours TRUSTBOOT_TEST_ESP_SIZE: $ERR"
[ -z "$(ls -A stage)" ] || fail "the staging directory is not cleaned up after the release run"

# An image source unpacks within --max-image-size (a layer bomb stops there, nothing staged).
c=$("$TRUSTBOOT" -q build-uki dir:root -t container -d c1 -k keys 2>/dev/null)
expect_error env TMPDIR="$WORK/stage" "$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device none \
  --source "ocifile:$c" --max-image-size 4K
contains "image larger than 4096 bytes uncompressed (--max-image-size)" <<<"$ERR" || fail "--max-image-size: $ERR"
[ -z "$(ls -A stage)" ] || fail "the staging directory is not cleaned up after the image limit"
snapshot after
cmp -s before after || fail "the refused upgrade changed the ESP"

# Not even the names are in the release binary; the test binary has them.
! grep -aq TRUSTBOOT_TEST_ "$TRUSTBOOT" || fail "$TRUSTBOOT carries TRUSTBOOT_TEST_* hooks"
grep -aq TRUSTBOOT_TEST_FAULT "$TRUSTBOOT_TEST" || fail "$TRUSTBOOT_TEST has no fault hook"

# Too many norole files: refused while listing, before anything is copied.
cp -r m1 many
for i in $(seq 1 300); do : > "many/EFI/trustboot/norole_$i.efi"; done
expect_error run "$TRUSTBOOT" many
contains "more than 256 norole\* files: not a medium" <<<"$ERR" || fail "too many names: $ERR"
snapshot after
cmp -s before after || fail "the refused upgrade changed the ESP"
echo ok
