# Sourced by registry tests: a private Debian docker-registry (the CNCF distribution registry) on
# 127.0.0.1 at a free port, with its own config and storage under $WORK, stopped by PID on exit.
#   start_registry NAME [plain|tls|basic|token]
# sets REG_<NAME>_ADDR (host:port), REG_<NAME>_DIR (config, storage, log), and for tls/basic/token
# a CA in $WORK/ca (ca.crt; a --cert-dir for trustboot and skopeo), htpasswd user "tb" with
# password "secret", and for token a token server (python3, tests/interop/lib/token_server.py).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

make_test_ca() {
  [ -f "$WORK/ca/ca.crt" ] && return 0
  mkdir -p "$WORK/ca"
  ( cd "$WORK/ca"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=trustboot test CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out server.crt >/dev/null 2>&1
    # The token signing key and its certificate (the registry trusts tokens signed by it).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout token.key -out token.crt -days 2 \
      -subj "/CN=trustboot test token signer" >/dev/null 2>&1
    mkdir -p certdir && cp ca.crt certdir/ca.crt )
}

start_registry() {
  local name="$1" mode="${2:-plain}" dir port cfg pid tport=""
  dir="$WORK/registry-$name"; mkdir -p "$dir/storage"
  port=$(free_port)
  cfg="$dir/config.yml"
  cat > "$cfg" <<CFG
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: trustboot-test-secret
CFG
  if [ "$mode" = tls ] || [ "$mode" = basic ]; then
    make_test_ca
    printf '  tls:\n    certificate: %s\n    key: %s\n' "$WORK/ca/server.crt" "$WORK/ca/server.key" >> "$cfg"
  fi
  if [ "$mode" = basic ]; then
    htpasswd -Bbn tb secret > "$dir/htpasswd"
    printf 'auth:\n  htpasswd:\n    realm: trustboot-test\n    path: %s\n' "$dir/htpasswd" >> "$cfg"
  fi
  if [ "$mode" = token ]; then
    tport=$(free_port)
    python3 "$(dirname "${BASH_SOURCE[0]}")/token_server.py" "$tport" "$WORK/ca/token.key" "$WORK/ca/token.crt" \
      "127.0.0.1:$port" tb secret >"$dir/token.log" 2>&1 &
    pid=$!; on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: 127.0.0.1:%s\n    issuer: trustboot-test\n    rootcertbundle: %s\n' \
      "$tport" "$port" "$WORK/ca/token.crt" >> "$cfg"
    REG_TOKEN_LOG="$dir/token.log"
  fi
  docker-registry serve "$cfg" >"$dir/log" 2>&1 &
  pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$dir/log" 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || fail "docker-registry $name did not start: $(tail -5 "$dir/log")"
    sleep 0.1
  done
  if [ -n "$tport" ]; then
    for _ in $(seq 1 100); do grep -q "serving" "$REG_TOKEN_LOG" 2>/dev/null && break; sleep 0.1; done
  fi
  eval "REG_${name}_ADDR=127.0.0.1:$port"
  eval "REG_${name}_DIR=$dir"
}

# blob_gets LOG: how many blob GETs the registry's access log shows.
blob_gets() { grep -c 'GET /v2/[^ ]*/blobs/sha256:' "$1" || true; }
