#!/usr/bin/env bash
# The performance targets, each reproducible by one command. Every step starts its
# own throwaway cluster (scripts/bench-cluster.sh: free ports, default config)
# under OUT, prints its figure with the load average, and keeps the JSON.
#   scripts/bench-targets.sh latency1    1 connection, closed loop, 256-byte sends (p99 < 5 ms)
#   scripts/bench-targets.sh reads       linearizable history (limit 20 and 1) vs writes at 64 connections; local reads
#                                        1 vs 3 nodes; `hello`, the floor no read can beat; CPU per op of servers and client
#   scripts/bench-targets.sh failover    20 leader kills under a steady 200 writes/s
#   scripts/bench-targets.sh capacity    10,000 idle logged-in connections on one node
#   scripts/bench-targets.sh recovery    1M messages; SIGKILL all, restart, time to serve; then a new node's snapshot catch-up
#   scripts/bench-targets.sh catchup-load  MESSAGES messages, then client p99 and elections (terms) at 200 writes/s
#                                        without and with a joiner receiving the snapshot (BIN selects the node binary;
#                                        CUL_DATA=DIR starts from a copy of a loaded, stopped cluster instead of loading)
#   scripts/bench-targets.sh all
# Env: OUT (default build/bench-targets), MESSAGES (default 1000000), KILLS (20), CONNS (10000);
#   MEMBER_CPU=F (reads only): each member capped at F of one core in a cgroup of its own, as if every
#   member had a host of its own, so that reads spread over members are not all paid from the same two cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/build/bench-targets}
MESSAGES=${MESSAGES:-1000000}
KILLS=${KILLS:-20}
CONNS=${CONNS:-10000}
CB=build/chatbench
BC=scripts/bench-cluster.sh
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"  # cpu_ticks, cpu_cap
[[ -x build/chatnode && -x $CB ]] || BUILD_DIR=build scripts/build.sh
mkdir -p "$OUT"
load() { echo "(load average $(cut -d' ' -f1-3 /proc/loadavg))"; }
now_ms() { date +%s%3N; }
started=()
cleanup() { for d in "${started[@]}"; do $BC stop "$d" 2>/dev/null || true; done; }
trap cleanup EXIT
fresh() {  # fresh NAME N -> node list
  local d=$OUT/$1; $BC stop "$d" 2>/dev/null || true; rm -rf "$d"; started+=("$d"); $BC start "$d" "$2"
}

latency1() {
  echo "== latency at 1 client $(load)"
  local n; n=$(fresh lat 3)
  for p in 0 1 2; do
    $CB --nodes "$n" --connections 1 --pin "$p" --duration 10 --json "$OUT/latency1-node$p.json" 2>/dev/null | tail -1 | sed "s/^/node $p  /"
  done
  $BC stop "$OUT/lat"; load
}

