#!/usr/bin/env bash
# FAT images written by fatimg pass fsck.fat, and mtools reads back every name and byte.
. "$(dirname "$0")/lib/common.sh"
need fsck.fat mcopy mdir
: "${TB_FAT_FROM_DIR:?}"
cd "$WORK"

mkdir -p src/EFI/BOOT src/EFI/trustboot src/EFI/tools src/loader/entries src/loader/keys/auto
head -c 3000000 /dev/urandom > src/EFI/BOOT/BOOTX64.EFI
head -c 777 /dev/urandom > src/EFI/trustboot/norole.efi
head -c 5000 /dev/urandom > "src/EFI/trustboot/norole_install-mode_rd.debug.efi"
head -c 4096 /dev/urandom > src/EFI/trustboot/my_entry.efi
head -c 4096 /dev/urandom > src/EFI/trustboot/MY_ENTRY~1.EFI   # collides with an alias
printf 'timeout 5\nconsole-mode max\neditor no\n' > src/loader/loader.conf
for i in $(seq 1 40); do printf 'title entry %s with a long name\n' "$i" > "src/loader/entries/entry-number-$i-with-a-long-name.conf"; done
: > src/loader/empty-file
for k in PK KEK db; do head -c 2000 /dev/urandom > src/loader/keys/auto/$k.auth; done

size=$("$TB_FAT_FROM_DIR" src esp.img 1700000000)
assert_eq "$(stat -c %s esp.img)" "$size" "image size"
fsck.fat -n esp.img >fsck.log 2>&1 || fail "fsck.fat -n: $(cat fsck.log)"
fsck.fat -n -v esp.img 2>&1 | contains '32 bit entries' || fail "not FAT32"
mcopy -s -n -i esp.img ::/ out/ 2>mcopy.err || { mkdir -p out && mcopy -s -n -i esp.img '::/*' out/ 2>mcopy.err; } || fail "mcopy: $(cat mcopy.err)"
diff -r src out >diff.log || fail "tree read back by mtools differs: $(head diff.log)"
mdir -i esp.img ::/EFI/trustboot > mdir.log
grep -q 'norole_install-mode_rd.debug.efi' mdir.log || fail "long name not listed"
# Timestamps come from the epoch (2023-11-14 22:13), the label and serial from the options.
grep -q '2023-11-14' mdir.log || fail "timestamp: $(cat mdir.log)"
minfo -i esp.img :: | contains 'label="TESTESP' || fail "label: $(minfo -i esp.img :: | grep -i label)"

# Reproducible: same tree, same bytes.
"$TB_FAT_FROM_DIR" src esp2.img 1700000000 >/dev/null
cmp -s esp.img esp2.img || fail "two images of the same tree differ"

# A large file switches to 4 KiB clusters and still checks out.
mkdir big && head -c 300000000 /dev/zero > big/BIG.BIN && printf x >> big/BIG.BIN
"$TB_FAT_FROM_DIR" big big.img 0 >/dev/null
fsck.fat -n big.img >fsck2.log 2>&1 || fail "fsck.fat on the big image: $(cat fsck2.log)"
mcopy -n -i big.img ::/BIG.BIN big.out && cmp -s big.out big/BIG.BIN || fail "big file read back differs"
echo "fatimg: ok"
