#!/usr/bin/env bash
# A throwaway Quorum Chat cluster for benchmarks: N nodes on loopback with
# free random ports, configs and data in DIR (never the fixed 7001-7005).
#   scripts/bench-cluster.sh start DIR N [EXTRA_TOML_FILE]  -> prints the node list "IP:PORT,..."
#   scripts/bench-cluster.sh stop DIR                       (SIGTERM, then SIGKILL)
#   scripts/bench-cluster.sh kill|restart DIR ID            (ID = n1..nN; kill = SIGKILL)
#   scripts/bench-cluster.sh join DIR ID SEED [EXTRA_TOML_FILE]  (a new node, --join SEED, log level info)
#   scripts/bench-cluster.sh nodes DIR | pid DIR ID | pids DIR  (pids: every node's, one a line)
# BIN (default build/chatnode) selects the binary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/chatnode}
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"  # toml_tls
cmd=${1:-}; DIR=${2:-}
[[ -n "$cmd" && -n "$DIR" ]] || { sed -n '2,9p' "$0"; exit 2; }

free_ports() {  # N distinct free ports, from the kernel
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
pid_of() { cat "$DIR/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
start_one() {
  ( ulimit -n "$(ulimit -Hn)"; exec "$BIN" --config "$DIR/$1.toml" >>"$DIR/$1.log" 2>&1 ) &
  echo $! >"$DIR/$1.pid"
}
ids() { ls "$DIR"/*.toml | xargs -n1 basename | sed 's/\.toml$//' | sort -V; }
wait_healthy() {
  local need=$1 scheme ca tls=()
  # A cluster with [tls] in its extra TOML answers https://, verified against its ca_file.
  read -r scheme ca <<<"$(toml_tls "$DIR/n1.toml")" || true
  [[ -n "$ca" ]] && tls=(--cacert "$ca")
  scheme=${scheme:-http}
  for _ in $(seq 1 300); do
    local ok=0
    for a in $(tr ',' ' ' <"$DIR/nodes"); do curl -sf --max-time 1 "${tls[@]}" "$scheme://$a/health" >/dev/null && ok=$((ok + 1)); done
    (( ok >= need )) && return 0
    sleep 0.1
  done
  echo "bench-cluster: only $ok healthy nodes; see $DIR/*.log" >&2; return 1
}

case "$cmd" in
  start)
    N=${3:-3}; EXTRA=${4:-}
    mkdir -p "$DIR"
    read -r -a ports <<<"$(free_ports "$N")"
    members=""; list=""
    for i in $(seq 1 "$N"); do
      members+="  { id = \"n$i\", address = \"127.0.0.1:${ports[$((i-1))]}\" },"$'\n'
      list+="${list:+,}127.0.0.1:${ports[$((i-1))]}"
    done
    for i in $(seq 1 "$N"); do
      {
        printf '[node]\nid = "n%s"\nlisten = "127.0.0.1:%s"\ndata_dir = "%s/n%s"\nlog_level = "warn"\n\n' \
          "$i" "${ports[$((i-1))]}" "$DIR" "$i"
        printf '[cluster]\nsecret = "bench-secret"\nadmin_token = "bench-admin"\nmembers = [\n%s]\n' "$members"
        [[ -n "$EXTRA" ]] && cat "$EXTRA"
      } >"$DIR/n$i.toml"
    done
    echo "$list" >"$DIR/nodes"
    for i in $(seq 1 "$N"); do start_one "n$i"; done
    wait_healthy "$N"
    echo "$list"
    ;;
  stop)
    for id in $(ids); do alive "$id" && kill -TERM "$(pid_of "$id")" 2>/dev/null || true; done
    for _ in $(seq 1 100); do
      any=0; for id in $(ids); do alive "$id" && any=1; done
      (( any == 0 )) && break; sleep 0.1
    done
    for id in $(ids); do alive "$id" && kill -KILL "$(pid_of "$id")" 2>/dev/null || true; rm -f "$DIR/$id.pid"; done
    ;;
  kill) kill -KILL "$(pid_of "$3")"; rm -f "$DIR/$3.pid" ;;
  restart) alive "$3" && kill -KILL "$(pid_of "$3")"; start_one "$3" ;;
  join)
    ID=$3; SEED=$4; EXTRA=${5:-}
    port=$(free_ports 1)
    {
      printf '[node]\nid = "%s"\nlisten = "127.0.0.1:%s"\ndata_dir = "%s/%s"\nlog_level = "info"\n\n' "$ID" "$port" "$DIR" "$ID"
      printf '[cluster]\nsecret = "bench-secret"\nadmin_token = "bench-admin"\nmembers = []\n'
      [[ -n "$EXTRA" ]] && cat "$EXTRA"
    } >"$DIR/$ID.toml"
    ( ulimit -n "$(ulimit -Hn)"; exec "$BIN" --config "$DIR/$ID.toml" --join "$SEED" >>"$DIR/$ID.log" 2>&1 ) &
    echo $! >"$DIR/$ID.pid"
    echo "127.0.0.1:$port"
    ;;
  nodes) cat "$DIR/nodes" ;;
  pid) pid_of "$3" ;;
  pids) for id in $(ids); do pid_of "$id"; done ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
