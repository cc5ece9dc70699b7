# Shared by the PE/Authenticode interop scripts (sourced, not a test itself), on top of
# lib/common.sh ($WORK, fail, need): $key/$cert (a test db key), $other_key/$other_cert,
# images_under_test (fills $WORK/img/*.efi), flip_byte FILE OFFSET, section_offset FILE NAME.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SDBOOT_DIR=${TB_SDBOOT_EFI_DIR:-/usr/lib/systemd/boot/efi}
CACHE=${TB_BUILDDIR:-/tmp}/interop-cache

make_cert() { # NAME CN
        openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=$2/" \
                -keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null || fail "openssl cannot make a test certificate"
}

make_cert db "trustboot interop db"
make_cert other "someone else"
key=$WORK/db.key
cert=$WORK/db.crt
other_key=$WORK/other.key
other_cert=$WORK/other.crt

# A signed Debian kernel (PE with the Debian signature) cached under the build directory.
# Prints its path, or nothing when no Debian mirror is reachable.
debian_kernel() {
        local dir=$CACHE/kernel pkg
        if ! ls "$dir"/x/boot/vmlinuz-* >/dev/null 2>&1; then
                mkdir -p "$dir"
                pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null |
                        cut -d' ' -f1 | sort -V | tail -n1)
                [ -n "$pkg" ] || return 0
                (cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) || return 0
                dpkg-deb -x "$dir"/"$pkg"_*.deb "$dir/x" || return 0
                rm -f "$dir"/*.deb
        fi
        ls "$dir"/x/boot/vmlinuz-* 2>/dev/null | head -n1
}

# The OVMF Secure Boot guests' setup: OVMF enforcing Secure Boot with Debian's snakeoil PK/KEK/db
# (ovmf), busybox-static and a signed Debian kernel; skips the test (77) when one is missing. Sets
# OVMF_CODE, OVMF_VARS, SNAKEOIL (SNAKEOIL.pem is the db certificate), KERNEL, and writes the
# snakeoil key without its passphrase to $WORK/snakeoil.key.
ovmf_snakeoil() {
        local f
        OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
        OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd
        SNAKEOIL=/usr/share/ovmf/PkKek-1-snakeoil
        for f in "$OVMF_CODE" "$OVMF_VARS" "$SNAKEOIL.key" "$SNAKEOIL.pem" /bin/busybox; do
                [ -f "$f" ] || { echo "SKIP: $f is missing (ovmf, busybox-static)" >&2; exit 77; }
        done
        KERNEL=$(debian_kernel)
        [ -n "$KERNEL" ] || { echo "SKIP: no Debian kernel (no mirror reachable)" >&2; exit 77; }
        openssl rsa -in "$SNAKEOIL.key" -passin pass:snakeoil -out "$WORK/snakeoil.key" 2>/dev/null ||
                fail "cannot decrypt the snakeoil key"
}

# systemd-boot, the stub, a Debian kernel (when available) and a UKI built with objcopy as the
# systemd 252 man page shows; all unsigned except the kernel, which keeps Debian's signature.
images_under_test() {
        local kernel
        mkdir -p "$WORK/img"
        cp "$SDBOOT_DIR/systemd-bootx64.efi" "$WORK/img/systemd-bootx64.efi"
        cp "$SDBOOT_DIR/linuxx64.efi.stub" "$WORK/img/linuxx64.stub.efi"
        kernel=$(debian_kernel)
        if [ -n "$kernel" ]; then
                cp "$kernel" "$WORK/img/vmlinuz.efi"
        else
                echo "note: no Debian kernel available (no mirror?); the UKI gets a dummy .linux" >&2
                kernel=$SDBOOT_DIR/systemd-bootx64.efi
        fi
        printf 'ID=debian\nVERSION_ID=12\n' >"$WORK/osrel"
        printf 'console=ttyS0 quiet' >"$WORK/cmdline"
        head -c 100000 /dev/urandom >"$WORK/initrd"
        objcopy --add-section .osrel="$WORK/osrel" --change-section-vma .osrel=0x20000 \
                --add-section .cmdline="$WORK/cmdline" --change-section-vma .cmdline=0x30000 \
                --add-section .linux="$kernel" --change-section-vma .linux=0x2000000 \
                --add-section .initrd="$WORK/initrd" --change-section-vma .initrd=0x3000000 \
                "$SDBOOT_DIR/linuxx64.efi.stub" "$WORK/img/uki.efi" || fail "objcopy cannot build the UKI"
}

# XORs the byte at OFFSET with 0x01.
flip_byte() {
        local f=$1 off=$2 b
        b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
        [ -n "$b" ] || fail "flip_byte: offset $off is beyond $f"
        printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# File offset of a section's raw data (objdump -h "File off" column).
section_offset() {
        local hex
        hex=$(objdump -h "$1" | awk -v n="$2" '$2 == n { print $6; exit }')
        [ -n "$hex" ] && echo $((16#$hex))
}
