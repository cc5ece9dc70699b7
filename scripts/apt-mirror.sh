#!/usr/bin/env bash
# The Debian mirror this machine's apt already uses, for private source lists and image builders.
#
#   scripts/apt-mirror.sh [--root DIR] [--uri|--keyring|--line SUITE [COMPONENTS]]
#
#   --uri                 the mirror's URI (e.g. http://deb.debian.org/debian, or a local mirror)
#   --keyring             the Signed-By keyring file of that source ("" when it has none)
#   --line SUITE [COMP]   a one-line sources.list entry for SUITE on that mirror, with signed-by;
#                         COMP defaults to "main"
#   (no option)           "URI KEYRING" on one line
#
# The source is the first enabled "deb" entry of the system's own apt sources
# (/etc/apt/sources.list, sources.list.d/*.list and deb822 sources.list.d/*.sources, in apt's
# order) that carries the main component of the system's release (VERSION_CODENAME of
# /etc/os-release) itself, not -security or -updates. So a machine behind a local mirror or a
# caching proxy (apt-cacher-ng style URIs) gets the same mirror for bookworm-backports or trixie,
# instead of a fixed public host. Without such an entry it falls back to deb.debian.org with
# Debian's archive keyring, and says so on stderr. --root reads another tree's /etc (tests).
set -euo pipefail

root=""
if [ "${1:-}" = --root ]; then root="${2%/}"; shift 2; fi
mode="${1:-}"

codename="$( . "$root/etc/os-release" 2>/dev/null && echo "${VERSION_CODENAME:-}" )" || codename=""
[ -n "$codename" ] || codename=bookworm

# One record per line: "URI<TAB>SUITES<TAB>COMPONENTS<TAB>SIGNED-BY" for every enabled deb source.
list_one_line() { # FILE (one-line format)
  awk '
    { sub(/#.*/, "") }
    $1 != "deb" { next }
    {
      line = $0; sub(/^[ \t]*deb[ \t]+/, "", line); opts = ""
      if (line ~ /^\[/) { opts = substr(line, 2, index(line, "]") - 2); line = substr(line, index(line, "]") + 1) }
      n = split(line, f, /[ \t]+/); k = 0
      for (i = 1; i <= n; i++) if (f[i] != "") w[++k] = f[i]
      if (k < 3) next
      comps = w[3]; for (i = 4; i <= k; i++) comps = comps " " w[i]
      sb = ""; m = split(opts, o, /[ \t]+/)
      for (i = 1; i <= m; i++) if (o[i] ~ /^signed-by=/) { sb = o[i]; sub(/^signed-by=/, "", sb) }
      printf "%s\t%s\t%s\t%s\n", w[1], w[2], comps, sb
    }' "$1"
}
list_deb822() { # FILE (deb822 format)
  awk '
    function flush() {
      if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "")
        { n = split(uris, u, / +/); for (i = 1; i <= n; i++) if (u[i] != "") printf "%s\t%s\t%s\t%s\n", u[i], suites, comps, sb }
      types = uris = suites = comps = sb = field = ""; enabled = "yes"
    }
    BEGIN { enabled = "yes" }
    /^#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ { if (field == "signed-by" && sb !~ /^\//) sb = "(embedded)"; next }   # continuation
    {
      field = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
      gsub(/^[ \t]+|[ \t]+$/, "", v); gsub(/[ \t]+/, " ", v)
      if (field == "types") types = v; else if (field == "uris") uris = v
      else if (field == "suites") suites = v; else if (field == "components") comps = v
      else if (field == "enabled") enabled = tolower(v)
      else if (field == "signed-by") sb = (v == "" || v ~ /^-----BEGIN/) ? "(embedded)" : v
    }
    END { flush() }' "$1"
}

records() {
  local f
  [ -f "$root/etc/apt/sources.list" ] && list_one_line "$root/etc/apt/sources.list"
  for f in "$root"/etc/apt/sources.list.d/*; do
    case "$f" in
      *.list) list_one_line "$f" ;;
      *.sources) list_deb822 "$f" ;;
    esac
  done
  return 0
}

uri="" keyring=""
while IFS=$'\t' read -r u suites comps sb; do
  case " $suites " in *" $codename "*) ;; *) continue ;; esac
  case " $comps " in *" main "*) ;; *) continue ;; esac
  uri="${u%/}"
  keyring="${sb%% *}"   # apt allows several; the first is the archive's
  [ "$keyring" = "(embedded)" ] && { echo "apt-mirror: $u: Signed-By holds an embedded key; using apt's trusted keys" >&2; keyring=""; }
  break
done < <(records)
if [ -z "$uri" ]; then
  uri=http://deb.debian.org/debian
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "apt-mirror: no deb source for $codename main in $root/etc/apt; using $uri" >&2
fi

case "$mode" in
  --uri) echo "$uri" ;;
  --keyring) echo "$keyring" ;;
  --line)
    [ -n "${2:-}" ] || { echo "apt-mirror: --line needs a suite" >&2; exit 2; }
    if [ -n "$keyring" ]; then echo "deb [signed-by=$keyring] $uri $2 ${3:-main}"; else echo "deb $uri $2 ${3:-main}"; fi ;;
  "") echo "$uri $keyring" ;;
  *) echo "usage: $0 [--root DIR] [--uri|--keyring|--line SUITE [COMPONENTS]]" >&2; exit 2 ;;
esac
