#!/usr/bin/env bash
# build-uki's /init, the seed's command unchanged (no init flag): an image that carries trustboot
# (/usr/bin/trustboot, as its package installs it) gets it as /init; --init PATH overrides; an
# --init naming nothing executable in the image is refused before anything is built; an image
# with neither trustboot nor its own /init builds with a warning that its medium cannot install
# or unlock; an image without a kernel is refused. The /init entry is read back from the UKI's
# .initrd with objcopy, zstd and cpio.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
need objcopy zstd cpio
cd "$WORK"
"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null

synthetic_rootfs plain                                     # neither trustboot nor /init
cp -a plain withtb && cp "$TRUSTBOOT" withtb/usr/bin/trustboot
cp -a plain owninit && printf '#!/bin/sh\nexec /usr/bin/hello\n' >owninit/init && chmod 755 owninit/init
cp -a withtb nokernel && rm nokernel/boot/vmlinuz
printf 'not a program\n' >withtb/usr/bin/notes && chmod 644 withtb/usr/bin/notes

# build NAME SOURCE [ARGS…]: -t uki into out-NAME; stderr in NAME.err.
build() {
  local n="$1" src="$2"; shift 2
  "$TRUSTBOOT" build-uki "dir:$src" -t uki -d "out-$n" -k keys "$@" >/dev/null 2>"$n.err" \
    || fail "build-uki $n: $(cat "$n.err")"
}
# init_of NAME: "init -> TARGET", "init (file)" or "none", from the built UKI's initrd.
init_of() {
  objcopy -O binary --only-section=.initrd "out-$1/EFI/trustboot/norole.efi" "$1.initrd" || fail "objcopy $1"
  zstd -dc "$1.initrd" | cpio -itv --quiet 2>/dev/null | awk '$NF == "init" || $(NF-2) == "init" {
      if ($1 ~ /^l/) print "init -> " $NF; else print "init (file)"; found = 1 }
    END { if (!found) print "none" }'
}

build default withtb
assert_eq "$(init_of default)" "init -> /usr/bin/trustboot" "/init of an image that carries trustboot"
contains '/init: /usr/bin/trustboot (the image carries trustboot' default.err || fail "no note: $(cat default.err)"

build override withtb --init /usr/bin/hello
assert_eq "$(init_of override)" "init -> /usr/bin/hello" "/init with --init"

build own owninit
assert_eq "$(init_of own)" "init (file)" "the image's own /init"
contains 'neither' own.err && fail "a warning for an image with its own /init: $(cat own.err)"

build plain plain
assert_eq "$(init_of plain)" "none" "/init of an image without one"
contains 'neither /usr/bin/trustboot nor /init in the image' plain.err || fail "no warning: $(cat plain.err)"
contains 'cannot install or unlock' plain.err || fail "warning does not say what is lost: $(cat plain.err)"

# Refusals: one line, before the initrd is built, nothing left behind.
refused() { # WHAT EXPECTED ARGS…
  local what="$1" want="$2"; shift 2
  rm -rf out-bad
  expect_error "$TRUSTBOOT" build-uki "$@" -t uki -d out-bad -k keys
  echo "$ERR" | contains "$want" || fail "$what: $ERR"
  echo "$ERR" | contains 'building the initrd' && fail "$what: refused only after building: $ERR"
  [ ! -e out-bad ] || fail "$what: left out-bad behind"
}
refused "missing --init" "init /usr/bin/nothing: no such file in the image" dir:withtb --init /usr/bin/nothing
refused "--init on a plain file" "init /usr/bin/notes: not executable in the image" dir:withtb --init /usr/bin/notes
refused "--init on a directory" "init /usr/bin: not a file in the image" dir:withtb --init /usr/bin
refused "--init of trustboot without it" "init /usr/bin/trustboot: no such file" dir:plain --init /usr/bin/trustboot
refused "no kernel" "no kernel found" dir:nokernel
echo "ok: trustboot is /init by default, --init overrides and is checked, warnings and refusals"
