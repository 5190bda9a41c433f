#!/usr/bin/env bash
# Two or more chatnode builds compared on linearizable reads, in interleaved rounds:
#   scripts/bench-reads-ab.sh ROUNDS BIN_A BIN_B [BIN...]
# Each round starts, for each build in turn, a fresh 3-member cluster
# (scripts/bench-cluster.sh) and loads a few messages per conversation. Then:
#   - 64 connections of linearizable `history` reads, one message and then
#     twenty, WINDOW seconds each (default 6, after the logins): reads/s, the
#     three nodes' system calls per read (perf stat -e raw_syscalls:sys_enter,
#     with sendmsg, recvmsg and epoll_wait apart) and their CPU per read
#     (utime + stime from /proc/PID/stat);
#   - one connection pinned to each member in turn, one-message reads for
#     WINDOW seconds: p50 and p99 by the member's role (leader or follower).
# INFLIGHT=K (default 1): each of the 64 connections pipelines K reads.
# Throughput on a shared machine drifts; compare the counts and latencies.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:?usage: bench-reads-ab.sh ROUNDS BIN_A BIN_B [BIN...]}
shift
(($# >= 2)) || { echo "bench-reads-ab: give at least two builds" >&2; exit 1; }
WINDOW=${WINDOW:-6}
INFLIGHT=${INFLIGHT:-1}
OUT=${OUT:-/tmp/bench-reads-ab}
CB=build/chatbench
BC=scripts/bench-cluster.sh
[[ -x $CB ]] || TARGETS=chatbench scripts/build.sh
command -v perf >/dev/null || { echo "bench-reads-ab: needs perf (Debian: linux-perf)" >&2; exit 1; }
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"  # perf_window
mkdir -p "$OUT"
current=""
trap '[[ -n $current ]] && $BC stop "$current" >/dev/null 2>&1 || true' EXIT

# reads NAME PIDS NODES CHATBENCH_ARGS...: one measured window of 64 connections.
reads() {
  local name=$1 pids=$2 nodes=$3 ticks
  shift 3
  ticks=$(perf_window "$OUT" "$WINDOW" "$pids" \
    raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvmsg,syscalls:sys_enter_epoll_wait \
    --nodes "$nodes" --connections 64 --inflight "$INFLIGHT" --prefix r "$@")
  PYTHONPATH=$ROOT/scripts python3 - "$OUT" "$name" "$WINDOW" "${ticks% *}" "$(getconf CLK_TCK)" <<'PY'
import json, sys
from perf_counts import per_op
out, name, window, ticks, hz = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rate = json.load(open(f"{out}/window.json"))["result"]["throughput"]
ops = rate * window
calls = per_op(f"{out}/stat", ops)
print(f"  {name}: {rate:,.0f}/s; per read {ticks * 1e6 / hz / ops:.1f} µs CPU, {calls.pop('sys_enter', 0):.2f} calls "
      f"({', '.join(f'{k} {v:.2f}' for k, v in calls.items())})")
PY
}

for round in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    echo "round $round, $(basename "$bin"):"
    current=$OUT/$(basename "$bin")
    $BC stop "$current" >/dev/null 2>&1 || true
    rm -rf "$current"
    nodes=$(BIN=$bin $BC start "$current" 3 | tail -1)
    pids=$($BC pids "$current" | paste -sd,)
    $CB --nodes "$nodes" --connections 64 --preload 50 --prefix r --mix send=1 --duration 1 >/dev/null 2>&1
    reads "linearizable, 1 message" "$pids" "$nodes" --mix history=1 --limit 1
    reads "linearizable, 20 messages" "$pids" "$nodes" --mix history=1
    IFS=, read -ra addrs <<<"$nodes"
    for p in "${!addrs[@]}"; do
      role=$(curl -s --max-time 2 "http://${addrs[$p]}/status" | grep -o '"role":"[a-z]*"' | cut -d'"' -f4)
      $CB --nodes "$nodes" --connections 1 --pin "$p" --prefix r --duration "$WINDOW" --mix history=1 --limit 1 \
        --json "$OUT/one.json" >/dev/null 2>&1
      python3 - "$OUT/one.json" "$role" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["result"]
l = r["latency_ms"]
print(f"  1 connection on the {sys.argv[2]}: {r['throughput']:,.0f}/s, p50 {l['p50']:.3f} ms, p99 {l['p99']:.3f} ms")
PY
    done
    $BC stop "$current" >/dev/null 2>&1
    current=""
  done
done
