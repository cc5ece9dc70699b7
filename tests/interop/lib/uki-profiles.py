# uki-profiles.py DIR NAME [COUNT] — run with pefile in the systemd 257 oracle chroot
# (lib/oracle257.sh), fed on stdin: `chroot "$ORACLE" python3 - DIR NAME < lib/uki-profiles.py`.
# For each profile P of the UKI DIR/NAME (a UKI without .profile has one, P = 0): the sections the
# 257 stub measures when it boots "@P" — the base sections before the first .profile, overridden by
# the profile's own, VirtualSize bytes each — written as DIR/pP.SECTION, their systemd-measure
# arguments one a line in DIR/pP.args, and the profile's .pcrsig in DIR/pP.pcrsig. With COUNT,
# the UKI must have that many profiles.
import pefile, sys
d, name = sys.argv[1], sys.argv[2]
MEASURED = (".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey", ".profile")
pe = pefile.PE(f"{d}/{name}", fast_load=True)
secs = [(s.Name.rstrip(b"\0").decode(), s.get_data()[: s.Misc_VirtualSize]) for s in pe.sections]
starts = [i for i, (n, _) in enumerate(secs) if n == ".profile"] or [len(secs)]
if len(sys.argv) > 3:
    assert len(starts) == int(sys.argv[3]), starts
def first(rng):
    out = {}
    for n, data in rng:
        out.setdefault(n, data)
    return out
base = first(secs[: starts[0]])
for p in range(len(starts)):
    end = starts[p + 1] if p + 1 < len(starts) else len(secs)
    sel = dict(base); sel.update(first(secs[starts[p]:end]))
    with open(f"{d}/p{p}.args", "w") as args:
        for n, data in sel.items():
            if n in MEASURED and data:
                open(f"{d}/p{p}{n}", "wb").write(data)
                args.write(f"--{n[1:]}={d}/p{p}{n}\n")
    open(f"{d}/p{p}.pcrsig", "wb").write(sel[".pcrsig"].rstrip(b"\0"))
