#!/usr/bin/env bash
# Benchmark: `trustboot initrd` against the classic pipeline
#   find | sort | cpio -o -H newc | zstd
# on the same tree, same zstd level, all cores. Reports wall time, peak RSS and output size.
#
#   bench/initrd.sh [TREE] [LEVEL]
#
# Without TREE, a ~2 GiB tree is assembled from /usr/lib (hardlinked copies when /usr and the
# temp dir share a file system, so it costs no space). Not part of `make check`.
set -euo pipefail

TRUSTBOOT="${TRUSTBOOT:-$(dirname "$0")/../build/src/cli/trustboot}"
level="${2:-6}"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/bench-initrd.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tree="${1:-}"
if [ -z "$tree" ]; then
        tree="$work/tree"
        mkdir -p "$tree/usr/lib"
        for d in x86_64-linux-gnu llvm-14 jvm gcc python3.11; do
                [ -d "/usr/lib/$d" ] || continue
                cp -al "/usr/lib/$d" "$tree/usr/lib/" 2>/dev/null || cp -a "/usr/lib/$d" "$tree/usr/lib/"
        done
fi
echo "tree: $tree: $(du -sh --apparent-size "$tree" | cut -f1), $(find "$tree" | wc -l) entries; zstd level $level; $(nproc) CPUs"

measure() { # NAME OUTPUT COMMAND...
        local name="$1" out="$2"
        shift 2
        sync
        /usr/bin/time -f "%e %M" -o "$work/time" "$@"
        read -r secs kib < "$work/time"
        printf '%-34s %8.1f s  peak RSS %6d MiB  %8d MiB\n' "$name" "$secs" $((kib / 1024)) $(($(stat -c %s "$out") / 1048576))
}

# Warm the page cache so that both runs read from memory.
find "$tree" -type f -print0 | xargs -0 cat > /dev/null 2>&1 || true

measure "trustboot initrd" "$work/tb.zst" \
        "$TRUSTBOOT" -q initrd "dir:$tree" -o "$work/tb.zst" --compression-level "$level"
measure "find|sort|cpio -o -H newc|zstd -T0" "$work/cpio.zst" \
        bash -c 'cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | zstd -q -T0 -"$2" > "$3"' \
        _ "$tree" "$level" "$work/cpio.zst"