reads() {
  echo "== reads vs writes, 64 connections over 3 nodes${MEMBER_CPU:+, each member capped at $MEMBER_CPU of a core} $(load)"
  local n; n=$(fresh reads 3)
  local pids; pids=$($BC pids "$OUT/reads")
  if [[ -n ${MEMBER_CPU:-} ]]; then
    local k=0 p
    for p in $pids; do k=$((k + 1)); cpu_cap "qc-bench-n$k" "$MEMBER_CPU" "$p"; done
  fi
  # run NAME ARGS...: 10 s of chatbench; the three nodes' CPU (utime+stime)
  # and chatbench's own are read when its measured window opens (ready
  # file) and 9.5 s later, before chatbench exits, into NAME.cpu (clock
  # ticks: servers, client).
  run() {
    local name=$1; shift
    rm -f "$OUT/$name.ready"
    $CB --nodes "$n" --connections 64 --prefix r --duration 10 --json "$OUT/$name.json" \
      --ready-file "$OUT/$name.ready" "$@" >"$OUT/$name.out" 2>/dev/null &
    local cb=$! s0 c0
    while [[ ! -f $OUT/$name.ready ]]; do kill -0 "$cb" 2>/dev/null || break; sleep 0.02; done
    # shellcheck disable=SC2086
    s0=$(cpu_ticks $pids) c0=$(cpu_ticks $cb)
    sleep 9.5
    # shellcheck disable=SC2086
    echo "$(( $(cpu_ticks $pids) - s0 )) $(( $(cpu_ticks $cb) - c0 ))" >"$OUT/$name.cpu"
    wait "$cb"
  }
  $CB --nodes "$n" --connections 64 --preload 50 --prefix r --mix send=1 --duration 1 >/dev/null 2>&1
  run reads-writes --mix send=1
  run reads-history-lin --mix history=1
  run reads-history-lin-1 --mix history=1 --limit 1
  run reads-history-local-3 --mix history=1 --consistency local
  run reads-history-local-1 --pin 0 --mix history=1 --consistency local
  # The floor: `hello` touches no state and crosses no thread, so no read
  # can be answered faster than it over the same connections.
  run reads-hello --mix hello=1
  python3 - "$OUT" "$(getconf CLK_TCK)" <<'PY'
import json, sys
o, hz = sys.argv[1], int(sys.argv[2])
t = lambda f: json.load(open(f"{o}/{f}.json"))["result"]["throughput"]
def cost(f):  # µs of CPU per operation over the first 9.5 s of the window: servers, client
    s, c = (int(x) for x in open(f"{o}/{f}.cpu").read().split())
    ops = t(f) * 9.5
    return f"server {s * 1e6 / hz / ops:.0f} µs, chatbench {c * 1e6 / hz / ops:.0f} µs per op"
w = t("reads-writes")
for f, what in (("reads-writes", "send"), ("reads-history-lin", "linearizable history, limit 20"),
                ("reads-history-lin-1", "linearizable history, limit 1"),
                ("reads-history-local-3", "local history, 3 nodes"), ("reads-history-local-1", "local history, 1 node"),
                ("reads-hello", "hello, no state touched (the floor of any request)")):
    print(f"{what}: {t(f):.0f}/s = {t(f) / w:.2f}x writes; {cost(f)}")
PY
  $BC stop "$OUT/reads"
  for k in 1 2 3; do cpu_uncap "qc-bench-n$k"; done
  load
}

failover() {
  echo "== failover: $KILLS leader kills, 200 writes/s $(load)"
  local n; n=$(fresh fail 3)
  $CB --nodes "$n" failover --connections 16 --rate 200 --kills "$KILLS" \
    --kill-cmd "$ROOT/$BC kill $OUT/fail {id}" --restart-cmd "$ROOT/$BC restart $OUT/fail {id}" \
    --json "$OUT/failover.json" 2>/dev/null
  $BC stop "$OUT/fail"; load
}

capacity() {
  echo "== capacity: $CONNS idle connections on one node $(load)"
  local n; n=$(fresh cap 1)
  $CB --nodes "$n" capacity --per-node "$CONNS" --users 100 --json "$OUT/capacity.json" 2>/dev/null
  $BC stop "$OUT/cap"; load
}

