#!/usr/bin/env bash
# Starts a three-node cluster on free ports from build/chatnode, runs the
# Playwright tests against it (chat between two users, then the leader's
# failover seen from a page), stops the nodes. Exit 77 (skip) without chromium/node.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${QC_BUILD_DIR:-$ROOT/build}/chatnode
[[ -x /usr/bin/chromium ]] || { echo "SKIP: /usr/bin/chromium missing (scripts/bootstrap.sh --browser)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node missing"; exit 77; }
cd "$HERE"
# playwright-core is pinned in package-lock.json to a release that still runs
# on Debian 12's Node.js 18; a node_modules left by another version is replaced.
pw_version() { node -p 'require(process.argv[1]).version' "$1" 2>/dev/null; }
want=$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
if [[ "$(pw_version ./node_modules/playwright-core/package.json)" != "$want" ]]; then
  npm ci --no-audit --no-fund >/dev/null 2>&1 || { echo "npm ci failed (playwright-core $want)"; exit 1; }
fi
echo "browser test: node $(node --version), playwright-core $(pw_version ./node_modules/playwright-core/package.json), $(/usr/bin/chromium --version 2>/dev/null)"
TMP=$(mktemp -d)
read -r -a PORTS <<<"$(python3 -c '
import socket
ss=[socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
MEMBERS=""
for i in 1 2 3; do MEMBERS+="{ id = \"n$i\", address = \"127.0.0.1:${PORTS[$((i-1))]}\" },"; done
declare -A PID
start() {
  "$BIN" --config "$TMP/n$1.toml" 2>>"$TMP/n$1.log" &
  PID[$1]=$!
}
cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "logs in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
for i in 1 2 3; do
  cat >"$TMP/n$i.toml" <<TOML
[node]
id = "n$i"
listen = "127.0.0.1:${PORTS[$((i-1))]}"
data_dir = "$TMP/n$i"
[cluster]
secret = "browser-secret"
admin_token = "browser-admin"
members = [ $MEMBERS ]
[security]
pbkdf2_iterations = 1000
TOML
  start $i
done
# wait for a leader
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:${PORTS[0]}/status" | grep -q '"leader":"n' && break; sleep 0.1
done
rc=0
QC_URL="http://127.0.0.1:${PORTS[0]}/" node chat.test.mjs || rc=1
# The failover test kills the leader itself: it gets every node's pid and port.
NODES=""
for i in 1 2 3; do NODES+="n$i=${PID[$i]}@127.0.0.1:${PORTS[$((i-1))]} "; done
QC_NODES="$NODES" node failover.test.mjs || rc=1
exit $rc
