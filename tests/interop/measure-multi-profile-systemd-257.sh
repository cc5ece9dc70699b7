#!/usr/bin/env bash
# Multi-profile UKIs (systemd 257) against the systemd 257 oracle (tests/images/systemd-oracle.sh):
#  1. trustboot build-uki --cmd-lines-v2 on the 257 stub: one UKI, profile 0 = the default entry,
#     one profile per -c/-s; `ukify inspect` 257 lists every .profile/.cmdline/.pcrsig; for every
#     profile the sections the stub measures when booted with "@N" (base sections overridden by the
#     profile's, extracted here with pefile) give, through systemd-measure 257, the same
#     `calculate` as `trustboot measure calculate --uki --profile N`, and `systemd-measure sign` of
#     them is byte-identical to the profile's own .pcrsig; loader entries boot "@N".
#  2. A multi-profile UKI built by `ukify build --join-profile` 257: the values ukify prints with
#     --measure for the base and each profile equal `trustboot measure calculate --uki --profile N`.
#  3. Refusals: --cmd-lines-v2 on a 252 stub, a profile the UKI lacks, --profile on a 252-stub UKI.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need python3 openssl
. "$(dirname "$0")/lib/oracle257.sh"
synthetic_build_inputs
oracle_tmpdir in profiles
cin="$(oracle_path "$in")"
stub257="$ORACLE/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
BANKS=(--bank=sha1 --bank=sha256 --bank=sha384 --bank=sha512)

# 1. trustboot's multi-profile UKI
"$TRUSTBOOT" -q build-uki dir:root -t uki -d out -k keys --stub "$stub257" --pcr-banks sha1,sha256,sha384,sha512 \
  --cmd-lines-v2 -c rd.debug -s "My Entry: foo=bar" 2>/dev/null
uki=out/EFI/trustboot/norole.efi
[ "$(ls out/EFI/trustboot)" = norole.efi ] || fail "--cmd-lines-v2 made more than one UKI: $(ls out/EFI/trustboot)"
for n in 1 2; do
  conf="out/loader/entries/norole-profile$n.conf"
  contains -x "efi /EFI/trustboot/norole.efi" <"$conf" && contains -x "options @$n" <"$conf" ||
    fail "$conf does not boot profile $n of norole.efi: $(cat "$conf")"
done
contains "^options" <out/loader/entries/norole.conf && fail "norole.conf selects a profile"
"$TRUSTBOOT" bootentry --esp out --list --json >entries.json
python3 - entries.json <<'PY' || fail "bootentry --list does not show the profiles"
import json, sys
got = {e["id"]: e["profile"] for e in json.load(open(sys.argv[1]))}
assert got == {"norole.conf": None, "norole-profile1.conf": 1, "norole-profile2.conf": 2}, got
PY
cp "$uki" "$in/v2.efi"
cp keys/tpm2-pcr-private.pem "$in/pcr.pem"

chroot "$ORACLE" ukify inspect "$cin/v2.efi" >inspect.txt 2>inspect.err || fail "ukify inspect: $(tail -n1 inspect.err)"
[ "$(grep -c '^\.profile:' inspect.txt)" = 3 ] && [ "$(grep -c '^\.pcrsig:' inspect.txt)" = 3 ] &&
  [ "$(grep -c '^\.cmdline:' inspect.txt)" = 3 ] || fail "ukify inspect does not list 3 profiles: $(grep '^\.' inspect.txt | tr '\n' ' ')"
for want in "ID=profile-0" "TITLE=trustboot (rd.debug)" "TITLE=trustboot (My Entry)" \
            "console=tty1 console=ttyS0 panic=5 install-mode rd.debug" "console=tty1 console=ttyS0 panic=5 install-mode foo=bar"; do
  contains -F "    $want" <inspect.txt || fail "ukify inspect does not show '$want'"
done

