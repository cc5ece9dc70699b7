#!/usr/bin/env bash
# trustboot measure against systemd-measure 257, run in a chroot of Debian 13
# (tests/images/systemd-oracle.sh): calculate text/JSON and sign JSON byte-identical on seeded
# random inputs including the sections the 257 stub measures beyond 252's (.ucode, .uname, .sbat,
# .profile, .dtbauto, .hwids) and .splash/.dtb; every fourth case also through a UKI built by
# `ukify build` 257 on the 257 stub (with the case's .ucode/.splash/.dtb when it has them), whose
# sections (the stub's .sbat merged with the case's) are measured by the oracle and by
# `trustboot measure calculate --uki` (stub generation read from the UKI); every eighth case that
# UKI has a second profile (ukify --join-profile), whose sections as the stub selects them for
# "@1" the oracle measures against `trustboot measure calculate --uki --profile=1`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${TRUSTBOOT:?}"
for tool in swtpm openssl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not available"; exit 77; }
done
. "$here/lib/oracle257.sh"
oracle_check_257 /usr/lib/systemd/systemd-measure

tmp="$(mktemp -d "$ORACLE/tmp/tb-measure.XXXXXX")"
. "$here/lib/swtpm.sh"
trap 'swtpm_stop; rm -rf "$tmp"' EXIT
swtpm_start "$tmp/tpm"

# Paths under the chroot, as the oracle sees them.
in_root() { local a out=(); for a in "$@"; do out+=("${a//"$ORACLE"/}"); done; printf '%s\0' "${out[@]}"; }
sdm() { local a; mapfile -d '' a < <(in_root "$@"); chroot "$ORACLE" /usr/lib/systemd/systemd-measure "${a[@]}"; }
oracle="$ORACLE_VERSION"
SECTIONS=(osrel cmdline initrd ucode splash dtb uname sbat pcrpkey profile dtbauto hwids)
TB_ARGS=(${TB_MEASURE_TB_ARGS:---stub-version=257})
TPM=(--tpm2-device="swtpm:path=$tmp/tpm/sock")

