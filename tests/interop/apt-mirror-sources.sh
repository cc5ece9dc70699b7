#!/usr/bin/env bash
# scripts/apt-mirror.sh (used by install-deps.sh and the image builders) finds the mirror of the
# system's own apt sources in every format apt reads, and apt itself accepts the line it writes:
# `apt-get --print-uris update` on a private list (no network) fetches from that mirror.
. "$(dirname "$0")/lib/common.sh"
need apt-get awk
am="$TB_SRCDIR/scripts/apt-mirror.sh"
cd "$WORK"

tree() { # NAME: an /etc with os-release (bookworm) and an empty apt/sources.list.d
  rm -rf "$1" && mkdir -p "$1/etc/apt/sources.list.d"
  printf 'ID=debian\nVERSION_CODENAME=bookworm\n' >"$1/etc/os-release"
}

# deb822, as on this machine: a security entry first (not the archive), a disabled entry, then
# the local mirror with two suites and a keyring.
tree a
cat >a/etc/apt/sources.list.d/debian.sources <<'EOF'
Types: deb
URIs: http://mirror.lan:3142/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

# a comment between paragraphs
Types: deb-src deb
URIs: http://mirror.lan:3142/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /etc/apt/keyrings/local.gpg
EOF
assert_eq "$(bash "$am" --root a)" "http://mirror.lan:3142/debian /etc/apt/keyrings/local.gpg" "deb822 source"
assert_eq "$(bash "$am" --root a --line trixie)" \
  "deb [signed-by=/etc/apt/keyrings/local.gpg] http://mirror.lan:3142/debian trixie main" "deb822 --line"

# One-line format in sources.list, options in brackets; a contrib-only line before it is skipped.
tree b
cat >b/etc/apt/sources.list <<'EOF'
# deb http://commented.example/debian bookworm main
deb http://contrib-only.example/debian bookworm contrib
deb [arch=amd64 signed-by=/usr/share/keyrings/mirror.gpg] https://m.example.org/debian bookworm main non-free-firmware # tail
EOF
assert_eq "$(bash "$am" --root b --uri)" "https://m.example.org/debian" "sources.list URI"
assert_eq "$(bash "$am" --root b --keyring)" "/usr/share/keyrings/mirror.gpg" "sources.list keyring"

# sources.list.d/*.list, without signed-by: the line has none either.
tree c
echo 'deb http://plain.example/debian bookworm main' >c/etc/apt/sources.list.d/x.list
assert_eq "$(bash "$am" --root c --line bookworm-backports)" "deb http://plain.example/debian bookworm-backports main" "*.list without keyring"

# Nothing usable: the public archive, said on stderr.
tree d
out="$(bash "$am" --root d 2>err)"
assert_eq "$out" "http://deb.debian.org/debian /usr/share/keyrings/debian-archive-keyring.gpg" "fallback"
contains 'no deb source for bookworm main' err || fail "the fallback is not reported: $(cat err)"

# apt reads what it writes: the index URIs point at the mirror, for the asked suite.
mkdir -p lists/partial
bash "$am" --root a --line bookworm-backports >bp.list
apt-get -o Dir::Etc::SourceList="$WORK/bp.list" -o Dir::Etc::SourceParts=/dev/null \
  -o Dir::State::Lists="$WORK/lists" --print-uris update >uris 2>apt.err || fail "apt rejects the line: $(cat apt.err)"
contains -F "'http://mirror.lan:3142/debian/dists/bookworm-backports/InRelease'" uris ||
  fail "apt would not fetch bookworm-backports from the mirror: $(cat uris)"

# And this machine: the archive entry of its own sources, whatever they are.
sys="$(bash "$am")"
[ -n "${sys%% *}" ] || fail "no mirror for this machine"
echo "ok: deb822, sources.list, *.list and the fallback resolve to the mirror apt uses (this machine: $sys)"
