# Sourced by the upgrade-* tests: an installed node made of files, a fake efivarfs and an ESP.
SECDB=d719b2cb-3d3a-4596-a3bc-dad00e67656f  # EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx
LOADER=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f # systemd's Boot Loader Interface variables
# efivar ATTRS FILE: FILE as efivarfs shows a variable (its 32-bit attributes first), on stdout.
efivar() { python3 -c 'import sys,struct; sys.stdout.buffer.write(struct.pack("<I", int(sys.argv[1],0)) + open(sys.argv[2],"rb").read())' "$@"; }
# node_vars DIR: DIR as a new efivarfs whose db holds the key set's db certificate (keys/db.esl).
node_vars() { rm -rf "$1"; mkdir -p "$1"; efivar 0x27 keys/db.esl > "$1/db-$SECDB"; }
# node_esp DIR UKI TITLE: DIR as an ESP whose one entry, active (TITLE), boots a copy of UKI.
node_esp() {
  mkdir -p "$1/EFI/trustboot" "$1/loader/entries"
  cp "$2" "$1/EFI/trustboot/active.efi"
  printf 'title %s\nsort-key 0001\nefi /EFI/trustboot/active.efi\n' "$3" > "$1/loader/entries/active.conf"
}
