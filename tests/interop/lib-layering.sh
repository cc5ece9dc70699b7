#!/usr/bin/env bash
# The library's folders are layers (docs/notes/architecture.md): a folder includes only the
# folders below it. Reads every #include "folder/name.h" under src/lib and names each violation.
. "$(dirname "$0")/lib/common.sh"
lib="$(cd "$(dirname "$0")/../../src/lib" && pwd)"

# folder: the folders it may include (util is the bottom, node the top; vm stands beside).
# boot/ holds systemd-boot's formats (Type #1 entries), which the medium writes and the node reads.
declare -A allowed=(
  [util]=""
  [pe]="util"
  [sb]="pe util"
  [measure]="pe util"
  [tpm]="measure pe util"
  [rootfs]="util"
  [boot]="util"
  [medium]="boot rootfs tpm measure sb pe util"
  [node]="medium boot rootfs tpm measure sb pe util"
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
# Within a folder too, modules form no cycle: NAME.c and NAME.h are one module, and a module's
# includes of other modules' headers must sort topologically (tsort names a loop if not).
edges=$(cd "$lib" && grep -H -o '#include "[a-z0-9-]*/[^"]*\.h"' */*.[ch] |
  sed -E 's|^([^:]*)\.[ch]:#include "([^"]*)\.h"$|\1 \2|' | awk '$1 != $2')
if ! loops=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$loops" ]; then
  echo "src/lib: include cycle between modules: $(echo "$loops" | grep -v 'input contains a loop' | sed 's/^tsort: //' | tr '\n' ' ')" >&2
  bad=1
fi
loose=$(find "$lib" -maxdepth 1 -name '*.[ch]' -printf '%f ')
[ -z "$loose" ] || { echo "src/lib: files outside a domain folder: $loose" >&2; bad=1; }
[ "$bad" -eq 0 ] || fail "library layering violated (see above)"
echo "library layering: ok"
