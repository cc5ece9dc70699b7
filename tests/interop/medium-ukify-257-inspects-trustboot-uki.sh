#!/usr/bin/env bash
# ukify 257 (in a Debian 13 chroot, tests/images/systemd-oracle.sh) reads trustboot's UKIs, built
# on the host's 252 stub and on the 257 stub: `ukify inspect` lists every UKI section, and the
# contents it reports are the ones trustboot was given (kernel, os-release, command line, PCR
# public key) and its .pcrsig is JSON with a sha256 policy. The .sbat is merged as ukify 257 merges
# it: the UKI built by `ukify build` from the same stub, kernel (a PE with its own .sbat here) and
# --sbat file has a byte-identical .sbat, and `trustboot inspect`/`verify` list its entries.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need python3 openssl
. "$(dirname "$0")/lib/oracle257.sh"
synthetic_build_inputs
oracle_tmpdir in ukify
cin="$(oracle_path "$in")"

printf 'sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\ntrustboot-test,1,trustboot,trustboot-test,1,https://example.invalid\n' >"$in/user.sbat"
cp root/boot/vmlinuz "$in/vmlinuz"
for gen in 252 257; do
  stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
  [ "$gen" = 257 ] && stub="$ORACLE$stub"
  "$TRUSTBOOT" -q build-uki dir:root -t uki -d "out$gen" -k keys --stub "$stub" --sbat "@$in/user.sbat" 2>/dev/null
  cp "out$gen/EFI/trustboot/norole.efi" "$in/uki$gen.efi"
  cp "$stub" "$in/stub$gen.efi"
  chroot "$ORACLE" ukify build --stub="$cin/stub$gen.efi" --linux="$cin/vmlinuz" \
    --sbat="@$cin/user.sbat" --output="$cin/ukify$gen.efi" >"ukify$gen.log" 2>&1 ||
    fail "ukify build on the $gen stub failed: $(tail -n2 "ukify$gen.log")"
  chroot "$ORACLE" python3 - "$cin" "$gen" <<'PY' || fail "the .sbat of the $gen-stub UKI is not ukify's"
import pefile, sys
d, gen = sys.argv[1:]
def sbat(path):
    pe = pefile.PE(path, fast_load=True)
    s = [s for s in pe.sections if s.Name.rstrip(b"\0") == b".sbat"]
    assert len(s) == 1, f"{path}: {len(s)} .sbat sections"
    return s[0].get_data()[: s[0].Misc_VirtualSize]
ours, theirs = sbat(f"{d}/uki{gen}.efi"), sbat(f"{d}/ukify{gen}.efi")
if ours != theirs:
    print(f"FAIL ({gen} stub): .sbat differs\n  trustboot: {ours!r}\n  ukify:     {theirs!r}"); sys.exit(1)
print(f"{gen} stub: .sbat byte-identical to ukify 257's ({len(ours)} bytes, {ours.count(b'\n')} lines)")
PY
  "$TRUSTBOOT" inspect --json "out$gen/EFI/trustboot/norole.efi" >"tb-inspect$gen.json"
  python3 - "tb-inspect$gen.json" <<'PY' || fail "trustboot inspect does not list the merged .sbat"
import json, sys
s = json.load(open(sys.argv[1]))["sbat"]
assert s[0].startswith("sbat,1,") and s[-1].startswith("trustboot-test,1,"), s
PY
  "$TRUSTBOOT" verify --cert keys/db.pem "out$gen/EFI/trustboot/norole.efi" | contains "^  sbat: trustboot-test,1," ||
    fail "trustboot verify does not list the .sbat entries"
  chroot "$ORACLE" ukify inspect "$cin/uki$gen.efi" --json=short >"inspect$gen.json" 2>"inspect$gen.err" ||
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
if f",1,The systemd Developers,systemd,{gen}," not in got[".sbat"]["text"] or "trustboot-test,1," not in got[".sbat"]["text"]:
    fail(f".sbat does not merge the {gen} stub's and the user's: {got['.sbat']['text']!r}")
print(f"ukify 257 reads the {gen}-stub UKI: {len(got)} sections as built")
PY
done
