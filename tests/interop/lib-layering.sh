#!/usr/bin/env bash
# The library's folders are layers (docs/notes/architecture.md): a folder includes only the
# folders below it. Reads every #include "folder/name.h" under src/lib and names each violation.
. "$(dirname "$0")/lib/common.sh"
lib="$(cd "$(dirname "$0")/../../src/lib" && pwd)"

# folder: the folders it may include (util is the bottom, node the top; vm stands beside).
declare -A allowed=(
  [util]=""
  [pe]="util"
  [sb]="pe util"
  [measure]="pe util"
  [tpm]="measure pe util"
  [rootfs]="util"
  [medium]="rootfs tpm measure sb pe util"
  [node]="medium rootfs tpm measure sb pe util"
  [vm]="util"
)
bad=0
for dir in "$lib"/*/; do
  folder=$(basename "$dir")
  [ -n "${allowed[$folder]+x}" ] || { echo "src/lib/$folder: folder not in the layering table" >&2; bad=1; continue; }
  while IFS=: read -r file inc; do
    dep=${inc#*\"}; dep=${dep%%/*}
    [ "$dep" = "$folder" ] && continue
    case " ${allowed[$folder]} " in
      *" $dep "*) ;;
      *) echo "${file#"$lib"/}: includes $dep/, which $folder/ may not" >&2; bad=1 ;;
    esac
  done < <(grep -H -o '#include "[a-z0-9-]*/[^"]*"' "$dir"*.[ch] || true)
done
loose=$(find "$lib" -maxdepth 1 -name '*.[ch]' -printf '%f ')
[ -z "$loose" ] || { echo "src/lib: files outside a domain folder: $loose" >&2; bad=1; }
[ "$bad" -eq 0 ] || fail "library layering violated (see above)"
echo "library layering: ok"
