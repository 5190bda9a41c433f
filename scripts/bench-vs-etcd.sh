#!/usr/bin/env bash
# Quorum Chat vs etcd on this machine, one after the other, in one run.
#   1. installs Debian's etcd-server/etcd-client (and Go + etcd and gorilla/websocket sources to build
#      tools/etcdbench offline) if missing;
#   2. 3-member etcd on loopback, closed loop: C clients of 256-byte puts;
#   3. 3-member Quorum Chat on loopback, closed loop: C connections of 256-byte sends
#      (2 and 3 alternate for ROUNDS rounds, both clusters up, so outside load hits both);
#   4. prints both with the ratio in one table; a sweep of client counts for
#      the latency-vs-throughput plot (scripts/plot-latency.sh -> PNG).
# QC_CLIENT=go drives Quorum Chat with etcdbench's own closed loop instead of
# chatbench (etcdbench --system qc: Go, gorilla/websocket, no code shared
# with Quorum Chat), so one client harness measures both systems.
# System calls (perf stat, every thread of the 3 servers) and server CPU
# (utime+stime) are counted over each round's measured window only: the
# benchmark tool creates a ready file when its window begins (after set-up,
# Quorum Chat's account creations and logins, and the 1 s warm-up), and the
# counts run for DURATION seconds from then, divided by the writes
# acknowledged in that window: per write across all 3 members. The idle
# cluster's CPU over the same window is printed too.
# Both systems fsync every commit on a majority, data under OUT on the same disk.
# Env: DURATION (s, default 10), ROUNDS (alternating etcd/QC rounds, default 3), SWEEP ("1 4 16 64 128"; empty = no sweep),
#      SWEEP_DURATION (s, default 5), CLIENTS (default 64), OUT (default build/bench-vs-etcd),
#      PNG (default docs/bench/latency-vs-throughput.png), QC_CLIENT (chatbench or go, default chatbench).
set -Eeuo pipefail
# A step that fails stops the run: say which (chatbench's own messages are in $OUT/qc-r*.err).
trap 'echo "bench-vs-etcd: stopped by a failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SWEEP=${SWEEP-1 4 16 64 128}
SWEEP_DURATION=${SWEEP_DURATION:-5}
CLIENTS=${CLIENTS:-64}
QC_CLIENT=${QC_CLIENT:-chatbench}
[[ $QC_CLIENT == chatbench || $QC_CLIENT == go ]] || { echo "QC_CLIENT must be chatbench or go" >&2; exit 2; }
OUT=${OUT:-$ROOT/build/bench-vs-etcd}
PNG=${PNG:-$ROOT/docs/bench/latency-vs-throughput.png}
SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v go >/dev/null || need+=(golang-go)
[[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]] || need+=(golang-etcd-server-dev)
[[ -d /usr/share/gocode/src/github.com/gorilla/websocket ]] || need+=(golang-github-gorilla-websocket-dev)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v perf >/dev/null || need+=(linux-perf)
if (( ${#need[@]} )); then
  echo "== installing ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
fi
[[ -x build/chatnode && -x build/chatbench ]] || BUILD_DIR=build scripts/build.sh
if [[ ! -x build/etcdbench || tools/etcdbench/main.go -nt build/etcdbench ]]; then
  echo "== building tools/etcdbench offline (GOPATH=/usr/share/gocode)"
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$ROOT/build/go-cache" GOFLAGS= \
    go build -o build/etcdbench tools/etcdbench/main.go
fi

rm -rf "$OUT"; mkdir -p "$OUT"
cleanup() {
  scripts/etcd-cluster.sh stop "$OUT/etcd" 2>/dev/null || true
  scripts/bench-cluster.sh stop "$OUT/qc" 2>/dev/null || true
}
trap cleanup EXIT
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"  # cpu_ticks
# The system calls counted one by one (the rest are summed as "other").
SYSCALLS="pwrite64 pwritev write writev pread64 read readv epoll_wait epoll_pwait epoll_ctl sendmsg recvmsg sendto recvfrom
  futex fcntl fdatasync fsync lseek openat close newfstatat mmap munmap madvise mprotect getrandom ioctl
  nanosleep clock_nanosleep sched_yield rt_sigreturn tgkill timerfd_settime"
# measure NAME READY OWN OTHER: once the benchmark tool creates READY (its
# measured window has begun: after set-up, logins and the warm-up), counts
# system calls and CPU ticks of the OWN pid files' processes for DURATION s
# -> $OUT/NAME.perf, NAME.cpu_ticks, and the CPU ticks of the OTHER (idle)
# cluster over the same window -> NAME.idle_cpu_ticks. OWN and OTHER are globs.
measure() {
  local name=$1 ready=$2 own=$3 other=$4
  local pids own_pids other_pids events=(-e raw_syscalls:sys_enter) s i
  # shellcheck disable=SC2086
  own_pids=$(cat $own) other_pids=$(cat $other)
  pids=$(paste -sd, <<<"$own_pids")
  for s in $SYSCALLS; do  # those this kernel has a tracepoint for
    [[ -d /sys/kernel/tracing/events/syscalls/sys_enter_$s || -d /sys/kernel/debug/tracing/events/syscalls/sys_enter_$s ]] &&
      events+=(-e "syscalls:sys_enter_$s")
  done
  for ((i = 0; i < 1200; ++i)); do [[ -e $ready ]] && break; sleep 0.05; done
  [[ -e $ready ]] || { echo "measure: $name never began its measured window" >&2; return 1; }
  local c0 o0 perf_pid
  # shellcheck disable=SC2086
  c0=$(cpu_ticks $own_pids); o0=$(cpu_ticks $other_pids)
  ( ulimit -n "$(ulimit -Hn)"; exec perf stat -x, "${events[@]}" -p "$pids" -o "$OUT/$name.perf" ) 2>/dev/null &
  perf_pid=$!
  sleep "$DURATION"
  # shellcheck disable=SC2086
  echo "$(( $(cpu_ticks $own_pids) - c0 ))" >"$OUT/$name.cpu_ticks"
  # shellcheck disable=SC2086
  echo "$(( $(cpu_ticks $other_pids) - o0 ))" >"$OUT/$name.idle_cpu_ticks"
  # perf may have ended already (it failed to attach): say so below, go on
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  grep -q raw_syscalls "$OUT/$name.perf" 2>/dev/null || echo "perf stat failed: no system call counts for $name" >&2
}
# qc_bench --connections C ARGS...: one closed-loop run of 256-byte sends
# against the Quorum Chat cluster $N with the QC_CLIENT harness (its
# header line dropped); ARGS are options both tools take.
qc_bench() {
  local c=$2; shift 2
  if [[ $QC_CLIENT == go ]]; then
    build/etcdbench --system qc --endpoints "$N" --clients "$c" "$@"
  else
    build/chatbench --nodes "$N" --connections "$c" --body 256 "$@" | tail -n +2
  fi
}
echo "== machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"

echo "== starting a 3-member etcd $(etcd --version | head -1 | awk '{print $3}') and a 3-node Quorum Chat (both stay up; runs alternate)"
E=$(scripts/etcd-cluster.sh start "$OUT/etcd" 3)
N=$(scripts/bench-cluster.sh start "$OUT/qc" 3)
# Alternating rounds: load from other users of the machine hits both systems
# alike; the table uses each system's median round, and each adjacent
# (etcd, Quorum Chat) pair gives a ratio of its own.
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS: $CLIENTS clients, ${DURATION}s each (load $(cut -d' ' -f1 /proc/loadavg))"
  measure "etcd-r$r" "$OUT/etcd-r$r.ready" "$OUT/etcd/e*.pid" "$OUT/qc/n*.pid" & m=$!
  build/etcdbench --endpoints "$E" --clients "$CLIENTS" --duration "$DURATION" --json "$OUT/etcd-r$r.json" \
    --ready-file "$OUT/etcd-r$r.ready" | sed 's/^/  etcd  /'
  wait "$m"
  measure "qc-r$r" "$OUT/qc-r$r.ready" "$OUT/qc/n*.pid" "$OUT/etcd/e*.pid" & m=$!
  qc_bench --connections "$CLIENTS" --duration "$DURATION" --json "$OUT/qc-r$r.json" \
    --ready-file "$OUT/qc-r$r.ready" 2>"$OUT/qc-r$r.err" | sed 's/^/  QC    /'
  wait "$m"
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, os, shutil, sys
out, rounds = sys.argv[1], int(sys.argv[2])
thr = lambda f: json.load(open(f))["result"]["throughput"]
for sysname in ("etcd", "qc"):
    rs = sorted(range(1, rounds + 1), key=lambda r: thr(f"{out}/{sysname}-r{r}.json"))
    med = rs[(len(rs) - 1) // 2] if len(rs) % 2 else rs[len(rs) // 2 - 1]  # the lower median
    shutil.copy(f"{out}/{sysname}-r{med}.json", f"{out}/{sysname}.json")
    for ext in ("cpu_ticks", "idle_cpu_ticks", "perf"):
        if os.path.exists(f"{out}/{sysname}-r{med}.{ext}"):
            shutil.copy(f"{out}/{sysname}-r{med}.{ext}", f"{out}/{sysname}.{ext}")
ratios = [thr(f"{out}/qc-r{r}.json") / thr(f"{out}/etcd-r{r}.json") for r in range(1, rounds + 1)]
print("per-round throughput ratios (QC/etcd): " + ", ".join(f"{x:.2f}x" for x in ratios))
PY
for c in $SWEEP; do
  build/etcdbench --endpoints "$E" --clients "$c" --duration "$SWEEP_DURATION" --warmup 0.5 --json "$OUT/etcd-sweep-$c.json" | sed "s/^/  etcd c=$c  /"
  qc_bench --connections "$c" --duration "$SWEEP_DURATION" --warmup 0.5 --json "$OUT/qc-sweep-$c.json" 2>/dev/null |
    sed "s/^/  QC   c=$c  /"
done
terms=$(for a in ${N//,/ }; do curl -s --max-time 3 "http://$a/status" | python3 -c '
import sys, json
try: print(json.load(sys.stdin)["term"])
except Exception: print("?")'; done | sort -u | tr '\n' ' ')
echo "Quorum Chat terms after all runs: $terms(term 1 = no election since start, none spurious under load)" | tee "$OUT/qc-terms.txt"
scripts/etcd-cluster.sh stop "$OUT/etcd"
scripts/bench-cluster.sh stop "$OUT/qc"

DURATION=$DURATION PYTHONPATH=$ROOT/scripts python3 - "$OUT" "$CLIENTS" <<'PY'
import json, sys, os
from perf_counts import per_op
out, clients = sys.argv[1], sys.argv[2]
e = json.load(open(os.path.join(out, "etcd.json")))["result"]
q = json.load(open(os.path.join(out, "qc.json")))["result"]
print()
print(f"Write benchmark, {clients} clients, closed loop, 256-byte values, 3 members on loopback (median round of each)")
print(f"| metric | etcd put | Quorum Chat send | ratio (QC/etcd) |")
print(f"|---|---|---|---|")
print(f"| throughput (ops/s) | {e['throughput']:.0f} | {q['throughput']:.0f} | {q['throughput']/e['throughput']:.2f}x |")
for k, name in [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9"), ("max", "max")]:
    a, b = e["latency_ms"][k], q["latency_ms"][k]
    print(f"| {name} latency (ms) | {a:.2f} | {b:.2f} | {b/a if a else 0:.2f}x |")
print(f"| errors | {e['error_count']} | {q['error_count'] + q['timeouts']} | |")
# Server CPU (all three members, user + system) and system calls per
# acknowledged write, both over the measured window (DURATION s after the
# warm-up), whose writes are throughput x DURATION.
hz = os.sysconf("SC_CLK_TCK")
window = float(os.environ.get("DURATION", "10"))
def writes(r): return r["throughput"] * window
def cpu_us(name, r):
    ticks = int(open(os.path.join(out, name + ".cpu_ticks")).read())
    return ticks / hz * 1e6 / writes(r)
ce, cq = cpu_us("etcd", e), cpu_us("qc", q)
print(f"| server CPU per write (µs, 3 members) | {ce:.0f} | {cq:.0f} | {cq/ce:.2f}x |")
def idle_share(name):  # the other, idle cluster's CPU during NAME's window, in cores
    try:
        return int(open(os.path.join(out, name + ".idle_cpu_ticks")).read()) / hz / window
    except FileNotFoundError:
        return float("nan")
idle_note = (f"Idle cluster's CPU during the other's measured window: Quorum Chat {idle_share('etcd'):.3f} cores "
             f"while etcd ran, etcd {idle_share('qc'):.3f} cores while Quorum Chat ran")
def syscalls(name, r):
    try:
        return per_op(os.path.join(out, name + ".perf"), writes(r))
    except FileNotFoundError:
        return {}
se, sq = syscalls("etcd", e), syscalls("qc", q)
if se and sq:
    te, tq = se.pop("sys_enter", 0), sq.pop("sys_enter", 0)
    print(f"| system calls per write (3 members) | {te:.1f} | {tq:.1f} | {tq/te if te else 0:.2f}x |")
    print()
    print("System calls per write by call (3 members, measured window; calls under 0.05 per write in both go to other)")
    print("| call | etcd | Quorum Chat |")
    print("|---|---|---|")
    names = sorted(set(se) | set(sq), key=lambda k: -(sq.get(k, 0) + se.get(k, 0)))
    shown = [k for k in names if max(se.get(k, 0), sq.get(k, 0)) >= 0.05]
    for k in shown:
        print(f"| {k} | {se.get(k, 0):.2f} | {sq.get(k, 0):.2f} |")
    print(f"| other | {te - sum(se.get(k, 0) for k in shown):.2f} | {tq - sum(sq.get(k, 0) for k in shown):.2f} |")
print()
print(idle_note + " (median rounds)")
PY
if [[ -n "$SWEEP" ]]; then
  scripts/plot-latency.sh "$OUT" "$PNG" $SWEEP
  echo "plot: $PNG"
fi
echo "results: $OUT/*.json   (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
