# Sourced by the tests that take systemd 257 as the oracle: a Debian 13 chroot with systemd 257
# (tests/images/systemd-oracle.sh; built once a week and cached). Sourcing it skips the test (77)
# without mmdebstrap and fails it when the chroot cannot be made; it needs nothing sourced before
# it, so a test may set TMPDIR inside the chroot first. It sets
#   ORACLE                     the chroot's directory
# and defines
#   oracle_check_257 PROGRAM   fails unless `PROGRAM --version` in the chroot says systemd 257;
#                              sets ORACLE_VERSION to that line
#   oracle_tmpdir VAR NAME     VAR = a private directory under $ORACLE/tmp, removed on exit
#                              (after lib/common.sh)
#   oracle_path PATH           PATH as a program in the chroot sees it
command -v mmdebstrap >/dev/null 2>&1 || { echo "SKIP: mmdebstrap not installed" >&2; exit 77; }
ORACLE="$(bash "$(dirname "${BASH_SOURCE[0]}")/../../images/systemd-oracle.sh" --release trixie)" ||
  { echo "FAIL: no systemd 257 chroot" >&2; exit 1; }

oracle_check_257() {
  ORACLE_VERSION="$(chroot "$ORACLE" "$1" --version | head -n1)"
  case "$ORACLE_VERSION" in
    "systemd 257"*) ;;
    *) echo "FAIL: the oracle's $1 is $ORACLE_VERSION, not systemd 257" >&2; exit 1 ;;
  esac
}

oracle_tmpdir() {
  local d
  d="$(mktemp -d "$ORACLE/tmp/tb-$2.XXXXXX")"
  on_exit "rm -rf '$d'"
  printf -v "$1" '%s' "$d"
}

oracle_path() { printf '%s' "${1#"$ORACLE"}"; }
