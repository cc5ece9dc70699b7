#!/usr/bin/env bash
# A file capability set in an image (Debian's ping: cap_net_raw+ep) reaches the initrd's xattr
# manifest the same way from an OCI layer (umoci writes it as a PAX SCHILY.xattr record) as
# from a dir: source, so init restores it after the hand-over whichever way the image came.
# The manifest lines of both initrds are equal and name the file; a later layer that replaces
# the file without the capability drops it (the replacement is a new file).
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setcap)"; exit 77; }
need umoci setcap cpio
cd "$WORK"
export SOURCE_DATE_EPOCH=0

umoci init --layout img >/dev/null
umoci new --image img:v1 >/dev/null
umoci unpack --image img:v1 b >/dev/null
mkdir -p b/rootfs/usr/bin b/rootfs/sbin
printf '#!/bin/sh\n' >b/rootfs/usr/bin/ping && chmod 755 b/rootfs/usr/bin/ping
printf '#!/bin/sh\n' >b/rootfs/usr/bin/plain && chmod 755 b/rootfs/usr/bin/plain
printf '#!/bin/sh\n' >b/rootfs/sbin/init && chmod 755 b/rootfs/sbin/init
setcap cap_net_raw+ep b/rootfs/usr/bin/ping
umoci repack --image img:v1 b >/dev/null
# v2: ping replaced by a file without the capability.
rm -rf b && umoci unpack --image img:v1 b >/dev/null
rm b/rootfs/usr/bin/ping && printf '#!/bin/sh\n# v2\n' >b/rootfs/usr/bin/ping && chmod 755 b/rootfs/usr/bin/ping
umoci repack --image img:v2 b >/dev/null

# manifest CPIO: the xattr manifest of an uncompressed initrd ("" when there is none).
manifest() {
        rm -rf x && mkdir x
        (cd x && cpio -idm --quiet --no-absolute-filenames <"../$1" .trustboot-xattrs 2>/dev/null) || true
        cat x/.trustboot-xattrs 2>/dev/null || true
}
hexname() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

umoci unpack --image img:v1 dir >/dev/null
"$TRUSTBOOT" -q initrd dir:dir/rootfs -o dir.cpio --compression none
"$TRUSTBOOT" -q initrd oci-layout:img:v1 -o oci.cpio --compression none
want="$(manifest dir.cpio)"
got="$(manifest oci.cpio)"
grep -q "^$(hexname usr/bin/ping) security.capability " <<<"$want" ||
        fail "the dir: source's manifest has no capability for usr/bin/ping: $want"
[ "$got" = "$want" ] || fail "the OCI layer's manifest differs from the dir: source's: $(diff <(echo "$want") <(echo "$got"))"
grep -q "^$(hexname usr/bin/plain) " <<<"$got" && fail "a capability on a file that has none"

"$TRUSTBOOT" -q initrd oci-layout:img:v2 -o v2.cpio --compression none
[ -z "$(manifest v2.cpio)" ] || fail "the replaced file kept the old capability: $(manifest v2.cpio)"
echo "ok: a file capability travels from an OCI layer as from a directory, and goes with the file"
