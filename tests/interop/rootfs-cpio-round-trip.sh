#!/usr/bin/env bash
# A tree with every tricky case goes through `trustboot initrd` and comes back out of GNU cpio
# and bsdcpio identical: names, types, modes, owners, link targets, devices, hardlink groups,
# contents; mount-point contents left out; /init replaced; mtimes = SOURCE_DATE_EPOCH; the same
# bytes on every run, with any thread count; every compression decompresses to the same cpio.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "needs root (owners, device nodes)"; exit 77; }
for t in cpio bsdcpio zstd xz gzip python3; do
        command -v "$t" >/dev/null || { echo "$t missing"; exit 77; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmp_tree="$TB_SRCDIR/tests/interop/treecmp.py"
src="$work/src" ov="$work/overlay"
export SOURCE_DATE_EPOCH=1700000000

mkdir -p "$src"/{bin,etc/sub,usr/lib/modules/6.1.0,boot,dev,proc,sys,run,tmp/deep,empty,a/b,"sp ace",ünï}
printf 'hello\n' > "$src/bin/sh"
chmod 4755 "$src/bin/sh"                      # setuid
printf 'group\n' > "$src/bin/sgid"; chmod 2711 "$src/bin/sgid"
chmod 1777 "$src/tmp"                         # sticky, kept as an empty mount point
printf 'x' > "$src/tmp/deep/gone"             # contents of /tmp left out
printf 'old kernel\n' > "$src/boot/vmlinuz-6.1.0"
ln -s vmlinuz-6.1.0 "$src/boot/vmlinuz"
printf 'modkernel\n' > "$src/usr/lib/modules/6.1.0/vmlinuz"
mknod "$src/dev/null" c 1 3                   # left out with /dev's contents
mknod "$src/etc/blk" b 7 0
mknod "$src/etc/chr" c 4 64
chown 0:6 "$src/etc/blk"
mkfifo -m 0620 "$src/etc/fifo"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$src/etc/sock"
head -c 3000000 /dev/urandom > "$src/usr/big"
seq 1 3000000 > "$src/usr/seq"               # 20 MB: several zstd jobs, so thread counts matter
: > "$src/etc/empty-file"
printf 'shared\n' > "$src/usr/hl1"
ln "$src/usr/hl1" "$src/etc/hl2"
ln "$src/usr/hl1" "$src/a/b/hl3"
ln "$src/usr/hl1" "$src/tmp/hl-outside"       # a link that is not in the initrd
printf 'pair\n' > "$src/a/p1"; ln "$src/a/p1" "$src/a/p2"
: > "$src/a/e1"; ln "$src/a/e1" "$src/a/e2"   # empty hardlinked files
ln -s /etc/absolute-dangling "$src/etc/abs"
ln -s ../usr/big "$src/etc/rel"
ln -s sub "$src/etc/dirlink"
printf 'a-c\n' > "$src/a-c"                   # sorts between "a" and "a/…" bytewise
printf 'sp\n' > "$src/sp ace/f i le"
printf 'u\n' > "$src/ünï/ïñ"
chown 1000:1001 "$src/a/b" "$src/a/p1"
chown -h 33:44 "$src/etc/rel"
chmod 0700 "$src/a/b"
chmod 0555 "$src/empty"
printf 'real init\n' > "$src/init"
mkdir -p "$src/proc/1" && printf 'x' > "$src/proc/1/status"
printf 'mine\n' > "$src/run/lock"

mkdir -p "$ov/etc/sub" "$ov/usr"
printf 'overlay wins\n' > "$ov/etc/sub/new"
printf 'replaced\n' > "$ov/a-c"
printf 'file over dir\n' > "$ov/empty"        # a file in the overlay hides a directory
chmod 0600 "$ov/a-c"
mkdir -p "$ov/usr/lib"                        # merged, not replaced
ov2="$work/kairos"                            # a second overlay, as build-uki stacks one
mkdir -p "$ov2"/{oem,efi,usr/local/cloud-config}
printf 'top\n' > "$ov2/a-c"

T="$TRUSTBOOT"
"$T" -q initrd "dir:$src" --overlay-rootfs "$ov" --overlay-rootfs "$ov2" --init /usr/bin/immucore -o "$work/a.zst"
"$T" -q initrd "dir:$src" --overlay-rootfs "$ov" --overlay-rootfs "$ov2" --init /usr/bin/immucore -o "$work/b.zst" --threads 1
cmp "$work/a.zst" "$work/b.zst" || { echo "FAIL: two runs (2 threads vs 1) differ"; exit 1; }
zstd -q -dc "$work/a.zst" > "$work/a.cpio"
# The digest hashed from the bytes as they were written is the digest of the file.
printed="$("$T" -q initrd "dir:$src" --overlay-rootfs "$ov" --overlay-rootfs "$ov2" --init /usr/bin/immucore -o "$work/p.zst" --print-digest)"
[ "$printed" = "$(cd "$work" && sha256sum "$work/p.zst")" ] || { echo "FAIL: --print-digest: $printed"; exit 1; }

for c in none gzip xz; do
        "$T" -q initrd "dir:$src" --overlay-rootfs "$ov" --overlay-rootfs "$ov2" --init /usr/bin/immucore -o "$work/c.$c" --compression "$c" --compression-level 1
        "$T" -q initrd "dir:$src" --overlay-rootfs "$ov" --overlay-rootfs "$ov2" --init /usr/bin/immucore -o "$work/d.$c" --compression "$c" --compression-level 1
        cmp "$work/c.$c" "$work/d.$c" || { echo "FAIL: $c output not reproducible"; exit 1; }
done
cmp "$work/a.cpio" "$work/c.none" || { echo "FAIL: zstd and none differ after decompression"; exit 1; }
gzip -dc "$work/c.gzip" | cmp - "$work/a.cpio" || { echo "FAIL: gzip payload differs"; exit 1; }
xz -dc "$work/c.xz" | cmp - "$work/a.cpio" || { echo "FAIL: xz payload differs"; exit 1; }
[ "$(od -A n -t x1 -j 4 -N 4 "$work/c.gzip" | tr -d ' ')" = 00000000 ] || { echo "FAIL: gzip header has a timestamp"; exit 1; }

mkdir "$work/gnu" "$work/bsd"
(cd "$work/gnu" && cpio -idm --quiet --no-absolute-filenames < "$work/a.cpio")
(cd "$work/bsd" && bsdcpio -idm --quiet < "$work/a.cpio" 2>/dev/null)
# bsdcpio (libarchive) cannot create sockets and writes an empty file instead.
for x in gnu bsd; do
        echo "== $x cpio"
        ignore=""; [ "$x" = bsd ] && ignore=etc/sock
        python3 "$cmp_tree" "$src+$ov+$ov2" "$work/$x" --exclude-contents boot,dev,proc,run,sys,tmp \
                --init /usr/bin/immucore --ignore "$ignore"
done

# Order: bytewise by path component, directories before their contents, inode numbers 1, 2, 3…
cpio -it --quiet < "$work/a.cpio" > "$work/list"
head -3 "$work/list" | tr '\n' ' ' | grep -qx 'a a/b a/b/hl3 ' || { echo "FAIL: unexpected order: $(head -3 "$work/list")"; exit 1; }
grep -n '^init$' "$work/list" >/dev/null || { echo "FAIL: no init entry"; exit 1; }
python3 - "$work/a.cpio" "$SOURCE_DATE_EPOCH" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
off, want, names = 0, 1, []
while True:
    h = data[off:off + 110]
    assert h[:6] == b"070701", f"bad magic at {off}"
    f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    ino, mode, nlink, mtime, size, namesize = f[0], f[1], f[4], f[5], f[6], f[11]
    name = data[off + 110:off + 110 + namesize - 1].decode()
    if name == "TRAILER!!!":
        break
    names.append(name)
    if mtime != int(sys.argv[2]):
        sys.exit(f"FAIL: {name}: mtime {mtime}, expected SOURCE_DATE_EPOCH {sys.argv[2]}")
    if ino == want:
        want += 1
    elif not (mode & 0o170000 == 0o100000 and size == 0 and nlink > 1 and ino < want):
        sys.exit(f"FAIL: {name}: inode {ino}, expected {want} (or an earlier one for a hardlink)")
    off = (off + 110 + namesize + 3) & ~3
    off = (off + size + 3) & ~3
print(f"cpio: {len(names)} entries, inode numbers in order")
PY

kernel="$("$T" -q initrd "dir:$src" --print-kernel)"
[ "$kernel" = /boot/vmlinuz-6.1.0 ] || { echo "FAIL: kernel: $kernel"; exit 1; }
echo "PASS"
