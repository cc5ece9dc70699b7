#!/usr/bin/env bash
# trustboot measure against the host's systemd-measure 252 (lib/measure-differential.sh): calculate
# text/JSON and sign JSON byte-identical on seeded random inputs; every fourth case also through a
# UKI assembled with objcopy on the Debian 252 stub. systemd-measure 252 `sign` needs a TPM: a
# throwaway swtpm on a private unix socket.
set -euo pipefail

SDM=/lib/systemd/systemd-measure
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
for tool in "$SDM" swtpm openssl objcopy; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not available"; exit 77; }
done
ls /usr/lib/*/libtss2-tcti-swtpm.so.0 >/dev/null 2>&1 || { echo "SKIP: libtss2-tcti-swtpm0 missing"; exit 77; }
: "${TRUSTBOOT:?}"
here="$(cd "$(dirname "$0")" && pwd)"

tmp="$(mktemp -d)"
. "$here/lib/swtpm.sh"
trap 'swtpm_stop; rm -rf "$tmp"' EXIT
swtpm_start "$tmp/tpm"

oracle="systemd-measure 252"
sdm() { "$SDM" "$@"; }
SECTIONS=(osrel cmdline initrd splash dtb pcrpkey)
TB_ARGS=()
TPM=(--tpm2-device="swtpm:path=$tmp/tpm/sock")

# The 252 stub measures the sections it knows; objcopy places them 1 MiB apart after the stub.
make_uki() { # $1 = case dir
  local oc=() va=$((0x1000000)) a name file
  [ -f "$STUB" ] || return 0
  for a in "${args[@]}"; do
    case $a in
      --linux=*|--osrel=*|--cmdline=*|--initrd=*|--splash=*|--dtb=*|--pcrpkey=*)
        name="${a%%=*}"; name=".${name#--}"; file="${a#*=}"
        [ -s "$file" ] || continue # objcopy cannot add empty sections; the stub skips them anyway
        oc+=(--add-section "$name=$file" --change-section-vma "$name=$(printf '0x%x' $va)")
        va=$(( (va + $(stat -c %s "$file") + 0xfffff) / 0x100000 * 0x100000 )) ;;
    esac
  done
  objcopy "${oc[@]}" "$STUB" "$1/uki.efi"
  UKI_OK=1
}

. "$here/lib/measure-differential.sh"
