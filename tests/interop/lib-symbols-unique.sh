#!/usr/bin/env bash
# Every global function and variable of the library is defined once: in a static library the
# linker silently takes the first of two definitions (this hid two different tb_hex_encode()).
. "$(dirname "$0")/lib/common.sh"
need nm
lib="$TB_BUILDDIR/src/lib/libtrustboot.a"
[ -f "$lib" ] || fail "$lib not built"
dups=$(nm -A --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sort | uniq -d)
[ -z "$dups" ] || fail "defined more than once: $(echo $dups)"
echo "library symbols: ok"
