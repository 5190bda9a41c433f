#!/usr/bin/env bash
# Quorum Chat vs etcd on this machine, one after the other, in one run (issue 6).
#   1. installs Debian's etcd-server/etcd-client (and Go + etcd sources to build
#      tools/etcdbench offline) if missing;
#   2. 3-member etcd on loopback, closed loop: C clients of 256-byte puts;
#   3. 3-member Quorum Chat on loopback, closed loop: C connections of 256-byte sends;
#   4. prints both with the ratio in one table; a sweep of client counts for
#      the latency-vs-throughput plot (scripts/plot-latency.sh -> PNG).
# Both systems fsync every commit on a majority, data under OUT on the same disk.
# Env: DURATION (s, default 10), SWEEP ("1 4 16 64 128"; empty = no sweep),
#      SWEEP_DURATION (s, default 5), CLIENTS (default 64), OUT (default build/bench-vs-etcd),
#      PNG (default docs/bench/latency-vs-throughput.png).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10}
SWEEP=${SWEEP-1 4 16 64 128}
SWEEP_DURATION=${SWEEP_DURATION:-5}
CLIENTS=${CLIENTS:-64}
OUT=${OUT:-$ROOT/build/bench-vs-etcd}
PNG=${PNG:-$ROOT/docs/bench/latency-vs-throughput.png}
SUDO=""; [[ $(id -u) != 0 ]] && SUDO=sudo

need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v go >/dev/null || need+=(golang-go)
[[ -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]] || need+=(golang-etcd-server-dev)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
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
echo "== machine: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"

echo "== etcd $(etcd --version | head -1 | awk '{print $3}'): 3 members, $CLIENTS clients, ${DURATION}s"
E=$(scripts/etcd-cluster.sh start "$OUT/etcd" 3)
build/etcdbench --endpoints "$E" --clients "$CLIENTS" --duration "$DURATION" --json "$OUT/etcd.json"
for c in $SWEEP; do
  build/etcdbench --endpoints "$E" --clients "$c" --duration "$SWEEP_DURATION" --warmup 0.5 --json "$OUT/etcd-sweep-$c.json" | sed "s/^/  c=$c  /"
done
scripts/etcd-cluster.sh stop "$OUT/etcd"

echo "== Quorum Chat: 3 nodes, $CLIENTS connections, ${DURATION}s"
N=$(scripts/bench-cluster.sh start "$OUT/qc" 3)
build/chatbench --nodes "$N" --connections "$CLIENTS" --duration "$DURATION" --body 256 --json "$OUT/qc.json" 2>/dev/null
for c in $SWEEP; do
  build/chatbench --nodes "$N" --connections "$c" --duration "$SWEEP_DURATION" --warmup 0.5 --body 256 \
    --json "$OUT/qc-sweep-$c.json" 2>/dev/null | tail -n +2 | sed "s/^/  c=$c  /"
done
scripts/bench-cluster.sh stop "$OUT/qc"

python3 - "$OUT" "$CLIENTS" <<'PY'
import json, sys, os
out, clients = sys.argv[1], sys.argv[2]
e = json.load(open(os.path.join(out, "etcd.json")))["result"]
q = json.load(open(os.path.join(out, "qc.json")))["result"]
print()
print(f"Write benchmark, {clients} clients, closed loop, 256-byte values, 3 members on loopback")
print(f"| metric | etcd put | Quorum Chat send | ratio (QC/etcd) |")
print(f"|---|---|---|---|")
print(f"| throughput (ops/s) | {e['throughput']:.0f} | {q['throughput']:.0f} | {q['throughput']/e['throughput']:.2f}x |")
for k, name in [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p99_9", "p99.9"), ("max", "max")]:
    a, b = e["latency_ms"][k], q["latency_ms"][k]
    print(f"| {name} latency (ms) | {a:.2f} | {b:.2f} | {b/a if a else 0:.2f}x |")
print(f"| errors | {e['error_count']} | {q['error_count'] + q['timeouts']} | |")
PY
if [[ -n "$SWEEP" ]]; then
  scripts/plot-latency.sh "$OUT" "$PNG" $SWEEP
  echo "plot: $PNG"
fi
echo "results: $OUT/*.json   (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
