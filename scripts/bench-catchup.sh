#!/usr/bin/env bash
# How long a new node takes to catch up. For each message count N:
#  1. a throwaway 3-node cluster on free ports (scripts/bench-cluster.sh,
#     default config: snapshot every 10,000 entries);
#  2. N sends loaded fast with chatbench (many connections, pipelined);
#  3. a 4th node started with --join; timed from its start until it is a
#     voter AND its applied index equals the leader's commit index.
# Prints one line per N and appends a JSON object per N to OUT/catchup.jsonl,
# with the snapshot size, the receive+install rate and the load average
# (other engineers share the machine).
#   scripts/bench-catchup.sh               # N = 100000 and 1000000
#   scripts/bench-catchup.sh 20000         # any list of N
# Env: OUT (default build/bench-catchup), CONNS (64), INFLIGHT (16), BODY (256 bytes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/build/bench-catchup}
CONNS=${CONNS:-64}
INFLIGHT=${INFLIGHT:-16}
BODY=${BODY:-256}
BC=scripts/bench-cluster.sh
[[ -x build/chatnode && -x build/chatbench ]] || BUILD_DIR=build scripts/build.sh
mkdir -p "$OUT"
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(100000 1000000)
current=""
cleanup() { [[ -n "$current" ]] && $BC stop "$current" 2>/dev/null || true; }
trap cleanup EXIT
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
now_ms() { date +%s%3N; }

# status ADDR -> the /status JSON (empty on failure)
status() { curl -sf --max-time 2 "http://$1/status" || true; }

for N in "${counts[@]}"; do
  d=$OUT/n$N
  $BC stop "$d" 2>/dev/null || true
  rm -rf "$d"
  current=$d
  nodes=$($BC start "$d" 3)
  seed=${nodes%%,*}
  load_before=$(loadavg)
  t0=$(now_ms)
  build/chatbench --nodes "$nodes" --connections "$CONNS" --inflight "$INFLIGHT" --body "$BODY" \
    --prefix "c$N" --ops "$N" --timeout-ms 30000 --json "$d/load.json" >/dev/null 2>"$d/chatbench.err"
  load_ms=$(( $(now_ms) - t0 ))
  # Every replica has applied everything; the cluster is idle from here on.
  for _ in $(seq 1 1200); do
    same=$(for a in ${nodes//,/ }; do status "$a"; echo; done | python3 -c '
import sys, json
s = [json.loads(l) for l in sys.stdin if l.strip()]
print(1 if len(s) == 3 and len({x["applied_index"] for x in s} | {x["commit_index"] for x in s}) == 1 else 0)')
    [[ $same == 1 ]] && break
    sleep 0.1
  done
  leader_addr=$(status "$seed" | python3 -c '
import sys, json
s = json.load(sys.stdin)
print(next(m["address"] for m in s["members"] if m["id"] == s["leader"]))')
  commit=$(status "$leader_addr" | python3 -c 'import sys, json; print(json.load(sys.stdin)["commit_index"])')
  load_join=$(loadavg)
  # Start n4 with --join and poll (one process, every 20 ms) until it is a
  # voter in the leader's table and its applied index equals the leader's
  # commit index; prints the elapsed ms (empty on a 30-minute timeout).
  done_ms=$(python3 - "$BC" "$d" "$seed" "$leader_addr" <<'PY'
import json, subprocess, sys, time, urllib.request
bc, d, seed, leader = sys.argv[1:]
def status(addr):
    try:
        with urllib.request.urlopen(f"http://{addr}/status", timeout=2) as r:
            return json.load(r)
    except Exception:
        return None
t0 = time.monotonic()
addr = subprocess.run([bc, "join", d, "n4", seed], check=True, capture_output=True, text=True).stdout.strip()
while time.monotonic() - t0 < 1800:
    lead, me = status(leader), status(addr)
    if lead and me and any(m["id"] == "n4" and m["voter"] for m in lead["members"]) \
            and me["applied_index"] == lead["commit_index"]:
        print(int((time.monotonic() - t0) * 1000))
        break
    time.sleep(0.02)
PY
)
  load_after=$(loadavg)
  python3 - "$N" "$d" "$load_ms" "${done_ms:-}" "$commit" "$load_before" "$load_join" "$load_after" \
    "$OUT/catchup.jsonl" <<'PY'
import datetime, json, os, re, sys
n, d, load_ms, done_ms, commit, lb, lj, la, out = sys.argv[1:]
ts = lambda l: datetime.datetime.strptime(l.split()[0].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
recv = inst = None
size = snap_index = 0
for l in open(os.path.join(d, "n4.log")):
    m = re.search(r"receiving snapshot at index (\d+) \((\d+) bytes\)", l)
    if m and recv is None:
        recv, snap_index, size = ts(l), int(m.group(1)), int(m.group(2))
    if "installed snapshot" in l and inst is None:
        inst = ts(l)
load = json.load(open(os.path.join(d, "load.json")))["result"]
du = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(d, "n1")) for f in fs)
r = {
    "messages": int(n), "load_ms": int(load_ms), "load_throughput": load.get("throughput"),
    "leader_commit": int(commit), "leader_data_dir_bytes": du,
    "catchup_ms": int(done_ms) if done_ms else None,
    "snapshot_index": snap_index, "snapshot_bytes": size,
    "snapshot_receive_install_s": (inst - recv) if recv and inst else None,
    "loadavg_before_load": lb, "loadavg_at_join": lj, "loadavg_after": la,
    "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
}
if r["snapshot_receive_install_s"]:
    r["snapshot_mb_per_s"] = size / 1e6 / r["snapshot_receive_install_s"]
if r["catchup_ms"]:
    r["end_to_end_mb_per_s"] = size / 1e6 / (r["catchup_ms"] / 1000)
with open(out, "a") as f:
    f.write(json.dumps(r) + "\n")
print(f"N={int(n):,}: loaded in {int(load_ms)/1000:.1f} s ({r['load_throughput'] or 0:.0f} sends/s); "
      f"new node voter with applied == commit {commit} after "
      + (f"{r['catchup_ms']/1000:.2f} s" if r["catchup_ms"] else "NEVER (timed out)")
      + f"; snapshot {size/1e6:.1f} MB at index {snap_index}"
      + (f", received+installed in {r['snapshot_receive_install_s']:.2f} s = {r['snapshot_mb_per_s']:.1f} MB/s" if r.get("snapshot_mb_per_s") else "")
      + f"; load average {lj} at join, {la} after")
PY
  $BC stop "$d"
  current=""
  rm -rf "$d/n1" "$d/n2" "$d/n3" "$d/n4"  # keep logs and JSON, not hundreds of MB of data
done
