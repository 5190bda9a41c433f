#!/usr/bin/env bash
# What one request of each kind costs, counted on one fresh 3-member cluster:
#   scripts/bench-op-costs.sh [ROUNDS]
# After 50 sends per connection are loaded, 64 connections run each op in
# turn for WINDOW seconds (default 6): `hello` (touches no state), local and
# linearizable `history` of one message, linearizable `history` of twenty,
# and `send`. For each: ops/s; CPU per op of the three members and of
# chatbench (utime + stime from /proc/PID/stat); and, per op, over the
# three members: system calls (perf stat -e raw_syscalls:sys_enter) with
# the kinds that differ between ops apart, and context switches (a thread
# that sleeps and is woken, which this VM makes as dear as several calls).
# BIN selects the node binary. Throughput drifts on a shared machine;
# compare the counts.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:-1}
WINDOW=${WINDOW:-6}
OUT=${OUT:-/tmp/bench-op-costs}
CB=build/chatbench
BC=scripts/bench-cluster.sh
[[ -x $CB && -x ${BIN:-build/chatnode} ]] || TARGETS="chatnode chatbench" scripts/build.sh
command -v perf >/dev/null || { echo "bench-op-costs: needs perf (Debian: linux-perf)" >&2; exit 1; }
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"  # perf_window
mkdir -p "$OUT"
D=$OUT/cluster
trap '$BC stop "$D" >/dev/null 2>&1 || true' EXIT
$BC stop "$D" >/dev/null 2>&1 || true
rm -rf "$D"
nodes=$($BC start "$D" 3 | tail -1)
pids=$($BC pids "$D" | paste -sd,)
$CB --nodes "$nodes" --connections 64 --preload 50 --prefix r --mix send=1 --duration 1 >/dev/null 2>&1
events=raw_syscalls:sys_enter,context-switches
for s in sendmsg recvmsg epoll_wait futex fcntl epoll_ctl fdatasync pwrite64; do events+=,syscalls:sys_enter_$s; done

# op NAME CHATBENCH_ARGS...: one measured window.
op() {
  local name=$1 ticks
  shift
  ticks=$(perf_window "$OUT" "$WINDOW" "$pids" "$events" --nodes "$nodes" --connections 64 --prefix r "$@")
  PYTHONPATH=$ROOT/scripts python3 - "$OUT" "$name" "$WINDOW" "${ticks% *}" "${ticks#* }" "$(getconf CLK_TCK)" <<'PY'
import json, sys
from perf_counts import per_op
out, name, window, server, client, hz = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
rate = json.load(open(f"{out}/window.json"))["result"]["throughput"]
ops = rate * window
per = per_op(f"{out}/stat", ops)
calls, switches = per.pop("sys_enter", 0), per.pop("context-switches", 0)
us = lambda ticks: ticks * 1e6 / hz / ops
print(f"  {name:<24} {rate:>7,.0f}/s  CPU {us(server):5.1f} µs members + {us(client):4.1f} chatbench  "
      f"{calls:5.2f} calls ({', '.join(f'{k} {v:.2f}' for k, v in per.items() if v >= 0.005)})  {switches:.2f} switches")
PY
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round (load average $(cut -d' ' -f1-3 /proc/loadavg)), per op, all three members:"
  op hello --mix hello=1
  op "local history, 1" --mix history=1 --limit 1 --consistency local
  op "linearizable history, 1" --mix history=1 --limit 1
  op "linearizable history, 20" --mix history=1
  op send --mix send=1
done
