#!/usr/bin/env bash
# Starts clusters on free ports from build/chatnode and runs the Playwright
# tests against them: on three nodes, chat between two users, then the
# leader's failover seen from a page; on five nodes with [testing] enabled,
# the live cluster view (/cluster) isolating and healing the leader. Stops
# the nodes. ONLY=chat or ONLY=cluster runs one part. Exit 77 (skip)
# without chromium/node.
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
declare -A PID
# start_cluster NAME N [EXTRA_TOML]: N nodes n1..nN on free ports with data
# and logs under $TMP/NAME; waits for a leader. Sets PORTS and NODES
# ("n1=PID@127.0.0.1:PORT ...").
start_cluster() {
  local name=$1 n=$2 extra=${3:-} dir="$TMP/$1" members="" i
  mkdir -p "$dir"
  read -r -a PORTS <<<"$(python3 -c '
import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$n")"
  for ((i = 1; i <= n; i++)); do members+="{ id = \"n$i\", address = \"127.0.0.1:${PORTS[$((i-1))]}\" },"; done
  NODES=""
  for ((i = 1; i <= n; i++)); do
    cat >"$dir/n$i.toml" <<TOML
[node]
id = "n$i"
listen = "127.0.0.1:${PORTS[$((i-1))]}"
data_dir = "$dir/n$i"
[cluster]
secret = "browser-secret"
admin_token = "browser-admin"
members = [ $members ]
[security]
pbkdf2_iterations = 1000
$extra
TOML
    "$BIN" --config "$dir/n$i.toml" 2>>"$dir/n$i.log" &
    PID[$name$i]=$!
    NODES+="n$i=$!@127.0.0.1:${PORTS[$((i-1))]} "
  done
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:${PORTS[0]}/status" | grep -q '"leader":"n' && break; sleep 0.1
  done
}
# stop_cluster NAME: SIGTERM to its nodes (those still running).
stop_cluster() {
  local k
  for k in "${!PID[@]}"; do [[ $k == "$1"* ]] && kill "${PID[$k]}" 2>/dev/null; done
  true
}
cleanup() {
  for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "logs in $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
rc=0
if [[ -z ${ONLY:-} || $ONLY == chat ]]; then
  start_cluster chat 3
  QC_URL="http://127.0.0.1:${PORTS[0]}/" node chat.test.mjs || rc=1
  # The failover test kills the leader itself: it gets every node's pid and port.
  QC_NODES="$NODES" node failover.test.mjs || rc=1
  stop_cluster chat
fi
if [[ -z ${ONLY:-} || $ONLY == cluster ]]; then
  # The live cluster view breaks a 5-node cluster on purpose: fault injection on.
  start_cluster view 5 $'[testing]\nenabled = true'
  QC_NODES="$NODES" node cluster.test.mjs || rc=1
fi
exit $rc