# The sections the 257 stub measures for profile N, written as systemd-measure arguments.
chroot "$ORACLE" python3 - "$cin" v2.efi 3 <"$(dirname "$0")/lib/uki-profiles.py" || fail "cannot split the UKI into profiles"
for n in 0 1 2; do
  mapfile -t a <"$in/p$n.args"
  chroot "$ORACLE" /usr/lib/systemd/systemd-measure calculate "${a[@]}" "${BANKS[@]}" --json=short >sd.json
  "$TRUSTBOOT" measure calculate --uki="$uki" --profile=$n "${BANKS[@]}" --json=short >tb.json
  cmp -s sd.json tb.json || fail "profile $n: systemd-measure 257 says $(cut -c1-120 sd.json), trustboot $(cut -c1-120 tb.json)"
  chroot "$ORACLE" /usr/lib/systemd/systemd-measure sign "${a[@]}" "${BANKS[@]}" --private-key="$cin/pcr.pem" --json=short |
    tr -d '\n' >sd.sig
  cmp -s sd.sig "$in/p$n.pcrsig" || fail "profile $n: its .pcrsig is not what systemd-measure 257 signs for its sections"
  echo "ok   profile $n: PCR 11 and .pcrsig as systemd-measure 257 ($(wc -l <"$in/p$n.args") sections)"
done
"$TRUSTBOOT" measure calculate --uki="$uki" --profile=0 --bank=sha256 >p0.txt 2>/dev/null
"$TRUSTBOOT" measure calculate --uki="$uki" --bank=sha256 >default.txt 2>/dev/null
cmp -s p0.txt default.txt || fail "--uki without --profile is not profile 0"

# 2. ukify's multi-profile UKI, ukify's own --measure output as the oracle
head -c 70000 /dev/urandom >"$in/linux"; head -c 90000 /dev/urandom >"$in/initrd"
chroot "$ORACLE" sh -ec "cd $cin
  ukify build --profile='ID=one
TITLE=One' --cmdline='quiet one' --output=p1.efi
  ukify build --profile='ID=two' --cmdline='quiet two' --uname=6.12.0-two --output=p2.efi
  ukify build --linux=linux --initrd=initrd --cmdline=base --os-release='ID=x' --uname=6.12.0 --profile='ID=main' \
    --join-profile=p1.efi --join-profile=p2.efi --measure --output=ukify.efi" >ukify.out 2>ukify.err ||
  fail "ukify build --join-profile: $(tail -n2 ukify.err)"
[ "$(grep -c '^11:' ukify.out)" = 48 ] || fail "ukify --measure printed $(grep -c '^11:' ukify.out) values, expected 3 x 16"
for n in 0 1 2; do
  "$TRUSTBOOT" measure calculate --uki="$in/ukify.efi" --profile=$n 2>/dev/null >tb.txt
  sed -n "$((n * 16 + 1)),$((n * 16 + 16))p" ukify.out >uk.txt
  cmp -s uk.txt tb.txt || fail "ukify UKI profile $n: ukify --measure $(head -n2 uk.txt | tr '\n' ' '), trustboot $(head -n2 tb.txt | tr '\n' ' ')"
done
echo "ok   ukify 257 multi-profile UKI: all 3 profiles as ukify --measure"

# 3. refusals, one line each
expect_error "$TRUSTBOOT" -q build-uki dir:root -t uki -d bad -k keys --cmd-lines-v2 -c rd.debug \
  --stub /usr/lib/systemd/boot/efi/linuxx64.efi.stub
contains "a systemd-stub 252 cannot boot a multi-profile UKI" <<<"$ERR" || fail "v2 on a 252 stub: $ERR"
[ ! -e bad ] || fail "a refused build left output"
expect_error "$TRUSTBOOT" measure calculate --uki="$uki" --profile=3
contains "the UKI has 3 profiles (0 … 2)" <<<"$ERR" || fail "--profile=3: $ERR"
"$TRUSTBOOT" -q build-uki dir:root -t uki -d old -k keys --stub /usr/lib/systemd/boot/efi/linuxx64.efi.stub 2>/dev/null
expect_error "$TRUSTBOOT" measure calculate --uki=old/EFI/trustboot/norole.efi --profile=1
contains "has no profiles" <<<"$ERR" || fail "--profile=1 on a 252 UKI: $ERR"
echo "PASS: multi-profile UKIs predicted, signed and laid out as systemd 257 does"
