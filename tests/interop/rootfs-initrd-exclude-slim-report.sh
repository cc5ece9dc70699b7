#!/usr/bin/env bash
# --exclude, --slim and --report of `trustboot initrd`, checked with GNU cpio and strace: excluded
# paths are absent from the archive (and never opened), '!' takes paths back, the same flags give
# the same bytes, malformed patterns are refused with one line; the report's numbers add up; and
# build-uki's size warnings (--efi-size-warn, the ISO's 4 GiB limit).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need cpio zstd strace python3
cd "$WORK"
T="$TRUSTBOOT"

r=tree
mkdir -p $r/etc/default $r/usr/bin $r/usr/share/doc/pkg $r/usr/share/man/man1 $r/usr/share/locale/{de,fr,pt_BR,pt}/LC_MESSAGES \
         $r/usr/include/sys $r/usr/lib/x86_64-linux-gnu $r/var/cache/apt/archives $r/opt/secret/deep $r/srv
printf 'LANG=pt_BR.UTF-8\n' > $r/etc/default/locale
echo bin > $r/usr/bin/tool
for f in usr/share/doc/pkg/copyright usr/share/man/man1/tool.1.gz usr/include/sys/x.h usr/lib/x86_64-linux-gnu/libx.a \
         usr/lib/x86_64-linux-gnu/libx.so.1 var/cache/apt/pkgcache.bin opt/secret/deep/key opt/secret/keep.me srv/a.log srv/b.txt; do
  head -c 3000 /dev/urandom > "$r/$f"
done
for l in de fr pt_BR pt; do echo "$l" > $r/usr/share/locale/$l/LC_MESSAGES/tool.mo; done
ln $r/srv/a.log $r/srv/z-link   # a hardlink whose first name is excluded: the second carries the data

list() { zstd -dc "$1" | cpio -it --quiet 2>/dev/null | LC_ALL=C sort; }
has() { grep -qx "$1" "$2" || fail "$2: '$1' missing"; }
hasnt() { ! grep -qx "$1" "$2" || fail "$2: '$1' should be excluded"; }

# --exclude: basename, anchored, directory-only, '**', '!' — and nothing excluded is opened.
strace -f -qq -e trace=openat -o trace "$T" -q initrd dir:$r -o ex.zst --exclude '*.log' --exclude /opt/secret/ \
  --exclude 'usr/**/*.a' --exclude '!/opt/secret/keep.me' >/dev/null
list ex.zst > ex.list
hasnt srv/a.log ex.list; has srv/z-link ex.list; has srv/b.txt ex.list
hasnt opt/secret ex.list; hasnt opt/secret/deep/key ex.list
hasnt opt/secret/keep.me ex.list   # inside an excluded directory: '!' cannot take it back (as in git)
hasnt usr/lib/x86_64-linux-gnu/libx.a ex.list; has usr/lib/x86_64-linux-gnu/libx.so.1 ex.list; has opt ex.list
! grep -E 'opt/secret|libx\.a|a\.log' trace >/dev/null || fail "an excluded path was opened: $(grep -E 'opt/secret|libx\.a|a\.log' trace | head -3)"
grep -q 'b\.txt' trace || fail "strace saw no opens at all (the check above proves nothing)"
mkdir x && (cd x && zstd -dc ../ex.zst | cpio -idm --quiet 2>/dev/null)
cmp -s x/srv/z-link $r/srv/a.log || fail "the kept hardlink name lost the data of its excluded first name"

# Same flags → same bytes; the excluded set changes them.
"$T" -q initrd dir:$r -o ex2.zst --exclude '*.log' --exclude /opt/secret/ --exclude 'usr/**/*.a' --exclude '!/opt/secret/keep.me'
cmp -s ex.zst ex2.zst || fail "the same --exclude flags gave different bytes"
"$T" -q initrd dir:$r -o ex3.zst --exclude '*.log'
! cmp -s ex.zst ex3.zst || fail "different --exclude flags gave the same bytes"

# --slim: docs, man pages, other locales, headers, static libraries, apt caches; configured locales kept.
"$T" -q initrd dir:$r -o slim.zst --slim
list slim.zst > slim.list
for p in usr/share/doc usr/share/man usr/include usr/lib/x86_64-linux-gnu/libx.a var/cache/apt usr/share/locale/de usr/share/locale/fr; do
  hasnt $p slim.list
