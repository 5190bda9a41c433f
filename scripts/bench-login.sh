#!/usr/bin/env bash
# Login benchmark: one node on loopback with the given [security] lines,
# C connections logging in again and again as their own user (closed loop,
# one login in flight per connection) for D seconds. Each login is a
# linearizable read of the hash, the hash itself on the hashing pool, and a
# create_session write. Prints chatbench's table; JSON to $OUT/login-*.json.
#   scripts/bench-login.sh [CONNECTIONS] [SECONDS] ['security lines']
# e.g. scripts/bench-login.sh 4 10 'password_hash = "pbkdf2-sha256"'
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-4}
D=${2:-10}
SEC=${3:-}
OUT=${OUT:-/tmp/qc-bench-login}
[[ -x build/chatnode && -x build/chatbench ]] || BUILD_DIR=build TARGETS="chatnode chatbench" scripts/build.sh
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[node]\nid = "n1"\nlisten = "127.0.0.1:%s"\ndata_dir = "%s/d"\n[cluster]\nsecret = "bench"\nadmin_token = "bench"\nmembers = [ { id = "n1", address = "127.0.0.1:%s" } ]\n[security]\n%s\n' \
  "$port" "$dir" "$port" "$SEC" > "$dir/n1.toml"
build/chatnode --config "$dir/n1.toml" 2>"$dir/log" &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null; rm -rf "$dir"' EXIT
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
  kill -0 $node 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
  sleep 0.1
done
mkdir -p "$OUT"
label="login C=$C $(echo "${SEC:-defaults}" | paste -sd";" -)"
build/chatbench --nodes "127.0.0.1:$port" --connections "$C" --mix login=1 --duration "$D" --warmup 1 \
  --label "$label" --json "$OUT/login-c$C-$(echo "${SEC:-default}" | tr -c 'a-z0-9' '_').json"
echo "($label; load average $(cut -d' ' -f1-3 /proc/loadavg))"
