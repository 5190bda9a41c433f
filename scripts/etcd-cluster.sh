#!/usr/bin/env bash
# A throwaway 3-member etcd on loopback (free random ports, data in DIR, default
# durability: every commit fsyncs the WAL on a majority). For bench-vs-etcd.sh.
#   scripts/etcd-cluster.sh start DIR [N]   -> prints the client endpoints "IP:PORT,..."
#   scripts/etcd-cluster.sh stop DIR
set -euo pipefail
cmd=${1:-}; DIR=${2:-}
[[ -n "$cmd" && -n "$DIR" ]] || { sed -n '2,6p' "$0"; exit 2; }
case "$cmd" in
  start)
    N=${3:-3}
    mkdir -p "$DIR"
    read -r -a ports <<<"$(python3 -c '
import socket, sys
n = int(sys.argv[1]); s = []
for _ in range(2 * n):
    x = socket.socket(); x.bind(("127.0.0.1", 0)); s.append(x)
print(" ".join(str(x.getsockname()[1]) for x in s))' "$N")"
    initial=""; eps=""
    for i in $(seq 1 "$N"); do
      initial+="${initial:+,}e$i=http://127.0.0.1:${ports[$((2*i-1))]}"
      eps+="${eps:+,}127.0.0.1:${ports[$((2*i-2))]}"
    done
    for i in $(seq 1 "$N"); do
      c=${ports[$((2*i-2))]}; p=${ports[$((2*i-1))]}
      etcd --name "e$i" --data-dir "$DIR/e$i" \
        --listen-client-urls "http://127.0.0.1:$c" --advertise-client-urls "http://127.0.0.1:$c" \
        --listen-peer-urls "http://127.0.0.1:$p" --initial-advertise-peer-urls "http://127.0.0.1:$p" \
        --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token "bench-$$" \
        --logger zap --log-level warn >"$DIR/e$i.log" 2>&1 &
      echo $! >"$DIR/e$i.pid"
    done
    echo "$eps" >"$DIR/endpoints"
    for _ in $(seq 1 200); do
      if ETCDCTL_API=3 etcdctl --endpoints "$eps" endpoint health >/dev/null 2>&1; then echo "$eps"; exit 0; fi
      sleep 0.1
    done
    echo "etcd-cluster: not healthy; see $DIR/*.log" >&2; exit 1
    ;;
  stop)
    for f in "$DIR"/e*.pid; do [[ -f "$f" ]] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done
    for f in "$DIR"/e*.pid; do
      [[ -f "$f" ]] || continue
      for _ in $(seq 1 50); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$(cat "$f")" 2>/dev/null || true; rm -f "$f"
    done
    ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
