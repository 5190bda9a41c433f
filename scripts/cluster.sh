#!/usr/bin/env bash
# Local cluster control.
#   scripts/cluster.sh up [N]      N = 5 (config/node1..5.toml) or 3 (config/3node/)
#   scripts/cluster.sh down | status | wipe
#   scripts/cluster.sh kill|pause|resume|restart|logs ID     (ID = n1..n5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=run
BIN=build/chatnode
# What `up` runs: the node, and chatctl for status/supervise by hand. The
# test suites are built by scripts/test.sh, not here.
TOOLS=(build/chatnode build/chatctl)
mkdir -p "$RUN"

cfg_of() {  # ID -> config file (3-node cluster if that is what is running)
  local n=${1#n}
  if [[ -f "$RUN/size" && "$(cat "$RUN/size")" == 3 ]]; then echo "config/3node/node$n.toml"; else echo "config/node$n.toml"; fi
}
addr_of() { grep '^listen' "$(cfg_of "$1")" | sed 's/.*"\(.*\)".*/\1/'; }
pid_of() { [[ -f "$RUN/$1.pid" ]] && cat "$RUN/$1.pid" || true; }
alive() { local p; p=$(pid_of "$1"); [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
ids() { local n=5; [[ -f "$RUN/size" ]] && n=$(cat "$RUN/size"); seq -f 'n%g' 1 "$n"; }

needs_build() {
  local t
  for t in "${TOOLS[@]}"; do
    [[ ! -x $t ]] && return 0
    [[ -n "$(find src CMakeLists.txt -newer "$t" -print -quit 2>/dev/null)" ]] && return 0
  done
  return 1
}

start() {
  local id=$1
  if alive "$id"; then echo "$id already running (pid $(pid_of "$id"))"; return; fi
  "$BIN" --config "$(cfg_of "$id")" >>"$RUN/$id.log" 2>&1 &
  echo $! >"$RUN/$id.pid"
  echo "started $id (pid $!) on $(addr_of "$id")"
}

up() {
  local n=${1:-5}
  [[ "$n" == 3 || "$n" == 5 ]] || { echo "cluster.sh: N must be 3 or 5" >&2; exit 2; }
  scripts/bootstrap.sh
  if needs_build; then TARGETS="${TOOLS[*]##*/}" scripts/build.sh; fi
  echo "$n" >"$RUN/size"
  for id in $(ids); do start "$id"; done
  local need=$(( n / 2 + 1 )) ok=0
  for _ in $(seq 1 150); do
    ok=0
    for id in $(ids); do curl -sf --max-time 1 "http://$(addr_of "$id")/health" >/dev/null && ok=$((ok + 1)); done
    (( ok >= need )) && break
    sleep 0.2
  done
  if (( ok < need )); then echo "cluster.sh: only $ok healthy nodes; see $RUN/*.log" >&2; exit 1; fi
  echo
  echo "Cluster up: $ok/$n healthy. Web client: http://$(addr_of n1)/"
  echo "Live view:  http://$(addr_of n1)/cluster"
  echo "By hand:    wscat -c ws://$(addr_of n1)/ws"
}

down() {
  for id in n1 n2 n3 n4 n5; do
    local p; p=$(pid_of "$id")
    [[ -n "$p" ]] && kill -TERM "$p" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    local any=0
    for id in n1 n2 n3 n4 n5; do alive "$id" && any=1; done
    (( any == 0 )) && break
    sleep 0.1
  done
  for id in n1 n2 n3 n4 n5; do
    alive "$id" && kill -KILL "$(pid_of "$id")" 2>/dev/null || true
    rm -f "$RUN/$id.pid"
  done
  echo "cluster down"
}

status() {
  printf '%-4s %-16s %-10s %-6s %-7s %-8s %-8s %s\n' ID ADDRESS ROLE TERM LEADER COMMIT APPLIED REACHABLE
  for id in $(ids); do
    local a; a=$(addr_of "$id")
    # A member that is down fails curl; the row says so and the rest follow.
    { curl -s --max-time 1 "http://$a/status" || true; } | python3 -c '
import sys, json
id, a = sys.argv[1], sys.argv[2]
try:
    s = json.load(sys.stdin)
    reach = sum(1 for m in s["members"] if m["reachable"])
    print("%-4s %-16s %-10s %-6s %-7s %-8s %-8s %d/%d" % (id, a, s["role"], s["term"], s["leader"] or "-", s["commit_index"], s["applied_index"], reach, len(s["members"])))
except Exception:
    print("%-4s %-16s %-10s" % (id, a, "down"))
' "$id" "$a"
  done
}

cmd=${1:-}
case "$cmd" in
  up) up "${2:-5}" ;;
  down) down ;;
  status) status ;;
  wipe) down; rm -rf data run; echo "wiped data/ and run/" ;;
  kill) kill -KILL "$(pid_of "$2")" && rm -f "$RUN/$2.pid" && echo "SIGKILL $2" ;;
  pause) kill -STOP "$(pid_of "$2")" && echo "SIGSTOP $2" ;;
  resume) kill -CONT "$(pid_of "$2")" && echo "SIGCONT $2" ;;
  restart) alive "$2" && kill -KILL "$(pid_of "$2")"; start "$2" ;;
  logs) cat "$RUN/$2.log" ;;
  *) sed -n '2,5p' "$0"; exit 2 ;;
esac
