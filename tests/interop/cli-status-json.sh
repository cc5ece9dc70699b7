#!/usr/bin/env bash
# `trustboot status --json` on a node laid out from a real build-uki ESP tree, with a directory
# standing in for efivarfs and the TPM's PCR files: parsed with jq; consistent only while Secure
# Boot is on and the booted UKI is allowed; a dbx entry for the UKI, setup mode, or a PCR 11 that
# meets no signed policy each make it exit 1 and name the problem.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need jq
cd "$WORK"
synthetic_rootfs root
"$TRUSTBOOT" genkey Node --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING -o keys >/dev/null
SOURCE_DATE_EPOCH=1700000000 "$TRUSTBOOT" -q build-uki dir:root -t uki -d esp -k keys >/dev/null
entry=$(basename "$(ls esp/loader/entries/*.conf | head -n1)")
efi=$(awk '$1 == "efi" || $1 == "uki" { print $2 }' "esp/loader/entries/$entry")
[ -n "$efi" ] || fail "no efi line in $entry"

mkdir vars pcrs
GLOBAL=8be4df61-93ca-11d2-aa0d-00e098032b8c SECDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f LOADER=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
efivar() { printf "$(printf '\\x%02x\\x00\\x00\\x00' "$1")"; cat "$2"; }
printf '\x06\x00\x00\x00\x01' >vars/SecureBoot-$GLOBAL
printf '\x06\x00\x00\x00\x00' >vars/SetupMode-$GLOBAL
efivar 0x27 keys/PK.esl >vars/PK-$GLOBAL
efivar 0x27 keys/KEK.esl >vars/KEK-$GLOBAL
efivar 0x27 keys/db.esl >vars/db-$SECDB
{ printf '\x06\x00\x00\x00'; printf '%s' "${entry}" | iconv -f ascii -t utf-16le; printf '\x00\x00'; } >vars/LoaderEntrySelected-$LOADER
printf '%064d\n' 0 >pcrs/11
st() { "$TRUSTBOOT" status --json --no-volumes --esp esp --efivars vars --pcr-dir pcrs >status.json 2>status.err; }

rc=0; st || rc=$?
jq -e . status.json >/dev/null || fail "status --json is not JSON"
assert_eq "$(jq -r .secure_boot status.json)" true "secure_boot"
assert_eq "$(jq -r .setup_mode status.json)" false "setup_mode"
assert_eq "$(jq -r '.variables.db.certificates[0].subject' status.json)" "/CN=Node-db" "db subject"
assert_eq "$(jq -r '.variables.KEK.certificates | length' status.json)" 1 "KEK certificates"
assert_eq "$(jq -r .booted_entry status.json)" "$entry" "booted entry"
assert_eq "$(jq -r .running_uki.allowed_by_db status.json)" true "running UKI allowed by db"
assert_eq "$(jq -r .running_uki.revoked_by_dbx status.json)" false "running UKI revoked"
assert_eq "$(jq -r '.entries | length' status.json)" "$(ls esp/loader/entries | wc -l)" "entries listed"
# A PCR 11 of zeros meets no signed policy: inconsistent, and said so.
assert_eq "$(jq -r .pcr11.signed_policy_met status.json)" false "policy met by a zero PCR 11"
assert_eq "$rc" 1 "exit status with PCR 11 unmet"
jq -r '.problems[]' status.json | contains "PCR 11 meets none" || fail "problems: $(jq -c .problems status.json)"
# Inconsistent is a failure with one error line (not main's "failed without an error message").
assert_eq "$(cat status.err)" 'trustboot status: not consistent: 1 problem ("problems" in the report)' "status stderr"
assert_eq "$(jq -r '.problems | length' status.json)" 1 "only the PCR problem"

# The UKI's image hash in dbx: revoked.
"$TRUSTBOOT" -q dbx add --image "esp/$efi" -k keys -o dbx.auth
python3 -c "import struct,sys;d=open('dbx.auth','rb').read();l=struct.unpack('<I',d[16:20])[0];sys.stdout.buffer.write(d[16+l:])" >dbx.esl
efivar 0x27 dbx.esl >vars/dbx-$SECDB
rc=0; st || rc=$?
assert_eq "$(jq -r .running_uki.revoked_by_dbx status.json)" true "revoked after dbx add"
assert_eq "$(jq -r .variables.dbx.hashes status.json)" 1 "dbx hash count"
jq -r '.problems[]' status.json | contains "revoked in dbx" || fail "problems: $(jq -c .problems status.json)"
rm vars/dbx-$SECDB

# A counted entry: systemd-boot names it as it found it (active+3.conf) and renames the file for
# the try (active+2-1.conf); the running UKI is still found (by the base name).
counted="${entry%.conf}+2-1.conf"
mv "esp/loader/entries/$entry" "esp/loader/entries/$counted"
{ printf '\x06\x00\x00\x00'; printf '%s' "${entry%.conf}+3.conf" | iconv -f ascii -t utf-16le; printf '\x00\x00'; } >vars/LoaderEntrySelected-$LOADER
rc=0; st || rc=$?
assert_eq "$(jq -r .running_uki.allowed_by_db status.json)" true "running UKI of a counted entry (problems: $(jq -c .problems status.json))"
assert_eq "$(jq -r '.variables.db.certificates[0].sha256' status.json)" "$(sha256sum keys/db.der | cut -c1-64)" "db certificate fingerprint"
jq -r '.variables.db.certificates[0].not_after' status.json | contains -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' ||
  fail "not_after: $(jq -c '.variables.db.certificates[0]' status.json)"
mv "esp/loader/entries/$counted" "esp/loader/entries/$entry"
{ printf '\x06\x00\x00\x00'; printf '%s' "${entry}" | iconv -f ascii -t utf-16le; printf '\x00\x00'; } >vars/LoaderEntrySelected-$LOADER

# Setup mode: inconsistent.
printf '\x06\x00\x00\x00\x01' >vars/SetupMode-$GLOBAL
rc=0; st || rc=$?
assert_eq "$rc" 1 "exit status in setup mode"
jq -r '.problems[]' status.json | contains "setup mode" || fail "problems: $(jq -c .problems status.json)"
"$TRUSTBOOT" status --no-volumes --esp esp --efivars vars --pcr-dir pcrs >status.txt 2>/dev/null || true
contains "Setup mode: *yes" status.txt || fail "text output: $(cat status.txt)"
echo "ok: status --json reports SB, setup mode, keys, the booted UKI's db/dbx verdict, PCR 11 and entries; exit 1 on each inconsistency"
