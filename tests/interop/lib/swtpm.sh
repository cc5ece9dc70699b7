# Sourced: a throwaway swtpm on a private unix socket, for oracles that need a TPM.
#   swtpm_start DIR   starts it (DIR/sock, DIR/sock.ctrl), fails the test if it does not come up
#   swtpm_stop        stops the one this test started, by PID
swtpm_pid=""
swtpm_start() {
  mkdir -p "$1"
  swtpm socket --tpm2 --tpmstate dir="$1" \
    --server type=unixio,path="$1/sock" --ctrl type=unixio,path="$1/sock.ctrl" \
    --flags not-need-init,startup-clear >"$1/log" 2>&1 &
  swtpm_pid=$!
  for _ in $(seq 50); do [ -S "$1/sock" ] && [ -S "$1/sock.ctrl" ] && break; sleep 0.1; done
  [ -S "$1/sock" ] || { echo "FAIL: swtpm did not start"; cat "$1/log"; exit 1; }
}
swtpm_stop() {
  if [ -n "$swtpm_pid" ]; then kill "$swtpm_pid" 2>/dev/null || true; wait "$swtpm_pid" 2>/dev/null || true; fi
  swtpm_pid=""
}
