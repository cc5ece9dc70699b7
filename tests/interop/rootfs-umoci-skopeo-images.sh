#!/usr/bin/env bash
# Images made offline with umoci (several layers: deletions, a file replaced by a directory, a
# directory by a symlink, hardlinks, devices, setuid) give an initrd whose tree equals umoci's
# own unpacking of the image; the same image converted by skopeo to a docker-archive and an
# OCI archive gives the same initrd bytes.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "needs root (owners, device nodes)"; exit 77; }
for t in umoci skopeo cpio python3; do
        command -v "$t" >/dev/null || { echo "$t missing"; exit 77; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
export SOURCE_DATE_EPOCH=0

umoci init --layout img
umoci new --image img:v1

layer() { # TAG-FROM TAG-TO SHELL-CODE (run inside the rootfs)
        rm -rf b
        umoci unpack --image "img:$1" b >/dev/null
        (cd b/rootfs && eval "$3")
        umoci repack --image "img:$2" b >/dev/null
}

layer v1 v1 '
        mkdir -p etc gone/sub usr/bin usr/share opq dev var/lib
        echo a > etc/a; echo del > etc/del; echo f > gone/sub/f; echo old > opq/old
        printf "#!/bin/sh\n" > usr/bin/tool; chmod 4755 usr/bin/tool
        echo shared > usr/share/one; ln usr/share/one usr/share/two; ln usr/share/one etc/three
        ln -s ../usr/bin/tool etc/tool-link; ln -s /nowhere etc/dangling
        mknod dev/null c 1 3; mknod var/lib/loop b 7 0; mkfifo var/lib/fifo
        echo u > var/lib/owned; chown 1234:4321 var/lib/owned; chmod 0640 var/lib/owned
        echo rep > usr/replace-me; mkdir usr/dir-to-link; echo in > usr/dir-to-link/x'
layer v1 v2 '
        rm etc/del; rm -rf gone; echo b > etc/b
        rm usr/replace-me; mkdir usr/replace-me; echo now-a-dir > usr/replace-me/f
        chmod 2750 var/lib; chown 0:50 var/lib'
layer v2 v3 '
        rm usr/share/two; rm -rf usr/dir-to-link; ln -s replace-me usr/dir-to-link
        rm -rf opq/old; echo new > opq/new; echo changed > etc/a'

nlayers="$(python3 -c 'import json,sys; ix=json.load(open("img/index.json"))
d=[m for m in ix["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"]=="v3"][0]["digest"]
print(len(json.load(open("img/blobs/sha256/"+d[7:]))["layers"]))')"
[ "$nlayers" -ge 3 ] || { echo "FAIL: expected at least 3 layers, got $nlayers"; exit 1; }

umoci unpack --image img:v3 want >/dev/null
"$TRUSTBOOT" -q initrd oci-layout:img:v3 -o layout.cpio --compression none
mkdir got && (cd got && cpio -idm --quiet --no-absolute-filenames < ../layout.cpio)
python3 "$TB_SRCDIR/tests/interop/treecmp.py" want/rootfs got --exclude-contents dev

skopeo copy --quiet oci:img:v3 docker-archive:docker.tar:example/test:v3
skopeo copy --quiet oci:img:v3 oci-archive:oci.tar:v3
"$TRUSTBOOT" -q initrd ocifile:docker.tar -o docker.cpio --compression none
"$TRUSTBOOT" -q initrd ocifile:docker.tar:example/test:v3 -o docker-tag.cpio --compression none
"$TRUSTBOOT" -q initrd ocifile:oci.tar:v3 -o oci.cpio --compression none
# Older `docker save` names layers "ID/layer.tar", often symlinks to another layer's file:
# the same archive with manifest.json pointing at skopeo's ID/layer.tar symlinks, gzipped.
python3 - docker.tar legacy.tar.gz <<'PY'
import gzip, io, json, sys, tarfile
src = tarfile.open(sys.argv[1])
links = {m.linkname.split("/")[-1]: m.name for m in src.getmembers() if m.issym() and m.name.endswith("/layer.tar")}
man = json.load(src.extractfile("manifest.json"))
man[0]["Layers"] = [links[l] for l in man[0]["Layers"]]
data = json.dumps(man).encode()
with gzip.open(sys.argv[2], "wb") as f, tarfile.open(fileobj=f, mode="w") as dst:
    for m in src.getmembers():
        if m.name == "manifest.json":
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
        else:
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
PY
"$TRUSTBOOT" -q initrd ocifile:legacy.tar.gz -o legacy.cpio --compression none
for f in docker docker-tag oci legacy; do
        cmp layout.cpio "$f.cpio" || { echo "FAIL: $f.cpio differs from the OCI layout's initrd"; exit 1; }
done
# An older tag of the same layout is a different tree.
"$TRUSTBOOT" -q initrd oci-layout:img:v1 -o v1.cpio --compression none
! cmp -s layout.cpio v1.cpio || { echo "FAIL: tag v1 gave the v3 tree"; exit 1; }
cpio -it --quiet < v1.cpio | grep -qx gone/sub/f || { echo "FAIL: v1 lacks gone/sub/f"; exit 1; }
echo PASS
