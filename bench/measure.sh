#!/usr/bin/env bash
# trustboot measure calculate vs systemd-measure 252 on large sections, all four banks.
# Usage: bench/measure.sh [TRUSTBOOT] [MiB per section, default 64]
set -euo pipefail
tb="${1:-build/src/cli/trustboot}"
mib="${2:-64}"
sdm=/lib/systemd/systemd-measure
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
openssl rand -out "$tmp/linux" $((mib * 1048576))
openssl rand -out "$tmp/initrd" $((mib * 1048576))
printf 'console=ttyS0' >"$tmp/cmdline"
args=(calculate --linux="$tmp/linux" --initrd="$tmp/initrd" --cmdline="$tmp/cmdline")
best() { # best of 3 wall-clock seconds of "$@"
  local b=999 t
  for _ in 1 2 3; do
    /usr/bin/time -o "$tmp/t" -f %e "$@" >/dev/null 2>&1
    t=$(tail -1 "$tmp/t")
    b=$(echo "$t $b" | awk '{print ($1 < $2) ? $1 : $2}')
  done
  echo "$b"
}
echo "2 x $mib MiB sections, banks sha1+sha256+sha384+sha512, best of 3:"
echo "  systemd-measure 252:  $(best "$sdm" "${args[@]}") s"
echo "  trustboot measure:    $(best "$tb" measure "${args[@]}") s"
echo "  trustboot, sha256:    $(best "$tb" measure "${args[@]}" --bank=sha256) s"
