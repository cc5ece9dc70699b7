# Sourced by the upgrade-* tests: an installed node made of files, a fake efivarfs and an ESP.
SECDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f  # EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx
LOADER=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f # systemd's Boot Loader Interface variables
# efivar ATTRS FILE: FILE as efivarfs shows a variable (its 32-bit attributes first), on stdout.
efivar() { python3 -c 'import sys,struct; sys.stdout.buffer.write(struct.pack("<I", int(sys.argv[1],0)) + open(sys.argv[2],"rb").read())' "$@"; }
# node_medium: a Test key set (keys/), the synthetic rootfs root/ and the UKI medium m1/ built
# from them, in the current directory: what the installed node of an upgrade test runs (needs
# lib/synthetic-rootfs.sh).
node_medium() {
  "$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null || fail "genkey Test"
  synthetic_rootfs root
  "$TRUSTBOOT" -q build-uki dir:root -t uki -d m1 -k keys >/dev/null || fail "build-uki m1"
}
# node_vars DIR: DIR as a new efivarfs whose db holds the key set's db certificate (keys/db.esl).
node_vars() { rm -rf "$1"; mkdir -p "$1"; efivar 0x27 keys/db.esl > "$1/db-$SECDB"; }
# node_esp DIR UKI TITLE: DIR as an ESP whose one entry, active (TITLE), boots a copy of UKI.
node_esp() {
  mkdir -p "$1/EFI/trustboot" "$1/loader/entries"
  cp "$2" "$1/EFI/trustboot/active.efi"
  printf 'title %s\nsort-key 0001\nefi /EFI/trustboot/active.efi\n' "$3" > "$1/loader/entries/active.conf"
}

# What the upgrade-* tests ask of the node's ESP (./esp) and efivarfs (./vars).
entries() { ls "esp/${1:-loader/entries}" | LC_ALL=C sort | tr '\n' ' '; }
upgrade() { "$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device none "$@"; }
# The same with the test hooks (fault injection, free space override; util/testhook.h).
upgrade_t() { "$TRUSTBOOT_TEST" upgrade --esp esp --efivars vars --luks-device none "$@"; }
# LoaderEntryOneShot as written (attributes 0x7: non-volatile, boot and runtime access).
oneshot() { python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); assert d[:4]==b"\x07\0\0\0", d[:4]; print(d[4:].decode("utf-16-le").rstrip("\0"))' "vars/LoaderEntryOneShot-$LOADER"; }
# uki_of BASE: the ESP path of the UKI that BASE's one entry (any counter) names.
uki_of() {
  local f n=0 hit=""
  for f in esp/loader/entries/*.conf; do
    case "$(basename "$f")" in "$1.conf"|"$1+"*.conf) n=$((n + 1)); hit=$f;; esac
  done
  [ "$n" -eq 1 ] || fail "$n entries for $1: $(entries)"
  echo "esp$(sed -n 's/^efi //p' "$hit")"
}
# Every file in EFI/trustboot is named by an entry and every entry names a file there.
no_orphans() {
  local f named=""
  for f in esp/loader/entries/*.conf; do
    named="$named $(sed -n 's|^efi /EFI/trustboot/||p' "$f")"
    [ -f "esp$(sed -n 's/^efi //p' "$f")" ] || fail "$f names a missing UKI"
  done
  for f in esp/EFI/trustboot/*; do
    case " $named " in *" $(basename "$f") "*) ;; *) fail "$f is named by no entry";; esac
  done
}
