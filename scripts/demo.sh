#!/usr/bin/env bash
# `make demo`: the main job on built-in defaults, in demo/ (ignored by git).
set -euo pipefail
tb="$(realpath "$1")"
out=demo
mkdir -p "$out"
if [ ! -f "$out/keys/db.key" ]; then
  "$tb" genkey "trustboot demo" -o "$out/keys"
fi
echo "demo: key set in $out/keys:"
ls -l "$out/keys"
