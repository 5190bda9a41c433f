#!/usr/bin/env bash
# Runs 5 nodes as 5 "hosts": each in its own network namespace on a bridge,
# with its own address from 10.77.0.0/24 (used by nothing but these
# namespaces). Needs root.
#
#   scripts/netns-cluster.sh up [N]          create hosts qc-h1..qc-hN, start a node in each
#   scripts/netns-cluster.sh down            stop nodes, delete every namespace, link and rule we made
#   scripts/netns-cluster.sh partition 1,2   cut hosts 1,2 off from the rest (iptables inside the namespaces)
#   scripts/netns-cluster.sh oneway 1,2      drop only traffic INTO hosts 1,2 from the rest
#   scripts/netns-cluster.sh heal            remove every partition rule
#   scripts/netns-cluster.sh status          GET /status of each host
#   scripts/netns-cluster.sh kill|stop|cont|start K   SIGKILL / SIGSTOP / SIGCONT / start the node on host K
#
# Host K has address 10.77.0.K; nodes listen on 10.77.0.K:7001. The root
# namespace reaches them through the bridge at 10.77.0.254.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NET=10.77.0
BR=qc-br0
RUN=$ROOT/run/netns
N_DEFAULT=5

need_root() { [[ $(id -u) -eq 0 ]] || { echo "netns-cluster.sh: needs root (network namespaces)" >&2; exit 77; }; }
hosts() { ls "$RUN"/*.toml 2>/dev/null | sed 's#.*/h\([0-9]*\)\.toml#\1#' | sort -n; }

write_config() {  # K N
  local k=$1 n=$2
  {
    echo "[node]"
    echo "id = \"h$k\""
    echo "listen = \"$NET.$k:7001\""
    echo "data_dir = \"$RUN/data/h$k\""
    echo "[cluster]"
    echo "secret = \"netns-secret\""
    echo "admin_token = \"netns-admin\""
    echo "members = ["
    for i in $(seq 1 "$n"); do echo "  { id = \"h$i\", address = \"$NET.$i:7001\" },"; done
    echo "]"
    echo "[security]"
    echo "password_hash = \"pbkdf2-sha256\""
    echo "pbkdf2_iterations = 1000"
  } >"$RUN/h$k.toml"
}

start_node() {  # K
  local k=$1
  ip netns exec "qc-h$k" "${QC_BUILD_DIR:-$ROOT/build}/chatnode" --config "$RUN/h$k.toml" >>"$RUN/h$k.log" 2>&1 &
  echo $! >"$RUN/h$k.pid"
}

pid_of() { cat "$RUN/h$1.pid" 2>/dev/null || true; }

up() {
  need_root
  local n=${1:-$N_DEFAULT}
  [[ -x ${QC_BUILD_DIR:-build}/chatnode ]] || scripts/build.sh
  down_quiet
  mkdir -p "$RUN/data"
  ip link add "$BR" type bridge
  ip addr add "$NET.254/24" dev "$BR"
  ip link set "$BR" up
  for k in $(seq 1 "$n"); do
    ip netns add "qc-h$k"
    ip link add "qc-v$k" type veth peer name "qc-p$k"
    ip link set "qc-p$k" netns "qc-h$k"
    ip netns exec "qc-h$k" ip link set "qc-p$k" name eth0
    ip netns exec "qc-h$k" ip addr add "$NET.$k/24" dev eth0
    ip netns exec "qc-h$k" ip link set eth0 up
    ip netns exec "qc-h$k" ip link set lo up
    ip link set "qc-v$k" master "$BR"
    ip link set "qc-v$k" up
    write_config "$k" "$n"
  done
  for k in $(seq 1 "$n"); do start_node "$k"; done
  for _ in $(seq 1 150); do
    for k in $(seq 1 "$n"); do
      if curl -sf --max-time 1 "http://$NET.$k:7001/health" >/dev/null; then
        echo "netns cluster up: $n hosts on $NET.1..$NET.$n:7001 (web: http://$NET.1:7001/)"
        return 0
      fi
    done
    sleep 0.2
  done
  echo "netns-cluster.sh: no healthy node after 30 s; see $RUN/h*.log" >&2
  return 1
}

down_quiet() {
  for f in "$RUN"/h*.pid; do
    [[ -e "$f" ]] || continue
    kill -9 "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^qc-h[0-9]*$' || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^qc-(v[0-9]+|br0)$' || true); do
    ip link del "$l" 2>/dev/null || true
  done
}

down() {
  need_root
  down_quiet
  rm -rf "$RUN"
  echo "netns cluster down"
}

rules_in() {  # K: every partition rule lives in our own chain QC-PART
  ip netns exec "qc-h$1" iptables -N QC-PART 2>/dev/null || true
  ip netns exec "qc-h$1" iptables -C INPUT -j QC-PART 2>/dev/null || ip netns exec "qc-h$1" iptables -I INPUT -j QC-PART
  ip netns exec "qc-h$1" iptables -C OUTPUT -j QC-PART 2>/dev/null || ip netns exec "qc-h$1" iptables -I OUTPUT -j QC-PART
}

partition() {  # "1,2" [oneway]
  need_root
  local group=",$1," mode=${2:-both}
  for k in $(hosts); do rules_in "$k"; done
  for a in $(hosts); do
    for b in $(hosts); do
      [[ $a == "$b" ]] && continue
      local a_in=0 b_in=0
      [[ $group == *",$a,"* ]] && a_in=1
      [[ $group == *",$b,"* ]] && b_in=1
      [[ $a_in == "$b_in" ]] && continue
      if [[ $mode == both ]]; then
        ip netns exec "qc-h$a" iptables -A QC-PART -s "$NET.$b" -j DROP
        ip netns exec "qc-h$a" iptables -A QC-PART -d "$NET.$b" -j DROP
      elif [[ $a_in == 1 ]]; then
        # one-way: packets from the rest into the group are dropped
        ip netns exec "qc-h$a" iptables -A QC-PART -s "$NET.$b" -j DROP
      fi
    done
  done
  echo "partitioned {$1} from the rest ($mode)"
}

heal() {
  need_root
  for k in $(hosts); do
    ip netns exec "qc-h$k" iptables -F QC-PART 2>/dev/null || true
  done
  echo "healed"
}

status() {
  for k in $(hosts); do
    printf 'h%s  ' "$k"
    curl -s --max-time 1 "http://$NET.$k:7001/status" | python3 -c 'import sys,json
try:
  s=json.load(sys.stdin); print("%-9s term %-4s leader %-4s commit %-7s applied %s" % (s["role"], s["term"], s["leader"], s["commit_index"], s["applied_index"]))
except Exception: print("down")'
  done
}

case "${1:-}" in
  up) up "${2:-}" ;;
  down) down ;;
  partition) partition "$2" both ;;
  oneway) partition "$2" oneway ;;
  heal) heal ;;
  status) status ;;
  kill) need_root; kill -9 "$(pid_of "$2")"; rm -f "$RUN/h$2.pid" ;;
  stop) need_root; kill -STOP "$(pid_of "$2")" ;;
  cont) need_root; kill -CONT "$(pid_of "$2")" ;;
  start) need_root; start_node "$2" ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
