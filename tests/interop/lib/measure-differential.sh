# Sourced by the measure-systemd-measure-* tests: trustboot measure against a systemd-measure on
# seeded random inputs. `calculate` (text and JSON) and `sign` (JSON) must be byte-identical, and
# `calculate --uki` on a UKI built from the same files must print what systemd-measure prints.
#
# The caller sets, before sourcing:
#   sdm ARGS…        a function running the oracle systemd-measure (host binary or in a chroot)
#   oracle           its name for messages, e.g. "systemd-measure 252"
#   tmp              an empty work directory the oracle can read (inside the chroot for one)
#   SECTIONS         the optional sections to draw (besides .linux)
#   TB_ARGS          extra trustboot measure arguments (e.g. --stub-version 257)
#   make_uki D       a function building D/uki.efi from the case's args (sets UKI_OK=1), or absent
#   TPM              the oracle's --tpm2-device argument array for sign (may be empty)
#   after_cases      a function run after the last case (may set fail=1), or absent
#   tb_args_of ARGS… a function printing trustboot's arguments (NUL-separated) for the oracle's
#                    ARGS, where the oracle is known to name a section otherwise; or absent
# TB_MEASURE_CASES (default 40) and TB_MEASURE_SEED (default: random, printed) replay a run.

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/k2048.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$tmp/k3072.pem" 2>/dev/null
openssl pkey -in "$tmp/k2048.pem" -pubout -out "$tmp/k2048.pub" 2>/dev/null
openssl pkey -in "$tmp/k3072.pem" -pubout -out "$tmp/k3072.pub" 2>/dev/null

seed="${TB_MEASURE_SEED:-$(( $(date +%s) % 100000 ))}"
cases="${TB_MEASURE_CASES:-40}"
echo "seed $seed, $cases cases (TB_MEASURE_SEED=$seed replays the choices)"
RANDOM=$seed
openssl rand -out "$tmp/pool" $((8 * 1024 * 1024))

# R = 0 .. $1-1 (up to 2^30). No subshells: they would not advance the seeded sequence.
rnd() { R=$(( (RANDOM * 32768 + RANDOM) % $1 )); }

# A section file of a size class: empty, tiny, KiB, MiB (several MiB only where realistic).
make_section() { # $1 = path, $2 = max class (0..3)
  local size
  rnd $(( $2 + 1 ))
  case $R in
    0) size=0 ;;
    1) rnd 100; size=$(( 1 + R )) ;;
    2) rnd 65536; size=$(( 100 + R )) ;;
    3) rnd $((5 * 1048576)); size=$(( 1048576 + R )) ;;
  esac
  rnd 1048576
  dd if="$tmp/pool" of="$1" bs=1M skip="$R" count="$size" iflag=skip_bytes,count_bytes status=none
}

