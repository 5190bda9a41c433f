#!/usr/bin/env bash
# Benchmark smoke run (seconds): chatbench's modes against throwaway
# clusters, checking that each JSON report is complete and self-consistent.
# No speed is asserted (benchmarks decide speed, not tests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${QC_BUILD_DIR:-$ROOT/build}
export BIN=$B/chatnode
T=$(mktemp -d /tmp/qc-bench-smoke.XXXXXX)
trap '"$ROOT/scripts/bench-cluster.sh" stop "$T/one" 2>/dev/null || true; "$ROOT/scripts/bench-cluster.sh" stop "$T/three" 2>/dev/null || true; rm -rf "$T"' EXIT
printf '[security]\nargon2id_passes = 1\nargon2id_memory_kib = 64\n' >"$T/extra.toml"

check() {  # check NAME FILE PYTHON-EXPRESSION-ON-j
  python3 - "$2" "$3" "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ok = eval("(" + sys.argv[2] + ")")
print(("PASS " if ok else "FAIL ") + sys.argv[3])
if not ok:
    print(json.dumps(j, indent=1)[:3000])
    sys.exit(1)
PY
}

# 1. One node: a mixed closed-loop run of a fixed op count.
N1=$("$ROOT/scripts/bench-cluster.sh" start "$T/one" 1 "$T/extra.toml")
"$B/chatbench" --nodes "$N1" --connections 4 --inflight 2 --ops 300 --mix send=2,history=1,unread=1,login=1 \
  --json "$T/run.json" >/dev/null
check "run: 300 ops, all ok, every op kind seen, quantiles ordered" "$T/run.json" '
(r := j["result"]) and r["ok"] == 300 and r["error_count"] == 0 and r["timeouts"] == 0
and set(r["by_op"]) == {"send", "history", "unread", "login"}
and sum(v["ok"] for v in r["by_op"].values()) == 300
and 0 < r["latency_ms"]["min"] <= r["latency_ms"]["p50"] <= r["latency_ms"]["p90"] <= r["latency_ms"]["p99"]
    <= r["latency_ms"]["p99_9"] <= r["latency_ms"]["max"]
and r["throughput"] > 0 and r["elapsed_s"] > 0 and j["loop"] == "closed"'

# 2. Open loop, local reads.
"$B/chatbench" --nodes "$N1" --connections 2 --rate 200 --ops 100 --mix history=1 --consistency local \
  --json "$T/open.json" >/dev/null
check "open loop: 100 local history reads" "$T/open.json" '
j["result"]["ok"] == 100 and j["loop"] == "open" and j["consistency"] == "local"'

# 3. Capacity: 40 idle connections on the node, one burst.
"$B/chatbench" --nodes "$N1" capacity --per-node 40 --users 5 --json "$T/cap.json" >/dev/null
check "capacity: RSS read, burst reached all 40 connections" "$T/cap.json" '
(c := j["capacity"]) and c["connections"] == 40 and c["delivered"] == 40 and c["deliver_ms"] > 0
and c["nodes"][0]["pid"] > 0 and c["nodes"][0]["rss_after_kib"] > 0 and "error" not in c'
"$ROOT/scripts/bench-cluster.sh" stop "$T/one"

# 4. Three nodes: failover with one leader kill and restart.
N3=$("$ROOT/scripts/bench-cluster.sh" start "$T/three" 3 "$T/extra.toml")
"$B/chatbench" --nodes "$N3" failover --connections 6 --rate 100 --kills 1 --steady-ms 800 --down-ms 200 \
  --kill-cmd "$ROOT/scripts/bench-cluster.sh kill $T/three {id}" \
  --restart-cmd "$ROOT/scripts/bench-cluster.sh restart $T/three {id}" --json "$T/fail.json" >/dev/null 2>&1
check "failover: one kill, its window measured, writes acknowledged" "$T/fail.json" '
(f := j["failover"]) and len(f["kills"]) == 1 and f["kills"][0]["leader"] in ("n1", "n2", "n3")
and f["kills"][0]["window_ms"] > 0 and f["window_ms"]["measured"] == 1
and f["writes"]["ok"] > 0 and "error" not in f'
# 5. What a password hash costs here (no node).
"$B/chatbench" hash --ops 2 --json "$T/hash.json" >/dev/null
check "hash: three parameter sets timed, argon2id default first" "$T/hash.json" '
len(j["hash_costs"]) == 3 and j["hash_costs"][0]["label"].startswith("argon2id")
and all(c["hash_wall_ms"] > 0 and c["verify_wall_ms"] > 0 for c in j["hash_costs"])'
# 6. What applying a send costs the state machine (no node).
"$B/chatbench" apply --ops 500 --json "$T/apply.json" >/dev/null
check "apply: 500 sends applied and 500 reads of each size answered, their cost measured" "$T/apply.json" '
(a := j["apply_cost"])["sends"] == 500 and a["cpu_us_per_send"] > 0 and a["wall_us_per_send"] > 0
and a["reads"] == 500 and a["cpu_us_per_read_20"] > 0 and a["cpu_us_per_read_1"] > 0'
echo "bench smoke: all passed"
