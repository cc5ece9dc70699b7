#!/usr/bin/env bash
# Builds the small test/demo root filesystem from Debian packages and prints the directory
# that holds it:
#   DIR/rootfs/      the tree (/init, busybox, the TPM/efivarfs modules the kernel lacks, trustboot
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

# Only the kernel image, its config and the few modules we may need, kept per kernel version:
# unpacking the 70 MB package is most of a rebuild, and the trustboot binary changes far more often.
kx="$cache/kernel3-$kver"
if [ ! -f "$kx/.complete" ]; then
  rm -rf "$kx" && mkdir -p "$kx"
  dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$kx" --wildcards './boot/vmlinuz-*' './boot/config-*' \
    './lib/modules/*/kernel/fs/efivarfs/*' './lib/modules/*/kernel/drivers/char/tpm/*' \
    './lib/modules/*/kernel/drivers/block/*' './lib/modules/*/kernel/drivers/virtio/*' \
    './lib/modules/*/kernel/drivers/ata/*' './lib/modules/*/kernel/drivers/scsi/*' './lib/modules/*/kernel/drivers/cdrom/*' \
    './lib/modules/*/kernel/drivers/md/*' './lib/modules/*/kernel/fs/ext4/*' './lib/modules/*/kernel/fs/jbd2/*' \
    './lib/modules/*/kernel/fs/mbcache.ko' './lib/modules/*/kernel/fs/isofs/*' './lib/modules/*/kernel/lib/*' \
    './lib/modules/*/kernel/crypto/*' './lib/modules/*/kernel/fs/fat/*' './lib/modules/*/kernel/fs/nls/*'
  touch "$kx/.complete"
fi
cp -a "$kx/boot" "$kx/lib" "$x/"
kfile="$(ls "$x"/boot/vmlinuz-*)"
kconfig="$(ls "$x"/boot/config-*)"
krel="${kfile##*/vmlinuz-}"
cp "$kfile" "$tmp/out/vmlinuz"
# Also where `trustboot build-uki dir:` looks for it; /boot stays out of the initrd.
mkdir -p "$r/boot"
ln "$tmp/out/vmlinuz" "$r/boot/vmlinuz-$krel"

# A driver the kernel has built in (=y) needs nothing; a module (=m) goes into the tree, listed in
# load order for the init.
: >"$r/usr/lib/modules/load.order"
add_module() { # CONFIG_SYMBOL relative/path.ko
  case "$(grep "^$1=" "$kconfig" | cut -d= -f2)" in
    y) ;;
    m) mkdir -p "$r/lib/modules/$krel/$(dirname "$2")"
       cp "$x/lib/modules/$krel/$2" "$r/lib/modules/$krel/$2"
       echo "/lib/modules/$krel/$2" >>"$r/usr/lib/modules/load.order" ;;
    *) echo "rootfs: $kpkg has no $1" >&2; exit 1 ;;
  esac
}
add_module CONFIG_TCG_TPM kernel/drivers/char/tpm/tpm.ko
add_module CONFIG_TCG_TIS_CORE kernel/drivers/char/tpm/tpm_tis_core.ko
add_module CONFIG_TCG_TIS kernel/drivers/char/tpm/tpm_tis.ko
add_module CONFIG_TCG_CRB kernel/drivers/char/tpm/tpm_crb.ko
add_module CONFIG_EFIVAR_FS kernel/fs/efivarfs/efivarfs.ko

# What installing and booting from disk need (trustboot init loads them in this order): the
# virtio disk, the CD-ROM behind AHCI, ISO 9660, ext4 (+ crc32c, which it asks for by name),
# dm-crypt with xts(aes). The .deb has no modules.dep (depmod makes it): dependencies come from
# each module's .modinfo "depends=", loaded before their users.
kmods="$x/lib/modules/$krel"
find "$kmods/kernel" -name '*.ko' | while read -r f; do b="$(basename "$f" .ko)"; echo "${b//-/_} ${f#$kmods/}"; done >"$tmp/modindex"
load_module() { # relative/path.ko, after its dependencies
  local dep p
  grep -qxF "/lib/modules/$krel/$1" "$r/usr/lib/modules/load.order" && return
  for dep in $(objcopy -O binary -j .modinfo "$kmods/$1" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
    p="$(awk -v n="${dep//-/_}" '$1 == n {print $2; exit}' "$tmp/modindex")"
    [ -n "$p" ] || { echo "rootfs: $1 needs $dep, not unpacked" >&2; exit 1; }
    load_module "$p"
  done
  mkdir -p "$r/lib/modules/$krel/$(dirname "$1")"
  cp "$kmods/$1" "$r/lib/modules/$krel/$1"
  echo "/lib/modules/$krel/$1" >>"$r/usr/lib/modules/load.order"
}
add_with_deps() { # CONFIG_SYMBOL relative/path.ko
  case "$(grep "^$1=" "$kconfig" | cut -d= -f2)" in
    y) ;;
    m) load_module "$2" ;;
    *) echo "rootfs: $kpkg has no $1" >&2; exit 1 ;;
  esac
}
add_with_deps CONFIG_VIRTIO_PCI kernel/drivers/virtio/virtio_pci.ko
add_with_deps CONFIG_VIRTIO_BLK kernel/drivers/block/virtio_blk.ko
add_with_deps CONFIG_SATA_AHCI kernel/drivers/ata/ahci.ko
add_with_deps CONFIG_BLK_DEV_SR kernel/drivers/scsi/sr_mod.ko
add_with_deps CONFIG_ISO9660_FS kernel/fs/isofs/isofs.ko
add_with_deps CONFIG_CRYPTO_CRC32C kernel/crypto/crc32c_generic.ko
add_with_deps CONFIG_EXT4_FS kernel/fs/ext4/ext4.ko
add_with_deps CONFIG_CRYPTO_ECB kernel/crypto/ecb.ko
add_with_deps CONFIG_CRYPTO_XTS kernel/crypto/xts.ko
add_with_deps CONFIG_DM_CRYPT kernel/drivers/md/dm-crypt.ko
# The installed ESP at /efi (trustboot init mounts it for upgrade and bootentry): vfat with the
# default code page and I/O charset of Debian's kernel (437, ascii).
add_with_deps CONFIG_VFAT_FS kernel/fs/fat/vfat.ko
add_with_deps CONFIG_NLS_CODEPAGE_437 kernel/fs/nls/nls_cp437.ko
add_with_deps CONFIG_NLS_ASCII kernel/fs/nls/nls_ascii.ko

dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$x" ./bin/busybox
cp "$x/bin/busybox" "$r/bin/busybox"
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
