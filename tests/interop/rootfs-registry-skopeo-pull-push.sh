#!/usr/bin/env bash
# Registry images against Debian's docker-registry (the CNCF distribution registry), filled with
# skopeo: plain HTTP, TLS with a test CA + htpasswd Basic auth, and token auth (a token server on
# loopback). build-uki from each gives the ISO that the same image gives as oci-layout:; a rebuild
# downloads no blob; --push lands an image skopeo inspects; bad registries fail with one line
# and leave no work area and no cache entry behind.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/registry.sh"
need docker-registry skopeo umoci htpasswd openssl python3 curl jq
python3 -c 'import cryptography' 2>/dev/null || { echo "SKIP: python3-cryptography missing" >&2; exit 77; }
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000
export TMPDIR="$WORK/tmp"; mkdir -p "$TMPDIR"
export HOME="$WORK/home"; mkdir -p "$HOME"   # no stray ~/.docker/config.json of the machine
unset REGISTRY_AUTH_FILE XDG_RUNTIME_DIR

synthetic_rootfs root
umoci init --layout img >/dev/null && umoci new --image img:v1 >/dev/null
umoci unpack --image img:v1 bundle >/dev/null && cp -a root/. bundle/rootfs/ && umoci repack --image img:v1 bundle >/dev/null
env -u SOURCE_DATE_EPOCH "$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
B=(-t iso -k keys)
"$TRUSTBOOT" -q build-uki oci-layout:img:v1 "${B[@]}" -d ref >/dev/null
REF_ISO=$(ls ref/*.iso)

# A multi-arch index: the image for amd64 and a second manifest (config says arm64) for arm64.
python3 - img multi <<'PY'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
def blob(b):
    d = hashlib.sha256(b).hexdigest(); open(f"{dst}/blobs/sha256/{d}", "wb").write(b); return "sha256:" + d, len(b)
idx = json.load(open(f"{dst}/index.json"))
m = idx["manifests"][0]
man = json.load(open(f"{dst}/blobs/sha256/{m['digest'][7:]}"))
cfg = json.load(open(f"{dst}/blobs/sha256/{man['config']['digest'][7:]}"))
cfg["architecture"] = "arm64"
cd, cs = blob(json.dumps(cfg).encode())
man["config"] = dict(man["config"], digest=cd, size=cs)
ad, asz = blob(json.dumps(man).encode())
mt = "application/vnd.oci.image.manifest.v1+json"
inner = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": mt, "digest": ad, "size": asz, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"mediaType": mt, "digest": m["digest"], "size": m["size"], "platform": {"os": "linux", "architecture": "amd64"}}]}
idd, ids = blob(json.dumps(inner).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idd,
           "size": ids, "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, open(f"{dst}/index.json", "w"))
PY
skopeo copy -q oci:img:v1 docker-archive:"$WORK/darchive.tar":syn:v1

same_iso() { # DIR WHAT
  cmp -s "$REF_ISO" "$(ls "$1"/*.iso)" || fail "$2: ISO differs from the oci-layout build"
}

# ---- (a) plain HTTP ----
start_registry A plain
A=$REG_A_ADDR
INS=(--allow-insecure-registries)
skopeo copy -q --dest-tls-verify=false oci:img:v1 docker://$A/syn:v1
skopeo copy -q --all --dest-tls-verify=false oci:multi:v1 docker://$A/multi:v1
skopeo copy -q --dest-tls-verify=false docker-archive:"$WORK/darchive.tar" docker://$A/darchive:v1
digest=$(skopeo inspect --tls-verify=false docker://$A/syn:v1 | jq -r .Digest)

"$TRUSTBOOT" -q build-uki $A/syn:v1 "${B[@]}" -d a1 "${INS[@]}" --cache cache --json > a1.json
same_iso a1 "plain HTTP, tag"
[ "$(jq .pulled.downloaded_bytes a1.json)" -gt 0 ] || fail "first build downloaded nothing: $(cat a1.json)"
before=$(blob_gets "$REG_A_DIR/log")
"$TRUSTBOOT" -q build-uki docker://$A/syn:v1 "${B[@]}" -d a2 "${INS[@]}" --cache cache --json > a2.json
same_iso a2 "docker://"
assert_eq "$(jq .pulled.downloaded_bytes a2.json)" 0 "bytes downloaded by the rebuild (--json)"
assert_eq "$(blob_gets "$REG_A_DIR/log")" "$before" "blob GETs in the registry log during the rebuild"
"$TRUSTBOOT" -q build-uki "oci:$A/syn@$digest" "${B[@]}" -d a3 "${INS[@]}" --no-cache >/dev/null
same_iso a3 "digest-pinned reference"
"$TRUSTBOOT" -q build-uki $A/multi:v1 "${B[@]}" -d a4 "${INS[@]}" --no-cache --platform linux/amd64 >/dev/null
same_iso a4 "multi-arch index, linux/amd64"
"$TRUSTBOOT" -q build-uki $A/darchive:v1 "${B[@]}" -d a5 "${INS[@]}" --no-cache >/dev/null
same_iso a5 "image copied from a docker-archive"
ls cache/blobs/sha256 | grep -q '^\.' && fail "temp files left in the cache: $(ls -a cache/blobs/sha256)"
# A cached blob damaged on disk (same size): noticed before use, fetched again, entry replaced.
cl=$(jq -r '.pulled.layers[0].digest' a1.json); cl=${cl#sha256:}
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[100]^=1; open(p,"wb").write(b)' cache/blobs/sha256/$cl
"$TRUSTBOOT" -q build-uki $A/syn:v1 "${B[@]}" -d a6 "${INS[@]}" --cache cache --json >a6.json 2>a6.err || fail "build with a damaged cache entry: $(cat a6.err)"
contains "is damaged; fetching it again" a6.err || fail "damaged cache entry not reported: $(cat a6.err)"
same_iso a6 "build with a damaged cache entry"
[ "$(jq .pulled.downloaded_bytes a6.json)" -gt 0 ] || fail "the damaged layer was not fetched again"
[ "$(sha256sum < cache/blobs/sha256/$cl | cut -d' ' -f1)" = "$cl" ] || fail "the cache entry was not replaced"

# ---- bad input: one line, exit 1, no work area, no output, no cache entry for the bad blob ----
bad() { # WHAT EXPECTED-SUBSTRING ARGS...
  local what="$1" want="$2"; shift 2
  local rc=0
  rm -rf bad-out badcache
  "$TRUSTBOOT" -q build-uki "$@" "${B[@]}" -d bad-out --cache badcache >/dev/null 2>bad.err || rc=$?
  assert_eq "$rc" 1 "$what: exit status"
  # The insecure-registry warning is asked for; the error itself is one line.
  grep -v 'warning: .*insecure registry' bad.err > bad.err1 || true
  [ "$(wc -l < bad.err1)" -eq 1 ] || fail "$what: error is not one line: $(cat bad.err)"
  ERR=$(cat bad.err1)
  echo "$ERR" | contains -- "$want" || fail "$what: '$ERR' does not say '$want'"
  [ -z "$(ls -A "$TMPDIR")" ] || fail "$what: work area left: $(ls -A "$TMPDIR")"
  [ ! -e bad-out ] || fail "$what: output directory left"
  ! ls -A badcache/blobs/sha256 2>/dev/null | grep -q '^\.' || fail "$what: partial cache entry left"
}
blobdir="$REG_A_DIR/storage/docker/registry/v2/blobs/sha256"
layer=$(jq -r '.pulled.layers[0].digest' a1.json); layer=${layer#sha256:}
bad "404 tag" "not found (404)" $A/syn:nope "${INS[@]}"
bad "index without the platform" "no image for linux/s390x" $A/multi:v1 "${INS[@]}" --platform linux/s390x
bad "layer bomb" "--max-image-size" $A/syn:v1 "${INS[@]}" --max-image-size 100K
bad "no --allow-insecure-registries for plain HTTP" "TLS with $A failed" $A/syn:v1
# The stored layer damaged in place: same size, one byte different; then cut short.
cp "$blobdir/${layer:0:2}/$layer/data" layer.orig
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=1; open(p,"wb").write(b)' "$blobdir/${layer:0:2}/$layer/data"
bad "blob bytes not matching" "blob digest mismatch" $A/syn:v1 "${INS[@]}"
[ ! -e "badcache/blobs/sha256/$layer" ] || fail "a blob that failed its digest is in the cache"
head -c 1000 layer.orig > "$blobdir/${layer:0:2}/$layer/data"
bad "truncated blob" "truncated: 1000 of" $A/syn:v1 "${INS[@]}"
cp layer.orig "$blobdir/${layer:0:2}/$layer/data"
# The stored manifest changed: the registry still names it by its old digest.
man=${digest#sha256:}
cp "$blobdir/${man:0:2}/$man/data" man.orig
sed -i 's/"schemaVersion":2/"schemaVersion": 2/; s/"schemaVersion": 2,/"schemaVersion":  2,/' "$blobdir/${man:0:2}/$man/data"
cmp -s man.orig "$blobdir/${man:0:2}/$man/data" && fail "test setup: manifest not changed"
bad "wrong manifest digest" "manifest digest mismatch" $A/syn:v1 "${INS[@]}"
cp man.orig "$blobdir/${man:0:2}/$man/data"
# An image whose layer has a media type nobody knows.
python3 - "$blobdir/${man:0:2}/$man/data" > odd.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["layers"][0]["mediaType"] = "application/vnd.example.unknown"; print(json.dumps(m))
PY
curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary @odd.json \
  "http://$A/v2/odd/manifests/v1" >/dev/null 2>&1 || skopeo copy -q --dest-tls-verify=false oci:img:v1 docker://$A/odd:v0
curl -fsS -X PUT -H "Content-Type: application/vnd.oci.image.manifest.v1+json" --data-binary @odd.json \
  "http://$A/v2/odd/manifests/v1" >/dev/null || fail "test setup: cannot store the odd manifest"
bad "unknown layer media type" "unsupported media type 'application/vnd.example.unknown'" $A/odd:v1 "${INS[@]}"

for mode in stall redirect bigmanifest; do
  python3 "$(dirname "$0")/lib/badserver.py" $mode "$WORK/$mode.port" & pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  for _ in $(seq 1 50); do [ -s "$WORK/$mode.port" ] && break; sleep 0.1; done
  eval "BAD_$mode=127.0.0.1:$(cat "$WORK/$mode.port")"
done
bad "stalling registry" "no data from $BAD_stall for 1 s" $BAD_stall/x:v1 "${INS[@]}" --registry-timeout 1
bad "redirect loop" "redirect loop" $BAD_redirect/x:v1 "${INS[@]}"
bad "manifest over 4 MiB" "larger than 4194304 bytes" $BAD_bigmanifest/x:v1 "${INS[@]}"
bad "not a reference" "not an image reference" "docker://Not/A/Ref"

# ---- (b) TLS with a test CA + htpasswd Basic auth ----
start_registry B basic
Bh=$REG_B_ADDR
CD=(--cert-dir "$WORK/ca/certdir")
skopeo copy -q --dest-cert-dir "$WORK/ca/certdir" --dest-creds tb:secret oci:img:v1 docker://$Bh/syn:v1
bad "401 without credentials" "requires authentication and no credentials were found" $Bh/syn:v1 "${CD[@]}"
bad "unknown CA" "TLS with $Bh failed" $Bh/syn:v1
printf '{"auths":{"%s":{"auth":"%s"}}}' "$Bh" "$(printf tb:wrong | base64)" > wrong.json
REGISTRY_AUTH_FILE=$WORK/wrong.json bad "wrong password" "refused the credentials for $Bh from $WORK/wrong.json" $Bh/syn:v1 "${CD[@]}"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$Bh" "$(printf tb:secret | base64)" > auth.json
REGISTRY_AUTH_FILE=$WORK/auth.json "$TRUSTBOOT" -q build-uki $Bh/syn:v1 "${B[@]}" -d b1 "${CD[@]}" --no-cache >/dev/null
same_iso b1 "TLS + Basic"
# The same credentials found in ~/.docker/config.json (docker login's file).
mkdir -p "$HOME/.docker" && cp auth.json "$HOME/.docker/config.json"
"$TRUSTBOOT" -q build-uki $Bh/syn:v1 "${B[@]}" -d b2 "${CD[@]}" --no-cache >/dev/null
same_iso b2 "TLS + Basic, ~/.docker/config.json"

# --push: the -t container image to the registry, inspected by skopeo, and pulled back.
out=$(REGISTRY_AUTH_FILE=$WORK/auth.json "$TRUSTBOOT" -q build-uki dir:root -t container -k keys -d c1 --push $Bh/upgrade:v1 "${CD[@]}")
pinned=$(echo "$out" | sed -n 2p)
case "$pinned" in "$Bh/upgrade@sha256:"*) ;; *) fail "--push printed '$out'";; esac
skopeo inspect --cert-dir "$WORK/ca/certdir" --creds tb:secret docker://$Bh/upgrade:v1 > insp.json || fail "skopeo inspect after --push"
assert_eq "$(jq -r .Digest insp.json)" "${pinned#*@}" "digest skopeo sees for the pushed tag"
skopeo copy -q --src-cert-dir "$WORK/ca/certdir" --src-creds tb:secret docker://$pinned oci:pulled:v1
mkdir fromreg fromtar && tar -xf c1/*.tar -C fromtar
layer_tar=$(jq -r '.[0].Layers[0]' fromtar/manifest.json)
mdig=$(jq -r '.manifests[0].digest' pulled/index.json)
pl=$(jq -r '.layers[0].digest' "pulled/blobs/sha256/${mdig#sha256:}")
# skopeo recompresses on its way into an OCI layout: compare the uncompressed tar.
blob="pulled/blobs/sha256/${pl#sha256:}"
{ gzip -dc "$blob" 2>/dev/null || cat "$blob"; } | cmp -s - "fromtar/$layer_tar" || fail "pushed layer differs from the tarball's"
# A second push of the same image uploads no blob.
REGISTRY_AUTH_FILE=$WORK/auth.json "$TRUSTBOOT" build-uki dir:root -t container -k keys -d c2 --push $Bh/upgrade:v1 "${CD[@]}" 2>push2.err >/dev/null
contains "already there" push2.err || fail "second push uploaded again: $(cat push2.err)"
# To another repository of the same registry: the layer is mounted, not uploaded again.
REGISTRY_AUTH_FILE=$WORK/auth.json "$TRUSTBOOT" build-uki dir:root -t container -k keys -d c3 --push $Bh/fleet/uki:v1 \
  --push-mount-from $Bh/upgrade "${CD[@]}" 2>push3.err >/dev/null || fail "push with --push-mount-from: $(cat push3.err)"
contains "mounted" push3.err || fail "--push-mount-from did not mount: $(cat push3.err)"
skopeo inspect --cert-dir "$WORK/ca/certdir" --creds tb:secret docker://$Bh/fleet/uki:v1 >/dev/null || fail "skopeo inspect after a mounted push"

# ---- (c) token auth ----
start_registry C token
C=$REG_C_ADDR
skopeo copy -q --dest-tls-verify=false --dest-creds tb:secret oci:img:v1 docker://$C/syn:v1
bad "token server refuses anonymous" "refused\|requires authentication" $C/syn:v1 "${INS[@]}"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$C" "$(printf tb:secret | base64)" > tauth.json
REGISTRY_AUTH_FILE=$WORK/tauth.json "$TRUSTBOOT" -q build-uki $C/syn:v1 "${B[@]}" -d c3 "${INS[@]}" --no-cache >/dev/null
same_iso c3 "token auth"
contains "GET /token" "$REG_TOKEN_LOG" || fail "the token server was not asked"
echo "registry pull/push: all checks passed"
