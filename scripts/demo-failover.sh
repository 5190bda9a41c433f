#!/usr/bin/env bash
# Tells the failover story on a local 5-node cluster, printing each step:
# start 5, chat, kill the leader (and time the failover), keep chatting,
# kill a second node, keep chatting, restart both, show them catch up with
# identical data. Leaves the cluster running at the end (scripts/cluster.sh down).
set -euo pipefail
cd "$(dirname "$0")/.."
CTL=build/chatctl
ADMIN=dev-admin
NODES=(127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 127.0.0.1:7004 127.0.0.1:7005)
CLUSTER=$(IFS=,; echo "${NODES[*]}")

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now_ms() { date +%s%3N; }
addr_of() { echo "127.0.0.1:700${1#n}"; }

leader() {
  for a in "${NODES[@]}"; do
    l=$(curl -s --max-time 1 "http://$a/status" | python3 -c 'import sys,json; print(json.load(sys.stdin).get("leader") or "")' 2>/dev/null || true)
    if [[ -n "$l" ]]; then echo "$l"; return; fi
  done
}

# say NODE_ADDR USER TO BODY: log in as USER on that node and send one message.
say() {
  $CTL call --node "$1" "{\"op\":\"login\",\"user\":\"$2\",\"password\":\"pw-$2\"}" \
    "{\"op\":\"send\",\"to\":\"$3\",\"body\":\"$4\",\"nonce\":\"$(date +%s%N)\"}" | tail -1 |
    python3 -c 'import sys,json; r=json.load(sys.stdin); m=r.get("message",{}); print("   sent #%s %s -> %s: %s" % (m.get("id"), m.get("from"), m.get("to"), m.get("body")) if r.get("ok") else "   error: %s" % r)'
}

step "1. Start a 5-node cluster"
scripts/cluster.sh down >/dev/null 2>&1 || true
scripts/cluster.sh wipe >/dev/null 2>&1 || true
scripts/cluster.sh up 5
$CTL status --cluster "$CLUSTER"
echo "   watch every step live in a browser: http://${NODES[0]}/cluster"
echo "   (the page shows roles, terms, indexes and a timeline; the kills below are done by this script)"

step "2. Create two accounts and chat"
for u in alice bob; do
  $CTL call --node 127.0.0.1:7002 "{\"op\":\"create_account\",\"user\":\"$u\",\"password\":\"pw-$u\"}" >/dev/null || true
done
say 127.0.0.1:7002 alice bob "hi bob, this goes through n2"
say 127.0.0.1:7004 bob alice "hi alice, n4 here"

L1=$(leader)
step "3. Kill the leader ($L1) with SIGKILL"
T0=$(now_ms)
scripts/cluster.sh kill "$L1"
# Keep trying a write through a surviving node until it is acknowledged.
SURVIVOR=127.0.0.1:7001; [[ "$L1" == n1 ]] && SURVIVOR=127.0.0.1:7002
until $CTL call --node "$SURVIVOR" '{"op":"login","user":"alice","password":"pw-alice"}' \
      "{\"op\":\"send\",\"to\":\"bob\",\"body\":\"are you there?\",\"nonce\":\"failover-$T0\"}" >/dev/null 2>&1; do
  sleep 0.02
done
T1=$(now_ms)
L2=$(leader)
echo "   new leader: $L2; first acknowledged write $((T1 - T0)) ms after the kill"
$CTL status --cluster "$CLUSTER"

step "4. Keep chatting with 4 nodes"
say "$SURVIVOR" bob alice "still here, with $L1 down"

L2ADDR=$(addr_of "$L2")
step "5. Kill a second node (the new leader, $L2)"
scripts/cluster.sh kill "$L2"
sleep 1
for a in "${NODES[@]}"; do
  if [[ "$a" != "$(addr_of "$L1")" && "$a" != "$L2ADDR" ]]; then SURVIVOR=$a; break; fi
done
say "$SURVIVOR" alice bob "two nodes down, three still serve"
$CTL status --cluster "$CLUSTER"

step "6. Restart both; they catch up"
scripts/cluster.sh restart "$L1"
scripts/cluster.sh restart "$L2"
for i in $(seq 1 100); do
  applied=$(for a in "${NODES[@]}"; do curl -s --max-time 1 "http://$a/status" | python3 -c 'import sys,json; print(json.load(sys.stdin)["applied_index"])' 2>/dev/null || echo x; done | sort -u | wc -l)
  [[ "$applied" == 1 ]] && break
  sleep 0.2
done
$CTL status --cluster "$CLUSTER"

step "7. Every node holds identical data"
for a in "${NODES[@]}"; do
  printf '   %s  ' "$a"
  $CTL call --node "$a" "{\"op\":\"admin.digest\",\"admin_token\":\"$ADMIN\",\"consistency\":\"local\"}" |
    python3 -c 'import sys,json; r=json.load(sys.stdin); print("applied %s digest %s" % (r.get("applied_index"), r.get("digest")))'
done
echo
echo "The cluster is still running: open http://127.0.0.1:7001/ ; stop it with scripts/cluster.sh down"
