# Sourced by e2e scripts: the command blocks of docs/guide.md, so that the guide is executed and
# cannot rot. A block is a fenced code block whose info string is "sh host:NAME" (run on the build
# machine) or "sh guest:NAME" (run in the installed node); other blocks (yaml) are data.

# guide_names FILE: "host:NAME" / "guest:NAME" of every command block, in order.
guide_names() {
  awk '/^```/ { if (inb) { inb = 0; next } inb = 1; if ($2 ~ /^(host|guest):/) print $2; next }' "$1"
}
# guide_untagged FILE: the opening line of every shell block without a host:/guest: tag (a command
# block no test would run).
guide_untagged() {
  awk '/^```/ { if (inb) { inb = 0; next } inb = 1; if ($1 ~ /^```(sh|bash|console)$/ && $2 !~ /^(host|guest):/) print NR": "$0; next }' "$1"
}
# guide_block FILE KIND:NAME: the block's text (fails when there is none).
guide_block() {
  awk -v want="$2" '
    /^```/ { if (inb) { inb = 0; next } inb = 1; mine = ($2 == want); if (mine) found = 1; next }
    inb && mine { print }
    END { exit !found }' "$1"
}
# guide_lang_block FILE LANG N: the N-th (1-based) block whose info string is exactly LANG.
guide_lang_block() {
  awk -v lang="$2" -v n="$3" '
    /^```/ { if (inb) { inb = 0; next } inb = 1; mine = ($0 == "```" lang && ++k == n); next }
    inb && mine { print }' "$1"
}