words=(enter-initrd leave-initrd sysinit ready shutdown final)
random_phase() { # sets PHASE
  local n i
  PHASE=""
  rnd 5; n=$R
  for ((i = 0; i < n; i++)); do
    rnd ${#words[@]}; PHASE+="${words[$R]}"
    rnd 4; if [ "$R" = 0 ]; then PHASE+="::"; else PHASE+=":"; fi
  done
  rnd 3; if [ "$R" = 0 ]; then PHASE=":$PHASE"; fi
}

fail=0
ukis=0
compare() { # $1 = what, $2 $3 = files
  if ! cmp -s "$2" "$3"; then
    echo "FAIL case $case: $1 differs ($oracle vs trustboot):"
    diff <(od -c "$2" | head -20) <(od -c "$3" | head -20) | head -20 || true
    echo "  args: ${args[*]}"
    fail=1
  fi
}

bank_names=(sha1 SHA256 sha256 sha384 SHA512 sha512 SHA1)
start=$SECONDS
for ((case = 1; case <= cases; case++)); do
  d="$tmp/c$case"
  mkdir "$d"
  args=()
  make_section "$d/linux" 3
  [ -s "$d/linux" ] || printf 'k' >"$d/linux" # objcopy below needs a non-empty .linux
  args+=(--linux="$d/linux")
  for s in "${SECTIONS[@]}"; do
    rnd 4; if [ "$R" = 0 ]; then continue; fi # section absent
    case $s in initrd|splash|ucode) max=3 ;; *) max=2 ;; esac
    make_section "$d/$s" $max
    args+=(--$s="$d/$s")
  done
  rnd 3
  for ((i = R; i > 0; i--)); do rnd ${#bank_names[@]}; args+=(--bank="${bank_names[$R]}"); done
  rnd 3
  if [ "$R" != 0 ]; then
    rnd 3
    for ((i = 1 + R; i > 0; i--)); do random_phase; args+=(--phase="$PHASE"); done
  fi

  targs=("${args[@]}")
  if declare -F tb_args_of >/dev/null; then mapfile -d '' targs < <(tb_args_of "${args[@]}"); fi
  sdm calculate "${args[@]}" >"$d/s.out" 2>"$d/s.err"
  "$TRUSTBOOT" measure calculate "${TB_ARGS[@]}" "${targs[@]}" >"$d/t.out" 2>"$d/t.err"
  compare "calculate stdout" "$d/s.out" "$d/t.out"
  compare "calculate stderr" "$d/s.err" "$d/t.err"
  for j in short pretty; do
    sdm calculate "${args[@]}" --json=$j >"$d/s.$j"
    "$TRUSTBOOT" measure calculate "${TB_ARGS[@]}" "${targs[@]}" --json=$j >"$d/t.$j"
    compare "calculate --json=$j" "$d/s.$j" "$d/t.$j"
  done

  key=k2048
  rnd 4; if [ "$R" = 0 ]; then key=k3072; fi
  sargs=(--private-key="$tmp/$key.pem")
  rnd 2; if [ "$R" = 0 ]; then sargs+=(--public-key="$tmp/$key.pub"); fi
  sdm sign "${args[@]}" "${sargs[@]}" "${TPM[@]}" >"$d/s.sig"
  "$TRUSTBOOT" measure sign "${TB_ARGS[@]}" "${targs[@]}" "${sargs[@]}" >"$d/t.sig"
  compare "sign" "$d/s.sig" "$d/t.sig"
  [ -s "$d/t.sig" ] || { echo "FAIL case $case: empty sign output"; fail=1; }

  # Every fourth case: the same sections inside a UKI (make_uki), read back by trustboot.
  if [ $((case % 4)) = 0 ] && declare -F make_uki >/dev/null; then
    UKI_OK=0
    make_uki "$d"
    if [ "$UKI_OK" = 1 ]; then
      uargs=(--uki="$d/uki.efi")
      for a in "${args[@]}"; do case $a in --bank=*|--phase=*) uargs+=("$a") ;; esac; done
      "$TRUSTBOOT" measure calculate "${uargs[@]}" --json=short >"$d/u.short"
      # make_uki may leave the oracle's own answer for the UKI's sections (a UKI builder that
      # adds or merges sections); else the UKI holds exactly the case's files.
      if [ -f "$d/uki.short" ]; then
        compare "calculate --uki (vs the UKI's sections)" "$d/uki.short" "$d/u.short"
      else
        compare "calculate --uki (vs files)" "$d/s.short" "$d/u.short"
      fi
      ukis=$((ukis + 1))
    fi
  fi
  rm -rf "$d"
done
echo "$cases cases ($ukis through a UKI) in $((SECONDS - start)) s"
# A caller's checks over the whole run (e.g. that a kind of case was drawn at all).
if declare -F after_cases >/dev/null; then after_cases; fi
[ "$fail" = 0 ] && echo "PASS: calculate (text, short, pretty), sign and --uki identical to $oracle"
exit "$fail"
