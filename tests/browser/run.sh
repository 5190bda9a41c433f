#!/usr/bin/env bash
# Starts a one-node cluster on a free port from build/chatnode, runs the
# Playwright test against it, stops the node. Exit 77 (skip) without chromium/node.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${QC_BUILD_DIR:-$ROOT/build}/chatnode
[[ -x /usr/bin/chromium ]] || { echo "SKIP: /usr/bin/chromium missing (scripts/bootstrap.sh --browser)"; exit 77; }
command -v node >/dev/null || { echo "SKIP: node missing"; exit 77; }
cd "$HERE"
[[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund >/dev/null 2>&1 || npm install --no-audit --no-fund >/dev/null 2>&1 || { echo "npm install failed"; exit 1; }
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/n1.toml" <<TOML
[node]
id = "n1"
listen = "127.0.0.1:$PORT"
data_dir = "$TMP/n1"
[cluster]
secret = "browser-secret"
admin_token = "browser-admin"
members = [ { id = "n1", address = "127.0.0.1:$PORT" } ]
[security]
pbkdf2_iterations = 1000
TOML
"$BIN" --config "$TMP/n1.toml" 2>"$TMP/n1.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
QC_URL="http://127.0.0.1:$PORT/" node chat.test.mjs