# A UKI as a 257 user builds one. ukify checks what it is given, so this UKI carries well-formed
# contents (an SBAT line, a uname, text cmdline/os-release) instead of the case's random bytes.
make_uki() { # $1 = case dir
  local d="$1" u
  printf 'ID=debian\nVERSION_ID="13"\n' >"$d/u-osrel"
  printf 'console=ttyS0 rw quiet %s' "$case" >"$d/u-cmdline"
  printf 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\ntrustboot-test,1,trustboot,trustboot-test,%s,https://example.invalid\n' "$case" >"$d/u-sbat"
  head -c $((4096 + case * 97)) "$tmp/pool" >"$d/u-linux"
  head -c $((65536 + case * 131)) "$tmp/pool" >"$d/u-initrd"
  u=(--linux="$d/u-linux" --initrd="$d/u-initrd" --os-release="@$d/u-osrel" --cmdline="@$d/u-cmdline"
     --uname="6.12.0-$case-amd64" --sbat="@$d/u-sbat"
     --stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub --output="$d/uki.efi")
  # The case's other sections as a user gives them to ukify, when it has them.
  [ -s "$d/ucode" ] && u+=(--microcode="$d/ucode")
  [ -s "$d/splash" ] && u+=(--splash="$d/splash")
  [ -s "$d/dtb" ] && u+=(--devicetree="$d/dtb")
  profiles=1
  if [ $((case % 8)) = 0 ]; then
    # A second profile with its own command line and uname, joined as ukify does.
    p=(--profile="ID=p1" --cmdline="quiet profile-one $case" --uname="6.12.0-p1-$case" --output="$d/p1.efi")
    mapfile -d '' p < <(in_root "${p[@]}")
    chroot "$ORACLE" ukify build "${p[@]}" >"$d/ukify-p1.log" 2>&1 || { echo "FAIL case $case: ukify build (profile) failed: $(tail -n3 "$d/ukify-p1.log")"; fail=1; return 0; }
    u+=(--profile="ID=main" --join-profile="$d/p1.efi")
    profiles=2
  fi
  mapfile -d '' u < <(in_root "${u[@]}")
  chroot "$ORACLE" ukify build "${u[@]}" >"$d/ukify.log" 2>&1 || { echo "FAIL case $case: ukify build failed: $(tail -n3 "$d/ukify.log")"; fail=1; return 0; }
  # The oracle measures the UKI's own sections (each VirtualSize bytes, as the stub reads them) as
  # the 257 stub selects them for profile P: the first of each name before the first .profile,
  # overridden by the first of each name from the P-th .profile to the next (systemd's pe.c).
  chroot "$ORACLE" python3 - "${d#"$ORACLE"}" "$profiles" <<'PY' || { echo "FAIL case $case: cannot read the ukify UKI"; fail=1; return 0; }
import pefile, sys
d, count = sys.argv[1], int(sys.argv[2])
MEASURED = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey", ".profile")
pe = pefile.PE(d + "/uki.efi", fast_load=True)
secs = [(s.Name.rstrip(b"\0").decode(), s.get_data()[: s.Misc_VirtualSize]) for s in pe.sections]
starts = [i for i, (n, _) in enumerate(secs) if n == ".profile"]
assert len(starts) == (count if count > 1 else 0), starts
def first(rng):
    out = {}
    for n, data in rng:
        out.setdefault(n, data)
    return out
base = first(secs[: starts[0]] if starts else secs)
for p in range(count):
    sel = dict(base)
    if starts:
        sel.update(first(secs[starts[p] : starts[p + 1] if p + 1 < len(starts) else len(secs)]))
    with open(f"{d}/uki{p}.args", "w") as out:
        for name, data in sel.items():
            if name in MEASURED and data:
                open(f"{d}/p{p}{name}", "wb").write(data)
                out.write(f"--{name[1:]}={d}/p{p}{name}\n")
PY
  mapfile -t u <"$d/uki0.args"
  for a in "${args[@]}"; do case $a in --bank=*|--phase=*) u+=("$a") ;; esac; done
  chroot "$ORACLE" /usr/lib/systemd/systemd-measure calculate "${u[@]}" --json=short >"$d/uki.short"
  if [ "$profiles" = 2 ]; then
    mapfile -t u <"$d/uki1.args"
    for a in "${args[@]}"; do case $a in --bank=*|--phase=*) u+=("$a") ;; esac; done
    chroot "$ORACLE" /usr/lib/systemd/systemd-measure calculate "${u[@]}" --json=short >"$d/uki1.short"
    uargs=(--uki="$d/uki.efi" --profile=1)
    for a in "${args[@]}"; do case $a in --bank=*|--phase=*) uargs+=("$a") ;; esac; done
    "$TRUSTBOOT" measure calculate "${uargs[@]}" --json=short >"$d/u1.short"
    compare "calculate --uki --profile=1 (vs the profile's sections)" "$d/uki1.short" "$d/u1.short"
    profile_ukis=$((profile_ukis + 1))
  fi
  UKI_OK=1
}
profile_ukis=0

# systemd-measure 257 measures --dtbauto's file as ".hwids" and --hwids's as ".dtbauto" (its option
# table is off by one there: systemd PR #35765, merged after 257; Debian 257.13 still swaps). The stub measures each section under
# its own name, as trustboot does; so the oracle's --dtbauto is trustboot's --hwids and the reverse.
tb_args_of() {
  local a
  for a in "$@"; do
    case $a in
      --dtbauto=*) printf '%s\0' "--hwids=${a#--dtbauto=}" ;;
      --hwids=*) printf '%s\0' "--dtbauto=${a#--hwids=}" ;;
      *) printf '%s\0' "$a" ;;
    esac
  done
}
after_cases() {
  echo "$profile_ukis UKIs with two profiles"
  [ "$cases" -lt 8 ] || [ "$profile_ukis" -gt 0 ] || { echo "FAIL: no multi-profile UKI was checked"; fail=1; }
}
. "$here/lib/measure-differential.sh"
