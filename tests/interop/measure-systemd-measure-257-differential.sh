#!/usr/bin/env bash
# trustboot measure against systemd-measure 257, run in a chroot of Debian 13
# (tests/images/systemd-oracle.sh): calculate text/JSON and sign JSON byte-identical on seeded
# random inputs including the sections the 257 stub measures beyond 252's (.ucode, .uname, .sbat);
# every fourth case also through a UKI built by `ukify build` 257 on the 257 stub, whose sections
# (the stub's .sbat merged with the case's) are measured by the oracle and by
# `trustboot measure calculate --uki` (stub generation read from the UKI).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${TRUSTBOOT:?}"
for tool in swtpm openssl mmdebstrap; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not available"; exit 77; }
done
root="$(bash "$here/../images/systemd-oracle.sh" --release trixie)" || { echo "FAIL: no systemd 257 chroot"; exit 1; }
version="$(chroot "$root" /usr/lib/systemd/systemd-measure --version | head -n1)"
case "$version" in "systemd 257"*) ;; *) echo "FAIL: the oracle is $version, not 257"; exit 1 ;; esac

tmp="$(mktemp -d "$root/tmp/tb-measure.XXXXXX")"
. "$here/lib/swtpm.sh"
trap 'swtpm_stop; rm -rf "$tmp"' EXIT
swtpm_start "$tmp/tpm"

# Paths under the chroot, as the oracle sees them.
in_root() { local a out=(); for a in "$@"; do out+=("${a//"$root"/}"); done; printf '%s\0' "${out[@]}"; }
sdm() { local a; mapfile -d '' a < <(in_root "$@"); chroot "$root" /usr/lib/systemd/systemd-measure "${a[@]}"; }
oracle="$version"
SECTIONS=(osrel cmdline initrd ucode splash dtb uname sbat pcrpkey)
TB_ARGS=(${TB_MEASURE_TB_ARGS:---stub-version=257})
TPM=(--tpm2-device="swtpm:path=$tmp/tpm/sock")

# A UKI as a 257 user builds one. ukify checks what it is given, so this UKI carries well-formed
# contents (an SBAT line, a uname, text cmdline/os-release) instead of the case's random bytes.
make_uki() { # $1 = case dir
  local d="$1" u
  printf 'ID=debian\nVERSION_ID="13"\n' >"$d/u-osrel"
  printf 'console=ttyS0 rw quiet %s' "$case" >"$d/u-cmdline"
  printf 'trustboot-test,1,trustboot,trustboot-test,%s,https://example.invalid\n' "$case" >"$d/u-sbat"
  head -c $((4096 + case * 97)) "$tmp/pool" >"$d/u-linux"
  head -c $((65536 + case * 131)) "$tmp/pool" >"$d/u-initrd"
  u=(--linux="$d/u-linux" --initrd="$d/u-initrd" --os-release="@$d/u-osrel" --cmdline="@$d/u-cmdline"
     --uname="6.12.0-$case-amd64" --sbat="@$d/u-sbat"
     --stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub --output="$d/uki.efi")
  mapfile -d '' u < <(in_root "${u[@]}")
  chroot "$root" ukify build "${u[@]}" >"$d/ukify.log" 2>&1 || { echo "FAIL case $case: ukify build failed: $(tail -n3 "$d/ukify.log")"; fail=1; return 0; }
  # The oracle measures the UKI's own sections (each VirtualSize bytes, as the stub reads them).
  chroot "$root" python3 - "${d#"$root"}" <<'PY' || { echo "FAIL case $case: cannot read the ukify UKI"; fail=1; return 0; }
import pefile, sys
d = sys.argv[1]
pe = pefile.PE(d + "/uki.efi", fast_load=True)
with open(d + "/uki.args", "w") as out:
    for s in pe.sections:
        name = s.Name.rstrip(b"\0").decode()
        if name in (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey"):
            with open(f"{d}/sec{name}", "wb") as f:
                f.write(s.get_data()[: s.Misc_VirtualSize])
            out.write(f"--{name[1:]}={d}/sec{name}\n")
PY
  mapfile -t u <"$d/uki.args"
  for a in "${args[@]}"; do case $a in --bank=*|--phase=*) u+=("$a") ;; esac; done
  chroot "$root" /usr/lib/systemd/systemd-measure calculate "${u[@]}" --json=short >"$d/uki.short"
  UKI_OK=1
}

. "$here/lib/measure-differential.sh"
