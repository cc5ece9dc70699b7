#!/usr/bin/env bash
# ukify 257 (in a Debian 13 chroot, tests/images/systemd-oracle.sh) reads trustboot's UKIs, built
# on the host's 252 stub and on the 257 stub: `ukify inspect` lists every UKI section, and the
# contents it reports are the ones trustboot was given (kernel, os-release, command line, PCR
# public key, the stub's own .sbat) and its .pcrsig is JSON with a sha256 policy.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need mmdebstrap python3 openssl
root="$(bash "$(dirname "$0")/../images/systemd-oracle.sh" --release trixie)" || fail "no systemd 257 chroot"
cd "$WORK"
synthetic_rootfs root
"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
export SOURCE_DATE_EPOCH=1700000000
in="$(mktemp -d "$root/tmp/tb-ukify.XXXXXX")"
on_exit "rm -rf '$in'"

for gen in 252 257; do
  stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
  [ "$gen" = 257 ] && stub="$root$stub"
  "$TRUSTBOOT" -q build-uki dir:root -t uki -d "out$gen" -k keys --stub "$stub" >/dev/null
  cp "out$gen/EFI/trustboot/norole.efi" "$in/uki$gen.efi"
  chroot "$root" ukify inspect "${in#"$root"}/uki$gen.efi" --json=short >"inspect$gen.json" 2>"inspect$gen.err" ||
    fail "ukify inspect of the $gen-stub UKI failed: $(tail -n1 "inspect$gen.err")"
  python3 - "inspect$gen.json" "$gen" root keys/tpm2-pcr-private.pem "$stub" <<'PY' || fail "ukify inspect of the $gen-stub UKI: see above"
import hashlib, json, subprocess, sys
got = json.load(open(sys.argv[1])); gen, root, pcrkey, stub = sys.argv[2:]
def fail(msg):
    print(f"FAIL ({gen} stub): {msg}"); sys.exit(1)
want = [".sbat", ".osrel", ".cmdline", ".initrd", ".pcrpkey", ".pcrsig", ".linux"]
if sorted(got) != sorted(want):
    fail(f"sections {sorted(got)}, expected {sorted(want)}")
kernel = open(f"{root}/boot/vmlinuz", "rb").read()
if got[".linux"]["sha256"] != hashlib.sha256(kernel).hexdigest():
    fail(".linux is not the rootfs' kernel")
if got[".osrel"]["text"] != open(f"{root}/etc/os-release").read():
    fail(f".osrel: {got['.osrel']['text']!r}")
if got[".cmdline"]["text"] != "console=tty1 console=ttyS0 panic=5 install-mode":
    fail(f".cmdline: {got['.cmdline']['text']!r}")
pub = subprocess.run(["openssl", "pkey", "-in", pcrkey, "-pubout"], capture_output=True, check=True).stdout.decode()
if got[".pcrpkey"]["text"] != pub:
    fail(".pcrpkey is not the PCR key's public half")
sig = json.loads(got[".pcrsig"]["text"])
if not sig.get("sha256") or not all(e.get("pcrs") == [11] for e in sig["sha256"]):
    fail(f".pcrsig: {got['.pcrsig']['text'][:200]}")
if f",1,The systemd Developers,systemd,{gen}," not in got[".sbat"]["text"]:
    fail(f".sbat is not the {gen} stub's: {got['.sbat']['text']!r}")
print(f"ukify 257 reads the {gen}-stub UKI: {len(got)} sections as built")
PY
done
