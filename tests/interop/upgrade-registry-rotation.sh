#!/usr/bin/env bash
# upgrade --source oci:REF on an installed ESP tree (host-side, as upgrade-ab-rotation.sh): the
# build-uki -t container image pushed by build-uki --push to Debian's docker-registry, pulled by
# upgrade with the same checks as a local medium. It rotates active → passive, and a medium
# signed with another db key, a missing tag and an unreachable registry leave the ESP untouched.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/node.sh"
. "$(dirname "$0")/lib/synthetic-rootfs.sh"
. "$(dirname "$0")/lib/registry.sh"
need docker-registry sbverify python3
cd "$WORK"
export SOURCE_DATE_EPOCH=1700000000 HOME="$WORK/home" TMPDIR="$WORK/tmp"
mkdir -p "$HOME" "$TMPDIR"
unset REGISTRY_AUTH_FILE XDG_RUNTIME_DIR

"$TRUSTBOOT" genkey Test -o keys --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
"$TRUSTBOOT" genkey Other -o other --skip-microsoft-certs-I-KNOW-WHAT-IM-DOING >/dev/null
cp -r keys otherdb && cp other/db.key other/db.pem otherdb/
for v in 1.0 2.0; do synthetic_rootfs "root$v"; sed -i "s/^VERSION_ID=.*/VERSION_ID=$v/" "root$v/etc/os-release"; done
"$TRUSTBOOT" -q build-uki dir:root1.0 -t uki -d m1 -k keys >/dev/null
"$TRUSTBOOT" -q build-uki dir:root2.0 -t uki -d m2 -k keys >/dev/null

start_registry A plain
A=$REG_A_ADDR
INS=(--allow-insecure-registries --cache "$WORK/cache")
pushed=$("$TRUSTBOOT" -q build-uki dir:root2.0 -t container -d c2 -k keys --push "$A/trustboot/upgrade:2.0" "${INS[@]}" 2>/dev/null | sed -n 2p)
case "$pushed" in "$A/trustboot/upgrade@sha256:"*) ;; *) fail "--push printed '$pushed'";; esac
"$TRUSTBOOT" -q build-uki dir:root2.0 -t container -d cx -k otherdb --push "$A/trustboot/upgrade:otherdb" "${INS[@]}" >/dev/null 2>&1

install_esp() { # the node as install lays it out: m1's UKI in all four roles, active blessed
  local role k=0 t
  rm -rf esp; mkdir -p esp; cp -r m1/. esp/
  for role in active passive recovery statereset; do
    k=$((k + 1))
    cp esp/EFI/trustboot/norole.efi "esp/EFI/trustboot/$role.efi"
    case $role in active) t="trustboot";; passive) t="trustboot (fallback)";;
      recovery) t="trustboot recovery";; statereset) t="trustboot state reset (auto)";; esac
    printf 'title %s\nsort-key %04d\nefi /EFI/trustboot/%s.efi\n' "$t" "$k" "$role" > "esp/loader/entries/$role+3.conf"
  done
  rm esp/EFI/trustboot/norole.efi esp/loader/entries/norole.conf
  mv esp/loader/entries/active+3.conf esp/loader/entries/active.conf
  node_vars vars
}
snapshot() { ( cd esp && find . -printf '%y %p %s\n' | sort && find . -type f | sort | xargs sha256sum ) > "$1"; ls -A vars >> "$1"; }
upgrade() { "$TRUSTBOOT" upgrade --esp esp --efivars vars --luks-device none "$@"; }
# uki_of ENTRY-FILE: the ESP path of the UKI the entry names (upgrade writes fresh UKI names).
uki_of() { echo "esp$(sed -n 's/^efi //p' "esp/loader/entries/$1")"; }

# ---- the upgrade from the registry rotates as from a local medium ----
install_esp
out=$(upgrade --source "oci:$A/trustboot/upgrade:2.0" "${INS[@]}" 2>upgrade.err)
assert_eq "$out" "active+3.conf (next boot)" "upgrade output"
cmp -s "$(uki_of active+3.conf)" m2/EFI/trustboot/norole.efi || fail "the active entry does not name the 2.0 UKI"
cmp -s "$(uki_of passive+3.conf)" m1/EFI/trustboot/norole.efi || fail "the passive entry does not name the old active UKI"
sbverify --cert keys/db.pem "$(uki_of active+3.conf)" >/dev/null 2>&1 || fail "sbverify rejects the installed UKI"
[ -z "$(ls -A "$TMPDIR")" ] || fail "staging left behind: $(ls -A "$TMPDIR")"
# The same by digest (docker:// spelling), from the cache this time.
install_esp
upgrade --source "docker://$pushed" "${INS[@]}" >/dev/null 2>&1 || fail "upgrade by digest failed"
cmp -s "$(uki_of active+3.conf)" m2/EFI/trustboot/norole.efi || fail "by digest: the active entry does not name the 2.0 UKI"

# ---- refusals leave the ESP as it was ----
refused() { # WANT ARGS...
  local want="$1" rc=0; shift
  install_esp; snapshot before
  upgrade "$@" >/dev/null 2>err || rc=$?
  [ "$rc" -eq 1 ] || fail "upgrade $*: exit $rc"
  grep -v 'warning: .*insecure registry' err > err1 || true
  [ "$(wc -l < err1)" -eq 1 ] || fail "upgrade $*: not one error line: $(cat err)"
  contains -- "$want" err1 || fail "upgrade $*: expected '$want' in: $(cat err1)"
  snapshot after
  cmp -s before after || fail "refused upgrade '$*' changed the ESP"
  [ -z "$(ls -A "$TMPDIR")" ] || fail "upgrade $*: staging left behind"
}
refused "which is not in the firmware's db" --source "oci:$A/trustboot/upgrade:otherdb" "${INS[@]}"
refused "not found (404)" --source "oci:$A/trustboot/upgrade:3.0" "${INS[@]}"
refused "not an image reference" --source "oci:no such image"
port=$(free_port)
refused "cannot reach the registry" --source "oci:127.0.0.1:$port/x:1" "${INS[@]}" --registry-timeout 1
echo "upgrade from a registry: all checks passed"
