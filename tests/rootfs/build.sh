#!/usr/bin/env bash
# Builds the small test/demo root filesystem from Debian packages and prints the directory
# that holds it:
#   DIR/rootfs/      the tree (/init, busybox, the kernel modules of a QEMU machine, trustboot
#                    with its shared libraries, and the kernel as /boot/vmlinuz-VERSION, where
#                    `trustboot build-uki dir:DIR/rootfs` finds it)
#   DIR/vmlinuz      the stock Debian-signed kernel of linux-image-amd64
#   DIR/initrd.img   the tree without /boot as a gzip'd newc cpio (for hand-made UKIs)
#   DIR/versions     the package versions it was made from
#
# Usage: tests/rootfs/build.sh [--trustboot BIN] CACHEDIR
# CACHEDIR keeps the downloaded .debs and the last result; DIR is CACHEDIR/<variant>-<key>, where
# the key hashes this script, the init, the package versions and the trustboot binary, so a second
# run with the same inputs only prints the path.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
trustboot=""
if [ "${1:-}" = "--trustboot" ]; then trustboot="$2"; shift 2; fi
[ $# -eq 1 ] || { echo "usage: $0 [--trustboot BIN] CACHEDIR" >&2; exit 2; }
cache="$1"
mkdir -p "$cache/debs"
cache="$(cd "$cache" && pwd)"
log() { echo "rootfs: $*" >&2; }

# The versioned kernel package behind the linux-image-amd64 meta package, and its version.
kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
[ -n "$kpkg" ] || { echo "rootfs: apt-cache knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
# One apt-cache call for both versions: each takes a second or two.
read -r kver bver < <(apt-cache show --no-all-versions "$kpkg" busybox-static |
  awk -v k="$kpkg" '/^Package:/ {p=$2} /^Version:/ {v[p]=$2} END {print v[k], v["busybox-static"]}')
[ -n "$kver" ] && [ -n "$bver" ] || { echo "rootfs: apt-cache has no version of $kpkg or busybox-static" >&2; exit 1; }
versions="$kpkg $kver
busybox-static $bver"

tb_hash=none
if [ -n "$trustboot" ]; then
  [ -x "$trustboot" ] || { echo "rootfs: $trustboot: not an executable" >&2; exit 1; }
  tb_hash="$(sha256sum <"$trustboot" | cut -c1-64)"
fi
# Two variants, each keeping its newest result: with trustboot its library closure (libarchive
# pulls in libxml2 and ICU's 31 MB data library) makes the initrd ~5x bigger and a TPM boot under
# TCG about twice as slow, so tests that do not run trustboot in the guest use the plain one.
variant=plain
[ -n "$trustboot" ] && variant=tb
key="$variant-$( { cat "$0" "$here/init"; echo "$versions"; echo "$tb_hash"; } | sha256sum | cut -c1-16)"
out="$cache/$key"
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

# Download (kept across keys: the kernel is 70 MB).
fetch() { # PACKAGE VERSION -> path of the .deb
  local f
  f="$(ls "$cache/debs/$1_"*"_amd64.deb" 2>/dev/null | grep -F "_${2//:/%3a}_" | head -n1 || true)"
  if [ -z "$f" ]; then
    log "downloading $1 $2"
    (cd "$cache/debs" && apt-get download -q "$1=$2" >&2 2>/dev/null) || (cd "$cache/debs" && apt-get download -q "$1=$2" >&2)
    f="$(ls "$cache/debs/$1_"*"_amd64.deb" | grep -F "_${2//:/%3a}_" | head -n1)"
  fi
  echo "$f"
}
kdeb="$(fetch "$kpkg" "$kver")"
bdeb="$(fetch busybox-static "$bver")"

tmp="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
x="$tmp/x"; r="$tmp/out/rootfs"
mkdir -p "$x" "$r/usr/lib/modules" "$r/usr/lib64" "$r/usr/bin" "$r/bin" "$r/sbin" "$r/proc" "$r/sys" "$r/dev" \
  "$r/run" "$r/tmp" "$r/etc"
ln -s usr/lib "$r/lib"      # merged /usr, as on the host: ldd's /lib paths land in usr/lib
ln -s usr/lib64 "$r/lib64"

# Only the kernel image, its config, its module lists and the driver trees a QEMU machine needs,
# kept per kernel version: unpacking the 70 MB package is most of a rebuild, and the trustboot
# binary changes far more often.
kx="$cache/kernel5-$kver"
if [ ! -f "$kx/.complete" ]; then
  rm -rf "$kx" && mkdir -p "$kx"
  dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$kx" --wildcards './boot/vmlinuz-*' './boot/config-*' \
    './lib/modules/*/modules.order' './lib/modules/*/modules.builtin' './lib/modules/*/modules.builtin.modinfo' \
    './lib/modules/*/kernel/fs/efivarfs/*' './lib/modules/*/kernel/drivers/char/tpm/*' './lib/modules/*/kernel/block/*' \
    './lib/modules/*/kernel/drivers/block/*' './lib/modules/*/kernel/drivers/virtio/*' \
    './lib/modules/*/kernel/drivers/ata/*' './lib/modules/*/kernel/drivers/scsi/*' './lib/modules/*/kernel/drivers/cdrom/*' \
    './lib/modules/*/kernel/drivers/md/*' './lib/modules/*/kernel/fs/ext4/*' './lib/modules/*/kernel/fs/jbd2/*' \
    './lib/modules/*/kernel/fs/mbcache.ko' './lib/modules/*/kernel/fs/isofs/*' './lib/modules/*/kernel/lib/*' \
    './lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/fs/fat/*' './lib/modules/*/kernel/fs/nls/*'
  touch "$kx/.complete"
fi
cp -a "$kx/boot" "$kx/lib" "$x/"
kfile="$(ls "$x"/boot/vmlinuz-*)"
krel="${kfile##*/vmlinuz-}"
cp "$kfile" "$tmp/out/vmlinuz"
# Also where `trustboot build-uki dir:` looks for it; /boot stays out of the initrd.
mkdir -p "$r/boot"
ln "$tmp/out/vmlinuz" "$r/boot/vmlinuz-$krel"

# Kernel modules as a distribution ships them, with depmod's indexes: nothing says which to load.
# `trustboot init` loads what the machine's devices ask for (their modalias) and what its job
# needs, through libkmod; the plain variant's /init does the same with busybox modprobe. The
# driver trees are a QEMU machine's (virtio, AHCI/SCSI disks and CD-ROMs, device-mapper, TPM,
# the file systems), not the 3000 modules of the package; SCSI host adapters' subdirectories stay
# out. In the trustboot variant the modules are xz-compressed as Debian 13 ships them (the
# Debian signature inside), so a boot under Secure Boot proves that libkmod hands the kernel
# the decompressed, signed module.
km="lib/modules/$krel"
mkdir -p "$r/$km"
(cd "$x/$km" && find kernel -name '*.ko' ! -path 'kernel/drivers/scsi/*/*' -print0 | cpio -0 -pdm --quiet "$r/$km")
cp "$x/$km/modules.order" "$x/$km/modules.builtin" "$x/$km/modules.builtin.modinfo" "$r/$km/"
if [ -n "$trustboot" ]; then
  find "$r/$km/kernel" -name '*.ko' -print0 | xargs -0 -P2 -n 16 xz -q --check=crc32 --lzma2=dict=1MiB
fi
depmod -b "$r" "$krel" || { echo "rootfs: depmod failed" >&2; exit 1; }

dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$x" ./bin/busybox
cp "$x/bin/busybox" "$r/bin/busybox"
# The kernel asks /sbin/modprobe for what it needs later (a file system at mount time), as on a
# distribution: busybox's reads depmod's modules.alias/modules.dep and the .ko.xz files.
ln -s ../bin/busybox "$r/sbin/modprobe"
install -m 0755 "$here/init" "$r/init"
# The same report as the real init after `trustboot init` (build-uki --init) switched root.
install -m 0755 "$here/init" "$r/sbin/init"
printf 'NAME="trustboot test"\nID=trustboot-test\nVERSION_ID=1\n' >"$r/etc/os-release"

# trustboot and its shared libraries, at the paths ldd names.
if [ -n "$trustboot" ]; then
  cp "$trustboot" "$r/usr/bin/trustboot"
  ldd "$trustboot" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
    dest="$r/usr${lib#/usr}"   # /lib/x and /usr/lib/x both land in usr/lib/x
    mkdir -p "$(dirname "$dest")"
    cp -L "$lib" "$dest"
  done
fi

# The installer's tools (host binaries, like trustboot) and the TCTI that tss2 dlopens.
host_tool() { # PATH [LINK…]
  local lib dest="$r/usr${1#/usr}" l
  mkdir -p "$(dirname "$dest")"
  cp -L "$1" "$dest"
  for l in "${@:2}"; do ln -sf "$(basename "$dest")" "$(dirname "$dest")/$l"; done
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$(dirname "$r/usr${lib#/usr}")"
    cp -L "$lib" "$r/usr${lib#/usr}"
  done
}
if [ -n "$trustboot" ]; then
  host_tool /usr/bin/mtools mcopy
  host_tool /sbin/mkfs.fat mkfs.vfat
  host_tool /sbin/mke2fs mkfs.ext4 mkfs.ext2
  # mtools converts FAT short names through iconv's CP850 (glibc loads it from gconv/)
  g=/usr/lib/x86_64-linux-gnu/gconv
  mkdir -p "$r$g"
  cp -a "$g/IBM850.so" "$g/gconv-modules" "$r$g/"
  [ -d "$g/gconv-modules.d" ] && cp -a "$g/gconv-modules.d" "$r$g/"
  for lib in /usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0; do
    [ -e "$lib" ] && cp -L "$lib" "$r$lib"
  done
fi

(cd "$r" && find . -path './boot/*' -prune -o -print | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n) \
  >"$tmp/out/initrd.img"
echo "$versions" >"$tmp/out/versions"
touch "$tmp/out/.complete"

# Keep only the newest result of this variant beside the downloads and the unpacked kernel.
for old in "$cache/$variant"-*/rootfs "$cache"/[0-9a-f]*[0-9a-f]/rootfs; do
  [ -e "$old" ] && rm -rf "$(dirname "$old")"
done
log "built $out ($(du -sh "$r" | cut -f1) tree, initrd $(du -h "$tmp/out/initrd.img" | cut -f1))"
mv -T "$tmp/out" "$out" 2>/dev/null || [ -f "$out/.complete" ]   # a concurrent run may have won
echo "$out"
