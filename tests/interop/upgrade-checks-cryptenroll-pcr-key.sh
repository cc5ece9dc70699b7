#!/usr/bin/env bash
# trustboot upgrade reads the PCR public key from a LUKS2 volume enrolled by systemd-cryptenroll
# (signed PCR 11 policy) and installs only a UKI whose .pcrpkey/.pcrsig match it; a UKI signed
# for another PCR key is refused, leaving the ESP byte-for-byte unchanged. The installed UKI
# has no .pcrpkey here, so the volume's token is the only source of the key.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/tpm2.sh"
. "$(dirname "$0")/lib/node.sh"
need swtpm cryptsetup openssl systemd-cryptenroll python3
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000

"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
"$TRUSTBOOT" genkey Other -o other --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
cp -r keys otherpcr && cp other/tpm2-pcr-private.pem otherpcr/
synthetic_rootfs root
"$TRUSTBOOT" -q build-uki dir:root -t uki -d good -k keys >/dev/null
"$TRUSTBOOT" -q build-uki dir:root -t uki -d bad -k otherpcr >/dev/null

swtpm_start
printf 'test-passphrase' > pass
truncate -s 20M disk.img
cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pass disk.img
openssl pkey -in keys/tpm2-pcr-private.pem -pubout -out pcr.pub.pem
systemd-cryptenroll --unlock-key-file=pass --tpm2-device="$TCTI" --tpm2-public-key=pcr.pub.pem \
  --tpm2-public-key-pcrs=11 --tpm2-pcrs= disk.img 2>/dev/null || fail "systemd-cryptenroll failed"
cryptsetup token export --token-id 0 disk.img | contains '"tpm2_pubkey"' || fail "no tpm2_pubkey in the token"

node_esp esp /usr/lib/systemd/boot/efi/linuxx64.efi.stub old
node_vars vars
snapshot() { ( cd esp && find . -type f | sort | xargs sha256sum ) > "$1"; }

snapshot before
expect_error "$TRUSTBOOT" -q upgrade --esp esp --efivars vars --luks-device disk.img --source dir:bad
contains "is not the one disk.img is bound to: the disks would not unlock after reboot" <<<"$ERR" || fail "refusal: $ERR"
snapshot after
cmp -s before after || fail "refused upgrade changed the ESP: $(diff before after)"

"$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device disk.img --source dir:good 2>/dev/null >/dev/null \
  || fail "upgrade with the volume's PCR key refused"
cmp -s "esp$(sed -n 's/^efi //p' esp/loader/entries/active+3.conf)" good/EFI/trustboot/norole.efi || fail "the active entry does not name the new UKI"
echo ok