snapshot_times() {  # snapshot_times NODE-LOG -> JSON {"bytes", "secs"}: its first snapshot, "receiving" -> "installed"
  python3 - "$1" <<'PY'
import datetime, json, re, sys
ts = lambda l: datetime.datetime.strptime(l.split()[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
recv = inst = None; size = 0
for l in open(sys.argv[1]):
    m = re.search(r"receiving snapshot at index (\d+) \((\d+) bytes\)", l)
    if m and recv is None: recv, size = ts(l), int(m.group(2))
    if "installed snapshot" in l and inst is None: inst = ts(l)
print(json.dumps({"bytes": size, "secs": inst - recv if recv and inst else None}))
PY
}

wait_ok() {  # wait_ok ADDR JSON-REQUEST... : retries a chatctl call until every reply is ok
  for _ in $(seq 1 3000); do
    if build/chatctl call --node "$1" "${@:2}" 2>/dev/null | python3 -c '
import sys, json
rs = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
sys.exit(0 if rs and all(r.get("ok") for r in rs) else 1)'; then return 0; fi
    sleep 0.01
  done
  return 1
}

recovery() {
  echo "== recovery and catch-up with $MESSAGES messages $(load)"
  local d=$OUT/rec n; n=$(fresh rec 3)
  local t0; t0=$(now_ms)
  $CB --nodes "$n" --connections 64 --inflight 4 --prefix m --ops "$MESSAGES" --json "$OUT/recovery-load.json" 2>/dev/null | tail -1
  echo "loaded $MESSAGES messages in $(( ($(now_ms) - t0) / 1000 )) s $(load); n1's files:"
  (cd "$d/n1" && ls -l --block-size=K chat.db* wal snapshots | sed 's/^/  /')
  # Restart every node after SIGKILL; time until a linearizable read is served.
  for id in n1 n2 n3; do $BC kill "$d" "$id"; done
  local a1=${n%%,*}
  t0=$(now_ms)
  for id in n1 n2 n3; do $BC restart "$d" "$id"; done
  wait_ok "$a1" '{"op":"login","user":"m_0","password":"bench-pw"}' '{"op":"history","with":"m_1","limit":20}'
  local serve=$(( $(now_ms) - t0 ))
  echo "all three SIGKILLed and restarted: first linearizable history served after $serve ms $(load)"
  # One follower alone: kill, restart, time until it serves a local read.
  local leader a3; leader=$(curl -s "http://$a1/status" | python3 -c 'import sys,json; print(json.load(sys.stdin)["leader"])')
  local f=n1; [[ $leader == n1 ]] && f=n2
  a3=$(tr ',' '\n' <"$d/nodes" | sed -n "${f#n}p")
  $BC kill "$d" "$f"; t0=$(now_ms); $BC restart "$d" "$f"
  wait_ok "$a3" '{"op":"login","user":"m_0","password":"bench-pw"}' '{"op":"history","with":"m_1","limit":20,"consistency":"local"}'
  local serve1=$(( $(now_ms) - t0 ))
  echo "one follower ($f) SIGKILLed and restarted: local read served after $serve1 ms"
  # Catch-up: a new node joins and receives the latest snapshot.
  t0=$(now_ms)
  local a4; a4=$($BC join "$d" n4 "$a1")
  # (--join asks the seed itself; the explicit add covers builds before that fix.)
  build/chatctl add --cluster "$n" --admin-token bench-admin n4 "$a4" >/dev/null 2>&1 || true
  for _ in $(seq 1 2400); do grep -q 'installed snapshot' "$d/n4.log" 2>/dev/null && break; sleep 0.05; done
  local joined=$(( $(now_ms) - t0 ))
  python3 - "$(snapshot_times "$d/n4.log")" "$joined" "$OUT/catchup.json" "$serve" "$serve1" <<'PY'
import sys, json
st, joined, out, serve, serve1 = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
size, secs = st["bytes"], st["secs"]
r = {"restart_all_serve_ms": serve, "restart_follower_serve_ms": serve1, "join_to_installed_ms": joined}
if secs is not None:
    r.update(snapshot_bytes=size, receive_and_install_s=secs, mb_per_s=size / 1e6 / secs if secs > 0 else None)
    print(f"catch-up: snapshot of {size/1e6:.1f} MB received and installed in {secs:.2f} s = {size/1e6/secs:.0f} MB/s (join -> installed {joined} ms)")
else:
    print("catch-up: no snapshot install seen in the new node's log")
json.dump(r, open(out, "w"))
PY
  $BC stop "$d"; load
}

catchup_load() {
  local d=$OUT/cul n
  if [[ -n "${CUL_DATA:-}" ]]; then
    # A copy of a cluster loaded before (stopped; n1..n3 only), so that two
    # binaries can be compared on the same data without loading it twice.
    echo "== catch-up under load: the cluster in $CUL_DATA, then 200 writes/s while n4 joins $(load)"
    $BC stop "$d" 2>/dev/null || true; rm -rf "$d"; started+=("$d")
    cp -a "$CUL_DATA" "$d"; rm -rf "$d"/n4* "$d"/*.pid
    sed -i "s|$CUL_DATA|$d|g" "$d"/*.toml
    for id in n1 n2 n3; do $BC restart "$d" "$id"; done
    n=$(cat "$d/nodes")
    for _ in $(seq 1 600); do [[ "$(curl -s --max-time 1 "http://${n%%,*}/health" | grep -c '"healthy":true')" == 1 ]] && break; sleep 0.1; done
  else
    echo "== catch-up under load: $MESSAGES messages, then 200 writes/s while n4 joins $(load)"
    n=$(fresh cul 3)
    $CB --nodes "$n" --connections 64 --inflight 4 --prefix m --ops "$MESSAGES" --json "$OUT/cul-load.json" 2>/dev/null | tail -1
  fi
  local a1=${n%%,*}
  terms() { for a in ${n//,/ }; do curl -s "http://$a/status" | python3 -c 'import sys,json; s=json.load(sys.stdin); print(s["term"], end=" ")'; done; }
  # The same open-loop load twice, 60 s each: alone, then while n4 joins 5 s in.
  local t0 j0; t0=$(terms)
  $CB --nodes "$n" --connections 16 --rate 200 --prefix q1 --duration 60 --json "$OUT/cul-quiet.json" 2>/dev/null | tail -1 | sed 's/^/alone       /'
  $CB --nodes "$n" --connections 16 --rate 200 --prefix q2 --duration 60 --json "$OUT/cul-join.json" 2>/dev/null >"$OUT/cul-join.txt" &
  local bench=$!
  sleep 5; j0=$(now_ms)
  local a4; a4=$($BC join "$d" n4 "$a1")
  build/chatctl add --cluster "$n" --admin-token bench-admin n4 "$a4" >/dev/null 2>&1 &
  # How long each node's event loop takes to answer GET /status, every
  # 20 ms until the snapshot is installed: a blocking file operation on a
  # loop shows here as a slow answer (the joiner receives, the leader sends).
  rm -f "$OUT/cul-probe.stop"
  python3 - "$OUT/cul-probe.stop" "$OUT/cul-probe.json" "n4=$a4" $(for a in ${n//,/ }; do echo "$(curl -s "http://$a/status" | python3 -c 'import sys,json; print(json.load(sys.stdin)["node"])')=$a"; done) <<'PY' &
import json, os, sys, time, urllib.request
stop, out, targets = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
lat = {k: [] for k in targets}
while not os.path.exists(stop):
    for k, a in targets.items():
        t = time.monotonic()
        try:
            urllib.request.urlopen(f"http://{a}/status", timeout=10).read()
            lat[k].append((time.monotonic() - t) * 1000)
        except Exception:
            pass  # not listening yet (the joiner at start)
    time.sleep(0.02)
q = lambda v, p: sorted(v)[min(len(v) - 1, int(p * len(v)))] if v else None
json.dump({k: {"n": len(v), "p50": q(v, 0.5), "p99": q(v, 0.99), "max": max(v) if v else None} for k, v in lat.items()}, open(out, "w"))
PY
  local probe=$!
  for _ in $(seq 1 2400); do grep -q 'installed snapshot' "$d/n4.log" 2>/dev/null && break; sleep 0.05; done
  local installed=$(( $(now_ms) - j0 ))
  touch "$OUT/cul-probe.stop"; wait "$probe"
  wait "$bench"; tail -1 "$OUT/cul-join.txt" | sed 's/^/with joiner /'
  local t1; t1=$(terms)
  python3 - "$OUT" "$(snapshot_times "$d/n4.log")" "$installed" "$t0" "$t1" <<'PY'
import json, sys
o, st, installed, t0, t1 = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
size = st["bytes"]
r = lambda f: json.load(open(f"{o}/{f}"))["result"]
q, j = r("cul-quiet.json"), r("cul-join.json")
lat = lambda x: x["latency_ms"]
out = {"snapshot_bytes": size, "receive_install_s": st["secs"],
       "join_to_installed_ms": installed, "terms_before": t0, "terms_after": t1,
       "alone": {k: lat(q)[k] for k in ("p50", "p99", "p99_9", "max")} | {"errors": q["error_count"], "timeouts": q["timeouts"]},
       "with_joiner": {k: lat(j)[k] for k in ("p50", "p99", "p99_9", "max")} | {"errors": j["error_count"], "timeouts": j["timeouts"]}}
out["status_ms"] = json.load(open(f"{o}/cul-probe.json"))
json.dump(out, open(f"{o}/catchup-load.json", "w"))
print(f"snapshot {size/1e6:.1f} MB received+installed in {out['receive_install_s'] or 0:.2f} s (join -> installed {installed} ms)")
for k in ("alone", "with_joiner"):
    x = out[k]; print(f"{k:12s} p50 {x['p50']:.1f} ms  p99 {x['p99']:.1f} ms  p99.9 {x['p99_9']:.1f} ms  max {x['max']:.1f} ms  errors {x['errors']}  timeouts {x['timeouts']}")
print("terms", " ".join(t0), "->", " ".join(t1), "(unchanged: no election)" if t0 == t1 else "(CHANGED: an election happened)")
for k, v in sorted(out["status_ms"].items()):
    if v["n"]: print(f"GET /status of {k} during the catch-up: {v['n']} probes, p50 {v['p50']:.1f} ms, p99 {v['p99']:.1f} ms, max {v['max']:.1f} ms")
PY
  $BC stop "$d"; load
}

case "${1:-all}" in
  latency1|reads|failover|capacity|recovery) "$1" ;;
  catchup-load) catchup_load ;;
  all) latency1; reads; failover; capacity; recovery ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
