#!/usr/bin/env bash
# A Debian kernel under QEMU (TCG) unpacks the zstd initrd and runs it: the checks below run
# as PID 1 inside the guest and see hardlinks as one inode (data on the first name only in the
# cpio), setuid/setgid/sticky bits, owners, symlinks, device nodes, fifos, empty mount points,
# and the /init symlink that --init made. The kernel is TB_KERNEL, or a Debian cloud kernel
# fetched once into the build directory (skipped when no mirror answers).
. "$(dirname "$0")/lib/common.sh"
need qemu-system-x86_64 busybox timeout
file -L "$(command -v busybox)" | grep -q 'statically linked' || { echo "SKIP: busybox is not static" >&2; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (owners, device nodes)" >&2; exit 77; }

kernel="${TB_KERNEL:-}"
if [ -z "$kernel" ]; then
        cache="${TB_BUILDDIR:-$WORK}/interop-cache/kernel"
        if ! ls "$cache"/x/boot/vmlinuz-* >/dev/null 2>&1; then
                mkdir -p "$cache"
                pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null |
                        cut -d' ' -f1 | sort -V | tail -n1)
                [ -n "$pkg" ] && (cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>&1) &&
                        dpkg-deb -x "$cache"/"$pkg"_*.deb "$cache/x" && rm -f "$cache"/*.deb ||
                        { echo "SKIP: no Debian kernel (set TB_KERNEL)" >&2; exit 77; }
        fi
        kernel=$(ls "$cache"/x/boot/vmlinuz-* | head -n1)
fi

r="$WORK/root"
mkdir -p "$r"/{bin,sbin,etc,dev,proc,sys,run,tmp,usr/share/d}
cp "$(command -v busybox)" "$r/bin/busybox"
ln -s busybox "$r/bin/sh"
printf 'data\n' > "$r/usr/share/d/one"
ln "$r/usr/share/d/one" "$r/etc/two"
printf '#!/bin/sh\n' > "$r/usr/share/d/suid"; chmod 4755 "$r/usr/share/d/suid"
mkdir "$r/usr/share/sgid"; chmod 2775 "$r/usr/share/sgid"; chown 12:34 "$r/usr/share/sgid"
chmod 1777 "$r/tmp"
echo owned > "$r/etc/owned"; chown 1000:1001 "$r/etc/owned"; chmod 0640 "$r/etc/owned"
ln -s ../usr/share/d/one "$r/etc/link"
mknod "$r/etc/null" c 1 3
mkfifo "$r/etc/fifo"
echo stale > "$r/run/stale"      # left out with /run's contents
cat > "$r/sbin/check" <<'SH'
#!/bin/busybox sh
B=/bin/busybox
bad=""
t() { [ "$2" = "$3" ] || bad="$bad [$1: want '$3' got '$2']"; }
$B mount -t proc proc /proc
t hardlink "$($B stat -c %i /usr/share/d/one)" "$($B stat -c %i /etc/two)"
t links "$($B stat -c %h /etc/two)" 2
t data "$($B cat /etc/two)" data
t suid "$($B stat -c %a /usr/share/d/suid)" 4755
t sgid "$($B stat -c %a:%u:%g /usr/share/sgid)" 2775:12:34
t sticky "$($B stat -c %a /tmp)" 1777
t owner "$($B stat -c %a:%u:%g /etc/owned)" 640:1000:1001
t link "$($B readlink /etc/link)" ../usr/share/d/one
t dev "$($B stat -c %F:%t:%T /etc/null)" "character special file:1:3"
t fifo "$($B stat -c %F /etc/fifo)" fifo
t run "$($B ls -A /run)" ""
t init "$($B readlink /init)" /sbin/check
t mtime "$($B stat -c %Y /etc/owned)" 1700000000
if [ -z "$bad" ]; then echo "TB-INITRD-OK"; else echo "TB-INITRD-BAD$bad"; fi
$B poweroff -f
SH
chmod 0755 "$r/sbin/check"

SOURCE_DATE_EPOCH=1700000000 "$TRUSTBOOT" -q initrd "dir:$r" --init /sbin/check -o "$WORK/initrd.zst"
timeout 180 qemu-system-x86_64 -accel tcg -machine q35 -m 512 -nographic -no-reboot -nodefaults \
        -serial stdio -kernel "$kernel" -initrd "$WORK/initrd.zst" \
        -append "console=ttyS0 panic=-1 quiet" > "$WORK/serial" 2>&1 || true
grep -a 'TB-INITRD-' "$WORK/serial" || { tail -n 30 "$WORK/serial"; fail "the guest did not report"; }
grep -aq 'TB-INITRD-OK' "$WORK/serial" || fail "the guest saw a different tree"
echo "kernel unpacks initrd: ok"