done
for p in usr/share/locale/pt_BR/LC_MESSAGES/tool.mo usr/share/locale/pt/LC_MESSAGES/tool.mo usr/lib/x86_64-linux-gnu/libx.so.1 usr/share var/cache; do
  has $p slim.list
done
# A user '!' after --slim takes something back.
"$T" -q initrd dir:$r -o slim2.zst --slim --exclude '!/usr/share/locale/de/'
list slim2.zst | grep -qx usr/share/locale/de/LC_MESSAGES/tool.mo || fail "'!' after --slim did not take de back"

# Malformed patterns: status 2, one line naming the pattern and the reason, no output.
for bad in '[abc' 'usr/a**' '' 'a//b' '../etc' '#x' '!'; do
  expect_error "$T" initrd dir:$r -o bad.zst --exclude "$bad"
  assert_eq "$EXIT_STATUS" 2 "--exclude '$bad'"
  echo "$ERR" | contains -F -- "--exclude '$bad': " || fail "error does not name the pattern: $ERR"
  [ ! -e bad.zst ] || fail "output left behind for '$bad'"
done
expect_error "$T" initrd dir:$r -o bad.zst --exclude '[abc'
echo "$ERR" | contains "unterminated '\[' bracket" || fail "no reason given: $ERR"

# --report: rows add up to the total, --slim's groups add up to what it leaves out.
"$T" initrd --report --slim dir:$r > report.txt
contains -E '^ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+  /usr/share/doc$' report.txt || fail "no /usr/share/doc row: $(cat report.txt)"
contains '^left out: .*documentation .*locales .*package-manager caches' report.txt || fail "no left-out line: $(tail -1 report.txt)"
"$T" initrd --report --slim --json --depth 2 dir:$r > report.json
python3 - report.json <<'PY' || fail "--json report does not add up"
import json, sys
r = json.load(open(sys.argv[1]))
assert sum(d["raw"] for d in r["directories"]) == r["raw"], "rows vs total"
assert r["raw"] == 10 * 3000 + 15 + 4 + 17, r["raw"]  # the hardlinked file counted once
ex = r["excluded"]
assert ex["raw"] == sum(v for k, v in ex.items() if k not in ("raw", "estimate")), ex
assert ex["documentation"] == 3000 and ex["locales"] == 2 * 3 and ex["package-manager caches"] == 3000, ex
assert all(d["path"].count("/") <= 1 for d in r["directories"]), "depth 2"
PY
expect_error "$T" initrd --report dir:$r -o out.zst
assert_eq "$EXIT_STATUS" 2 "--report with -o"

# build-uki: --efi-size-warn, and a malformed --exclude refused before any work.
synthetic_rootfs sroot
"$T" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
"$T" build-uki dir:sroot -t uki -d out1 -k keys 2>err1 >/dev/null
! grep -q 'efi-size-warn' err1 || fail "warned below the default threshold: $(cat err1)"
head -c 3000000 /dev/urandom > sroot/usr/bin/big
"$T" build-uki dir:sroot -t uki -d out2 -k keys --efi-size-warn 2 2>err2 >/dev/null
grep -q 'EFI/trustboot/norole.efi: [0-9]* MiB, more than --efi-size-warn 2 MiB' err2 || fail "no size warning: $(cat err2)"
"$T" build-uki dir:sroot -t uki -d out3 -k keys --efi-size-warn 2 --exclude /usr/bin/big 2>err3 >/dev/null
! grep -q 'efi-size-warn' err3 || fail "--exclude did not shrink the UKI below the threshold: $(cat err3)"
expect_error "$T" build-uki dir:sroot -t iso -d out4 -k keys --exclude 'a**'
assert_eq "$EXIT_STATUS" 2 "build-uki --exclude 'a**'"
[ ! -e out4 ] || fail "out4 created for a bad pattern"

# -t iso: an ESP of 4 GiB or more is refused (one ISO 9660 extent, El Torito, the GPT entry).
if [ -n "${TB_ISO_FROM_ESP:-}" ]; then
  truncate -s 4G big.img
  expect_error "$TB_ISO_FROM_ESP" big.img big.iso 0
  echo "$ERR" | contains "an installable ISO holds less than 4 GiB" || fail "4 GiB ESP: $ERR"
  [ ! -e big.iso ] || fail "big.iso left behind"
fi
echo "ok"
