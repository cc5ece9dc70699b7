#!/usr/bin/env bash
# Crafted hostile OCI layers (path traversal, absolute names, symlink escapes, hardlinks out,
# whiteouts of "..", duplicates, lying sizes, truncation, digest mismatches) are refused with an
# error naming the entry, and nothing is written outside the work area, which is removed.
# The escapes aim at a canary directory, so that a bug shows up as a changed canary.
set -euo pipefail

command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mk="$TB_SRCDIR/tests/interop/mkoci.py"
out="$work/outside" jail="$work/jail"
mkdir -p "$out" "$jail"
printf 'canary\n' > "$out/canary"
snapshot() { (cd "$work" && find outside -printf '%p %y %s %m\n' | sort && sha256sum outside/canary); }
before="$(snapshot)"
# The rootfs is $jail/trustboot-rootfs.XXXXXX/rootfs: three levels up is $work.
up="../../../outside"
fails=0 n=0

refused() { # NAME EXPECTED-STDERR-TEXT LAYERS-JSON
        local name="$1" want="$2" spec="$3" rc=0
        n=$((n + 1))
        rm -rf "$work/img"
        python3 "$mk" "$work/img" t "$spec"
        "$TRUSTBOOT" initrd "oci-layout:$work/img:t" --workdir "$jail" -o "$work/out.cpio" 2> "$work/err" || rc=$?
        if [ "$rc" != 1 ]; then
                echo "FAIL: $name: exit status $rc, expected 1"; fails=$((fails + 1))
        elif [ "$(wc -l < "$work/err")" != 1 ]; then
                echo "FAIL: $name: error is not one line: $(cat "$work/err")"; fails=$((fails + 1))
        elif ! grep -qF -- "$want" "$work/err"; then
                echo "FAIL: $name: error does not say '$want': $(cat "$work/err")"; fails=$((fails + 1))
        else
                echo "ok: $name: $(head -n1 "$work/err")"
        fi
        [ -z "$(ls -A "$jail")" ] || { echo "FAIL: $name: work area left behind: $(ls -A "$jail")"; fails=$((fails + 1)); }
        [ ! -e "$work/out.cpio" ] || { echo "FAIL: $name: output written"; fails=$((fails + 1)); }
        [ "$(snapshot)" = "$before" ] || { echo "FAIL: $name: canary changed"; snapshot; fails=$((fails + 1)); }
        [ -z "$(find "$work" -maxdepth 1 -name 'pwned*')" ] || { echo "FAIL: $name: wrote next to the jail"; fails=$((fails + 1)); }
        rm -f "$work"/pwned*
}

refused "dot-dot traversal" "../../../outside/pwned: name is absolute, contains '..'" \
        "[{\"entries\":[[\"f\",\"$up/pwned\",\"x\"]]}]"
refused "dot-dot in the middle" "a/../../pwned: name is absolute" \
        '[{"entries":[["d","a"],["f","a/../../pwned","x"]]}]'
refused "absolute name" "/pwned: name is absolute" \
        '[{"entries":[["f","/pwned","x"]]}]'
refused "absolute symlink escape" "evil/pwned: path goes through a symlink" \
        "[{\"entries\":[[\"l\",\"evil\",\"$out\"],[\"f\",\"evil/pwned\",\"x\"]]}]"
refused "relative symlink escape" "evil/pwned: path goes through a symlink" \
        "[{\"entries\":[[\"l\",\"evil\",\"$up\"],[\"f\",\"evil/pwned\",\"x\"]]}]"
refused "symlink escape across layers" "evil/sub/: path goes through a symlink" \
        "[{\"entries\":[[\"l\",\"evil\",\"$out\"]]},{\"entries\":[[\"d\",\"evil/sub\"],[\"f\",\"evil/sub/pwned\",\"x\"]]}]"
refused "symlink replaced by file through it" "evil/canary: path goes through a symlink" \
        "[{\"entries\":[[\"l\",\"evil\",\"$out\"]]},{\"entries\":[[\"f\",\"evil/canary\",\"pwned\"]]}]"
refused "hardlink out of the root" "hl: hardlink target is not a valid relative path" \
        "[{\"entries\":[[\"h\",\"hl\",\"$up/canary\"]]}]"
refused "hardlink through a symlink" "hl: path goes through a symlink" \
        "[{\"entries\":[[\"l\",\"evil\",\"$out\"],[\"h\",\"hl\",\"evil/canary\"]]}]"
refused "whiteout of .." ".wh..: whiteout names no valid entry" \
        '[{"entries":[["d","a"]]},{"entries":[["f","a/.wh..",""]]}]'
refused "duplicate entry" "etc/x: duplicate entry" \
        '[{"entries":[["d","etc"],["f","etc/x","1"],["f","etc/x","2"]]}]'
refused "size that lies" "big" \
        '[{"compress":"none","entries":[["f","ok","1"],["lie","big",100000,"short"]]}]'
refused "truncated layer" "blobs/sha256/" \
        '[{"damage":"truncate","entries":[["f","a","'"$(head -c 3000 /dev/zero | tr '\0' a)"'"],["f","b","2"]]}]'
refused "layer digest mismatch" "digest mismatch" \
        '[{"compress":"none","damage":"digest","entries":[["f","a","1"]]}]'
refused "diff id mismatch" "diff id (uncompressed digest) mismatch" \
        '[{"damage":"diff_id","entries":[["f","a","1"]]}]'
refused "layer size mismatch" "size mismatch" \
        '[{"damage":"size","entries":[["f","a","1"]]}]'

# Whiteouts below a symlink hide nothing (umoci writes "d/.wh.x" after turning d into a
# symlink): accepted, and the symlink is not followed.
for wh in .wh.canary .wh..wh..opq; do
        n=$((n + 1))
        rm -rf "$work/img"
        python3 "$mk" "$work/img" t "[{\"entries\":[[\"l\",\"evil\",\"$out\"]]},{\"entries\":[[\"f\",\"evil/$wh\",\"\"]]}]"
        "$TRUSTBOOT" -q initrd "oci-layout:$work/img:t" --workdir "$jail" -o "$work/wh.cpio" ||
                { echo "FAIL: whiteout $wh below a symlink refused"; fails=$((fails + 1)); }
        [ "$(snapshot)" = "$before" ] || { echo "FAIL: whiteout $wh below a symlink changed the canary"; fails=$((fails + 1)); }
        echo "ok: whiteout $wh below a symlink ignored"
done

# And the benign neighbours of those cases still work: a later layer may replace a symlink by a
# directory, whiteouts and opaque directories remove what lower layers made.
rm -rf "$work/img"
python3 "$mk" "$work/img" t '[
  {"entries":[["l","lnk","/somewhere"],["d","o"],["f","o/lower","1"],["d","o/d"],["f","o/d/deep","1"],["f","gone","1"],["d","gd"],["f","gd/x","1"]]},
  {"compress":"zstd","entries":[["f",".wh.gone",""],["f",".wh.gd",""],["d","lnk"],["f","lnk/f","2"],["d","o"],["f","o/kept","2"],["d","o/d"],["f","o/.wh..wh..opq",""]]}]'
"$TRUSTBOOT" -q initrd "oci-layout:$work/img:t" --workdir "$jail" -o "$work/ok.cpio" --compression none
got="$(cd "$work" && cpio -it --quiet < ok.cpio | tr '\n' ' ')"
[ "$got" = "lnk lnk/f o o/d o/kept " ] || { echo "FAIL: benign layers gave: $got"; fails=$((fails + 1)); }

echo "$n hostile images, $fails failures"
[ "$fails" = 0 ]
