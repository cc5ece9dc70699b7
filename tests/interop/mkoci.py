#!/usr/bin/env python3
"""Craft an OCI image layout with exactly the layer entries a test asks for (hostile ones too).

mkoci.py OUTDIR TAG JSON

JSON is a list of layers; a layer is {"compress": "gzip"|"zstd"|"none", "entries": [...],
"damage": null|"digest"|"diff_id"|"truncate"|"size"} and each entry a list:
  ["f", NAME, TEXT, MODE?, UID?, GID?]   regular file      ["d", NAME, MODE?, UID?, GID?]
  ["l", NAME, TARGET]                    symlink           ["h", NAME, TARGET]  hardlink
  ["c"|"b", NAME, MAJOR, MINOR]          device node       ["p", NAME]          fifo
  ["lie", NAME, CLAIMED_SIZE, TEXT]      header claims more bytes than follow
Names are written verbatim ("../x", "/abs" and all)."""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile


def build_tar(entries):
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
    lie = None
    for e in entries:
        kind, name = e[0], e[1]
        ti = tarfile.TarInfo(name)
        ti.mtime = 0
        data = None
        if kind == "f":
            data = e[2].encode()
            ti.size = len(data)
            ti.mode = e[3] if len(e) > 3 else 0o644
            ti.uid, ti.gid = (e[4], e[5]) if len(e) > 5 else (0, 0)
        elif kind == "d":
            ti.type = tarfile.DIRTYPE
            ti.mode = e[2] if len(e) > 2 else 0o755
            ti.uid, ti.gid = (e[3], e[4]) if len(e) > 4 else (0, 0)
        elif kind == "l":
            ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e[2], 0o777
        elif kind == "h":
            ti.type, ti.linkname = tarfile.LNKTYPE, e[2]
        elif kind in ("c", "b"):
            ti.type = tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE
            ti.devmajor, ti.devminor, ti.mode = e[2], e[3], 0o600
        elif kind == "p":
            ti.type, ti.mode = tarfile.FIFOTYPE, 0o644
        elif kind == "lie":
            data = e[3].encode()
            ti.size = e[2]
            lie = (ti, data)
            break
        tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    if lie:
        ti, data = lie
        buf.write(ti.tobuf(tarfile.PAX_FORMAT))
        buf.write(data)  # fewer bytes than the header says, then the file ends
        return buf.getvalue()
    tf.close()
    return buf.getvalue()


def put_blob(out, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def main():
    out, tag, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layers, diff_ids, damaged = [], [], []
    for layer in spec:
        raw = build_tar(layer["entries"])
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        comp = layer.get("compress", "gzip")
        if comp == "gzip":
            blob, mt = gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
        elif comp == "zstd":
            blob = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
            mt = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob, mt = raw, "application/vnd.oci.image.layer.v1.tar"
        damage = layer.get("damage")
        if damage == "truncate":
            blob = blob[: len(blob) // 2]
        digest, size = put_blob(out, blob)
        if damage == "digest":  # the stored blob changes after the manifest was written
            p = os.path.join(out, "blobs", "sha256", digest[7:])
            with open(p, "r+b") as f:
                f.seek(size - 1)
                last = f.read(1)
                f.seek(size - 1)
                f.write(bytes([last[0] ^ 1]))
        if damage == "diff_id":
            diff_ids[-1] = "sha256:" + "0" * 64
        if damage == "size":
            size += 1
        layers.append({"mediaType": mt, "digest": digest, "size": size})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd, cs = put_blob(out, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cd, "size": cs},
                           "layers": layers}).encode()
    md, ms = put_blob(out, manifest)
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)


main()
