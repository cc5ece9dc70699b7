# Sourced by the TPM2 interop tests after common.sh: a throwaway swtpm (private state dir, unix
# socket, stopped by PID), PCR 11 replay, signed policies from systemd-measure, refusals.

need_file() { for f in "$@"; do [ -e "$f" ] || { echo "SKIP: $f not available" >&2; exit 77; }; done; }

SYSTEMD_MEASURE=/lib/systemd/systemd-measure
SD_PLUGIN=/usr/lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-systemd-tpm2.so

swtpm_start() {
  mkdir -p "$WORK/tpm"
  rm -f "$WORK/tpm/pid" "$WORK/tpm/sock"
  swtpm socket --tpm2 --tpmstate dir="$WORK/tpm" \
    --server type=unixio,path="$WORK/tpm/sock" --ctrl type=unixio,path="$WORK/tpm/sock.ctrl" \
    --flags not-need-init,startup-clear --log file="$WORK/tpm/log",level=1 \
    --pid file="$WORK/tpm/pid" --daemon
  for _ in $(seq 50); do
    [ -s "$WORK/tpm/pid" ] && [ -S "$WORK/tpm/sock" ] && break
    sleep 0.1
  done
  [ -S "$WORK/tpm/sock" ] || fail "swtpm did not start: $(cat "$WORK/tpm/log" 2>/dev/null)"
  TCTI="swtpm:path=$WORK/tpm/sock"
  export TPM2TOOLS_TCTI="$TCTI"
}
on_exit swtpm_stop

swtpm_stop() {
  local pid
  [ -s "$WORK/tpm/pid" ] || return 0
  pid=$(cat "$WORK/tpm/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$WORK/tpm/pid"
}

# Restarting keeps the seeds (so sealed objects still load) and resets the PCRs to zero.
swtpm_restart() { swtpm_stop; swtpm_start; }

# swtpm has no resource manager: whatever an operation leaves behind stays loaded.
assert_no_handles() {
  local t s
  t=$(tpm2_getcap handles-transient)
  s=$(tpm2_getcap handles-loaded-session)
  [ -z "$t$s" ] || fail "TPM handles left behind by $1: transient [$t] sessions [$s]"
}

# systemd 252 itself leaks a session per operation (machine.md 8.5); clear them after it ran.
flush_all() {
  tpm2_flushcontext -t >/dev/null; tpm2_flushcontext -l >/dev/null; tpm2_flushcontext -s >/dev/null
}

# systemd's plugin through our driver; tss2's swtpm TCTI leaks its config string inside the
# plugin, which a sanitizer build of the driver must not count as our failure.
sd_token_unlock() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$SD_TPM2_TOKEN" "$@"; }

pcr_extend() { tpm2_pcrextend "$1:sha256=$2" >/dev/null; }
sha256_of() { sha256sum | cut -d' ' -f1; }

# Brings PCR 11 to what a 252 stub measures for the UKI sections in $WORK/uki/ followed by the
# boot phase words given as arguments (formats.md 2.2, 2.4).
pcr11_boot() {
  local f
  for f in linux osrel cmdline initrd pcrpkey; do
    pcr_extend 11 "$(printf '.%s\0' "$f" | sha256_of)"
    pcr_extend 11 "$(sha256_of < "$WORK/uki/$f")"
  done
  for f in "$@"; do pcr_extend 11 "$(printf '%s' "$f" | sha256_of)"; done
}

pcr11_value() { tpm2_pcrread sha256:11 | sed -n 's/.*11: 0x//p' | tr 'A-F' 'a-f'; }

# The UKI inputs and PCR keys: KEY.pem/KEY.pub.pem for "pcr" (ours) and "other".
make_uki_inputs() {
  mkdir -p "$WORK/uki"
  for k in pcr other; do
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/$k.pem" 2>/dev/null
    openssl pkey -in "$WORK/$k.pem" -pubout -out "$WORK/$k.pub.pem"
  done
  printf 'linux-kernel-payload' > "$WORK/uki/linux"
  printf 'ID=test\nVERSION_ID=1\n' > "$WORK/uki/osrel"
  printf 'console=ttyS0 quiet' > "$WORK/uki/cmdline"
  printf 'initrd-payload' > "$WORK/uki/initrd"
  cp "$WORK/pcr.pub.pem" "$WORK/uki/pcrpkey"
}

# measure_sign KEY PHASE… > JSON: systemd-measure 252 needs a TPM for its trial session.
measure_sign() {
  local key=$1; shift
  local phases=()
  for p in "$@"; do phases+=("--phase=$p"); done
  SYSTEMD_TPM2_DEVICE="$TCTI" "$SYSTEMD_MEASURE" sign --linux="$WORK/uki/linux" --osrel="$WORK/uki/osrel" \
    --cmdline="$WORK/uki/cmdline" --initrd="$WORK/uki/initrd" --pcrpkey="$WORK/uki/pcrpkey" --bank=sha256 \
    --private-key="$WORK/$key.pem" --public-key="$WORK/$key.pub.pem" "${phases[@]}"
  flush_all
}

measure_calculate() {
  "$SYSTEMD_MEASURE" calculate --linux="$WORK/uki/linux" --osrel="$WORK/uki/osrel" \
    --cmdline="$WORK/uki/cmdline" --initrd="$WORK/uki/initrd" --pcrpkey="$WORK/uki/pcrpkey" --bank=sha256 \
    --phase="$1" 2>/dev/null | sed -n 's/^11:sha256=//p'
}

# expect_refusal "WHAT" "PATTERN" CMD…: CMD must fail with one error line that names the reason.
expect_refusal() {
  local what=$1 pattern=$2; shift 2
  expect_error "$@"
  [ "$EXIT_STATUS" -eq 1 ] || fail "$what: exit status $EXIT_STATUS, expected 1"
  grep -q -- "$pattern" <<< "$ERR" || fail "$what: refused, but the error lacks '$pattern': $ERR"
}
