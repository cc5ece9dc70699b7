#!/usr/bin/env bash
# Install every Debian package that trustboot's build, tests and demo need.
# Idempotent and non-interactive; safe to run on a fresh Debian 12 (bookworm) as root.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev libcmocka-dev libarchive-dev libjson-c-dev libcryptsetup-dev
  libtss2-dev libfdisk-dev libblkid-dev libyaml-dev libisofs-dev libzstd-dev libkmod-dev
  libcurl4-openssl-dev
  libp11-dev libp11-kit-dev
)
TEST_PKGS=(
  openssl sbsigntool efitools osslsigncode binutils
  systemd systemd-boot-efi
  swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0
  qemu-system-x86 ovmf xorriso mtools dosfstools e2fsprogs
  busybox-static cpio libarchive-tools zstd xz-utils
  cryptsetup-bin umoci skopeo python3 time bc fdisk jq kmod
  docker-registry apache2-utils python3-cryptography
  p11-kit-modules softhsm2 gnutls-bin libsqlite3-0
)
# `make deb` and the real-image tests (tests/images: a Debian 12 image built with mmdebstrap,
# trustboot installed into it from its own .deb).
PKG_PKGS=(
  debhelper dpkg-dev fakeroot lintian mmdebstrap
)

all_installed() {
  local st
  st="$(dpkg-query -W -f='${db:Status-Abbrev}\n' "$@" 2>/dev/null)" || return 1
  ! printf '%s\n' "$st" | grep -qv '^ii'
}
if ! all_installed "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${PKG_PKGS[@]}"; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${PKG_PKGS[@]}"
fi

# Microsoft's UEFI CA certificates (2011 set and 2023 successors) are shipped as PEM files by
# python3-virt-firmware, which bookworm has only in bookworm-backports. Fetch that one package
# with a private apt source list (the system's /etc/apt stays untouched) on the mirror the
# system's own apt sources use (scripts/apt-mirror.sh: a local mirror or proxy keeps working) and
# unpack it under
# /usr/local/share/trustboot/ms-certs, where `trustboot genkey` looks for them.
MS_DIR=/usr/local/share/trustboot/ms-certs
if [ ! -f "$MS_DIR/MicrosoftUEFICA2023.pem" ]; then
  work="$(mktemp -d)"
  chmod 755 "$work"   # apt downloads as the _apt user
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  bash "$(dirname "$0")/apt-mirror.sh" --line bookworm-backports > "$work/bp.list"
  O=(-o "Dir::Etc::SourceList=$work/bp.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
  $SUDO apt-get "${O[@]}" update -q
  (cd "$work" && apt-get "${O[@]}" download python3-virt-firmware)
  dpkg-deb -x "$work"/python3-virt-firmware_*.deb "$work/x"
  src="$(find "$work/x" -type d -path '*virt/firmware/certs' | head -n1)"
  [ -n "$src" ] || { echo "install-deps: python3-virt-firmware has no certs/ directory" >&2; exit 1; }
  $SUDO mkdir -p "$MS_DIR"
  $SUDO cp "$src"/Microsoft*.pem "$src"/Windows*.pem "$MS_DIR"/
  ver="$(dpkg-deb -f "$work"/python3-virt-firmware_*.deb Version)"
  echo "python3-virt-firmware $ver (bookworm-backports)" | $SUDO tee "$MS_DIR/SOURCE" >/dev/null
fi

# tpm2-pkcs11 (a PKCS#11 token in the TPM; tests/interop/pe-tpm2-pkcs11-swtpm-pin-lockout.sh runs it
# on a private swtpm, the only token here whose PIN really locks). Installing the package would
# register the module with p11-kit machine-wide, so every program that loads p11-kit's proxy
# (trustboot's default PKCS#11 module among them) would load it too and, on a machine without a
# TPM, print TPM connection errors at each start. The test loads it by path instead: its shared
# object is unpacked from the Debian package (bookworm main, the system's own apt sources) under
# /usr/local/lib/trustboot-test/tpm2-pkcs11, registered nowhere. Its libraries (tss2, sqlite3,
# libyaml, OpenSSL) come with the packages above.
TPM2_PKCS11_DIR=/usr/local/lib/trustboot-test/tpm2-pkcs11
if [ ! -f "$TPM2_PKCS11_DIR/libtpm2_pkcs11.so" ]; then
  (
    work="$(mktemp -d)"
    chmod 755 "$work"   # apt downloads as the _apt user
    trap 'rm -rf "$work"' EXIT
    cd "$work"
    # The package lists may be older than the archive (a removed version): refresh once and retry.
    apt-get download -q libtpm2-pkcs11-1 || { $SUDO apt-get update -q && apt-get download -q libtpm2-pkcs11-1; }
    dpkg-deb -x libtpm2-pkcs11-1_*.deb x
    so="$(find x -type f -name 'libtpm2_pkcs11.so.*' | head -n1)"
    [ -n "$so" ] || { echo "install-deps: libtpm2-pkcs11-1 has no libtpm2_pkcs11.so" >&2; exit 1; }
    $SUDO mkdir -p "$TPM2_PKCS11_DIR"
    $SUDO install -m 644 "$so" "$TPM2_PKCS11_DIR/libtpm2_pkcs11.so"
    echo "libtpm2-pkcs11-1 $(dpkg-deb -f libtpm2-pkcs11-1_*.deb Version) (unpacked, not registered with p11-kit)" |
      $SUDO tee "$TPM2_PKCS11_DIR/SOURCE" >/dev/null
  )
fi
