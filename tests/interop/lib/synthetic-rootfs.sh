# synthetic_rootfs DIR: a tiny root file system for build tests that need no real boot: os-release,
# a few files, and the systemd-stub standing in as /boot/vmlinuz (any PE will do for structure).
synthetic_rootfs() {
  local d="$1"
  mkdir -p "$d/etc" "$d/boot" "$d/usr/bin" "$d/proc" "$d/dev" "$d/tmp"
  printf 'NAME="Synthetic"\nID=synthetic\nVERSION_ID=1.0\nPRETTY_NAME="Synthetic 1.0"\n' > "$d/etc/os-release"
  printf '#!/bin/sh\necho hello\n' > "$d/usr/bin/hello"; chmod 755 "$d/usr/bin/hello"
  ln -s usr/bin "$d/bin"
  head -c 200000 /dev/urandom > "$d/usr/bin/blob"
  cp /usr/lib/systemd/boot/efi/linuxx64.efi.stub "$d/boot/vmlinuz"
}

# synthetic_build_inputs: the inputs of a build test, in $WORK (which it makes the current
# directory): root/ (synthetic_rootfs), keys/ (a key set without Microsoft's CAs, made before
# SOURCE_DATE_EPOCH is set) and SOURCE_DATE_EPOCH fixed for what is built after.
synthetic_build_inputs() {
  cd "$WORK"
  synthetic_rootfs root
  "$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
  export SOURCE_DATE_EPOCH=1700000000
}
