#!/usr/bin/env python3
"""Compare file trees the way an initrd must preserve them.

treecmp.py EXPECTED[+OVERLAY...] ACTUAL [--exclude-contents a,b] [--mtime N] [--init TARGET]

EXPECTED may be "BASE+OVERLAY[+OVERLAY...]": later entries win, and a non-directory hides the
subtrees below it. Compares names, types, permission bits (with setuid/setgid/sticky),
owners, symlink targets, device numbers, file contents and hardlink groups. Prints every
difference as "PATH: what differs" and exits 1 if there is any."""
import argparse, hashlib, os, stat, sys


def describe(root, rel, st):
    d = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
         "uid": st.st_uid, "gid": st.st_gid}
    p = os.path.join(root, rel)
    if stat.S_ISLNK(st.st_mode):
        d["target"] = os.readlink(p)
        del d["mode"]  # symlink permission bits mean nothing on Linux
    elif stat.S_ISREG(st.st_mode):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        d["sha256"] = h.hexdigest()
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
    return d


def walk(layers, exclude, rel=""):
    """Yields (rel, layer_root, stat) for the merged tree, overlay (last) first."""
    names = {}
    for root in layers:
        p = os.path.join(root, rel)
        if os.path.isdir(p) and not os.path.islink(p):
            for n in os.listdir(p):
                names.setdefault(n, []).append(root)
    for n in sorted(names, key=os.fsencode):
        r = os.path.join(rel, n) if rel else n
        roots = names[n]
        top = roots[-1]
        st = os.lstat(os.path.join(top, r))
        yield r, top, st
        if stat.S_ISDIR(st.st_mode) and not (rel == "" and n in exclude):
            dirs = []  # lower directories show through, down to the first non-directory
            for x in reversed(roots):
                if not stat.S_ISDIR(os.lstat(os.path.join(x, r)).st_mode):
                    break
                dirs.insert(0, x)
            yield from walk(dirs, exclude, r)


def tree(spec, exclude, init):
    layers = spec.split("+")
    entries, groups = {}, {}
    for rel, root, st in walk(layers, exclude):
        if init and (rel == "init" or rel.startswith("init/")):
            continue
        entries[rel] = describe(root, rel, st)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            groups.setdefault((st.st_dev, st.st_ino), set()).add(rel)
    if init:
        entries["init"] = {"type": stat.S_IFLNK, "uid": 0, "gid": 0, "target": init}
    links = {frozenset(g) for g in groups.values() if len(g) > 1}
    return entries, links


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("expected")
    ap.add_argument("actual")
    ap.add_argument("--exclude-contents", default="")
    ap.add_argument("--init")
    ap.add_argument("--ignore", default="", help="paths (and what is below them) to leave out of both sides")
    a = ap.parse_args()
    exclude = set(filter(None, a.exclude_contents.split(",")))
    ignore = set(filter(None, a.ignore.split(",")))
    want, want_links = tree(a.expected, exclude, a.init)
    got, got_links = tree(a.actual, set(), None)
    bad = 0
    for k in sorted(set(want) | set(got), key=os.fsencode):
        if any(k == i or k.startswith(i + "/") for i in ignore):
            continue
        if k not in got:
            print(f"{k}: missing from {a.actual}"); bad += 1
        elif k not in want:
            print(f"{k}: not expected in {a.actual}"); bad += 1
        elif want[k] != got[k]:
            diff = {f: (want[k].get(f), got[k].get(f)) for f in set(want[k]) | set(got[k])
                    if want[k].get(f) != got[k].get(f)}
            print(f"{k}: differs (expected, got): {diff}"); bad += 1
    if want_links != got_links:
        print(f"hardlink groups differ: expected {sorted(map(sorted, want_links))}, "
              f"got {sorted(map(sorted, got_links))}"); bad += 1
    print(f"treecmp: {len(want)} entries, {len(want_links)} hardlink groups, {bad} differences")
    sys.exit(1 if bad else 0)


main()
