#!/usr/bin/env bash
# Failover benchmark: on a fresh local 5-node cluster, SIGKILL the leader K
# times (default 10) and time kill -> next acknowledged write (a send through
# a surviving node, retried every 10 ms). Prints each window, median and max.
set -euo pipefail
cd "$(dirname "$0")/.."
K=${1:-10}
CTL=build/chatctl
scripts/cluster.sh wipe >/dev/null 2>&1 || true
scripts/cluster.sh up 5 >/dev/null
$CTL call --node 127.0.0.1:7002 '{"op":"create_account","user":"bench","password":"pw"}' >/dev/null || true
leader() { for p in 1 2 3 4 5; do l=$(curl -s --max-time 1 "http://127.0.0.1:700$p/status" | python3 -c 'import sys,json; print(json.load(sys.stdin).get("leader") or "")' 2>/dev/null || true); [[ -n "$l" ]] && { echo "$l"; return; }; done; }
times=()
for i in $(seq 1 "$K"); do
  L=""; until [[ -n "$L" ]]; do L=$(leader); sleep 0.05; done
  S=$(( ${L#n} % 5 + 1 ))
  sleep 1  # steady state before the kill
  T0=$(date +%s%3N)
  scripts/cluster.sh kill "$L" >/dev/null
  until $CTL call --node "127.0.0.1:700$S" '{"op":"login","user":"bench","password":"pw"}' \
        "{\"op\":\"send\",\"to\":\"bench\",\"body\":\"k$i\",\"nonce\":\"k$i-$T0\"}" >/dev/null 2>&1; do sleep 0.01; done
  T1=$(date +%s%3N)
  times+=($((T1 - T0)))
  echo "kill $i: leader $L -> first ack after $((T1 - T0)) ms"
  scripts/cluster.sh restart "$L" >/dev/null
done
scripts/cluster.sh down >/dev/null
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "kills %d  median %d ms  max %d ms  min %d ms\n", NR, (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), a[NR], a[1]}'
