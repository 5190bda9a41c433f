#!/usr/bin/env bash
# Two or more chatnode builds, compared in interleaved rounds on this machine:
#   scripts/bench-ab.sh ROUNDS BIN_A BIN_B [BIN...]
# Each round starts, for each build in turn, a fresh 3-member cluster
# (scripts/bench-cluster.sh), runs chatbench with CLIENTS (default 64)
# connections of 256-byte sends, and over a WINDOW-second window (default
# 8 s, after the logins and a 1 s warm-up) counts the system calls of every
# thread of the three nodes (perf stat -e raw_syscalls:sys_enter, with
# sendmsg and epoll_wait apart), their CPU
# (utime + stime from /proc/PID/stat) and the entries committed (commit_index
# from /status before and after). It prints one line per build and round:
# writes/s, CPU µs and system calls per committed write, all 3 members;
# then the whole run's p99, p99.9 and slowest send (chatbench), and the
# writes each member took over 0.1 s to apply after receiving them
# (qc_commit_latency_seconds in /metrics), and the snapshots each member
# took in the window (changes of snapshot_index in /status, polled every
# 0.5 s). Tails need snapshots in the run: WINDOW=26 (30 s runs) gives a
# fresh cluster 2–3 per member at 64 clients.
# Interleaving puts the machine's drift into every build alike; compare the
# counts, and the CPU over several rounds.
# QC_CLIENT=go: the clients are etcdbench's (Go, gorilla/websocket; built by
# scripts/bench-vs-etcd.sh) instead of chatbench, each sending to the next.
# WARM=S: one long-lived cluster per build instead, started before the
# rounds and loaded for S seconds by the same clients (a fresh heap, page
# cache and B-trees favour some changes only while they fill); each round
# then measures it again, and the slow writes are those of that round.
# EXTRA=FILE: TOML appended to every node's config. With a [tls] table in it
# the members are reached over https:// and wss://, verified against its
# ca_file; that needs QC_CLIENT=go (chatbench speaks plain ws:// only).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
(( $# >= 3 )) || { sed -n '2,21p' "$0"; exit 2; }
ROUNDS=$1; shift
CLIENTS=${CLIENTS:-64}
WINDOW=${WINDOW:-8}
WARM=${WARM:-0}
OUT=${OUT:-/tmp/bench-ab}
QC_CLIENT=${QC_CLIENT:-chatbench}
EXTRA=${EXTRA:-}
[[ $QC_CLIENT == chatbench || -x build/etcdbench ]] || { echo "bench-ab: QC_CLIENT=go needs build/etcdbench (scripts/bench-vs-etcd.sh builds it)" >&2; exit 1; }
command -v perf >/dev/null || { echo "bench-ab: needs perf (Debian: linux-perf)" >&2; exit 1; }

# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"  # cpu_ticks, toml_tls
read -r scheme ca <<<"$(toml_tls "$EXTRA")" || true  # nothing without EXTRA or its [tls]
scheme=${scheme:-http} curl_tls=() go_tls=()
if [[ $scheme == https ]]; then
  [[ $QC_CLIENT == go ]] || { echo "bench-ab: a [tls] cluster needs QC_CLIENT=go" >&2; exit 2; }
  [[ -n "$ca" ]] && curl_tls=(--cacert "$ca") go_tls=(--ca "$ca")
fi
[[ -x build/chatbench ]] || TARGETS=chatbench scripts/build.sh
get() { curl -s "${curl_tls[@]}" "$@"; }  # get [OPTIONS] URL: over TLS when the cluster has it
status_field() {  # status_field ADDR FIELD: an integer field of ADDR's /status (empty if unreachable)
  get --max-time 2 "$scheme://$1/status" | grep -o "\"$2\":[0-9]*" | cut -d: -f2 || true
}
commit_index() { status_field "$1" commit_index; }
slow_writes() {  # per member: writes that took over 0.1 s from receipt to applied, since start
  local a out=""
  for a in $(tr ',' ' ' <<<"$1"); do
    out+="$(get "$scheme://$a/metrics" | awk '/^qc_commit_latency_seconds_bucket\{le="0.1"\}/ {f = $2}
      /^qc_commit_latency_seconds_count/ {n = $2} END {print n - f}') "
  done
  echo "$out"
}

snapshots_taken() {  # per member: changes of snapshot_index while FILE exists, into FILE.ADDR (pollers: their PIDs)
  local a
  pollers=()
  for a in $(tr ',' ' ' <<<"$1"); do
    (
      local last="" n=0 s
      while [[ -e "$2" ]]; do
        s=$(status_field "$a" snapshot_index)
        if [[ -n "$s" && -n "$last" && "$s" != "$last" ]]; then n=$((n + 1)); fi
        [[ -n "$s" ]] && last=$s
        sleep 0.5
      done
      echo "$n"
    ) >"$2.$a" &
    pollers+=($!)
  done
}

declare -A warm_nodes warm_dir
if ((WARM > 0)); then
  for bin in "$@"; do
    d="$OUT/$(basename "$bin")-warm"
    rm -rf "$d"
    warm_dir[$bin]=$d
    warm_nodes[$bin]=$(BIN=$bin scripts/bench-cluster.sh start "$d" 3 ${EXTRA:+"$EXTRA"} | tail -1)
    echo "warming $(basename "$bin") for ${WARM}s"
    if [[ $QC_CLIENT == go ]]; then
      build/etcdbench --system qc "${go_tls[@]}" --endpoints "${warm_nodes[$bin]}" --clients "$CLIENTS" --duration "$WARM" \
        --warmup 0 >/dev/null 2>&1
    else
      build/chatbench --nodes "${warm_nodes[$bin]}" --connections "$CLIENTS" --duration "$WARM" --body 256 >/dev/null 2>&1
    fi
  done
fi

for r in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    d="$OUT/$(basename "$bin")-r$r"
    rm -rf "$d"
    if ((WARM > 0)); then
      mkdir -p "$d"
      nodes=${warm_nodes[$bin]}
      pids=$(scripts/bench-cluster.sh pids "${warm_dir[$bin]}")
    else
      nodes=$(BIN=$bin scripts/bench-cluster.sh start "$d" 3 ${EXTRA:+"$EXTRA"} | tail -1)
      pids=$(scripts/bench-cluster.sh pids "$d")
    fi
    first=${nodes%%,*}
    slow0=$( ((WARM > 0)) && slow_writes "$nodes" || true)
    if [[ $QC_CLIENT == go ]]; then
      build/etcdbench --system qc "${go_tls[@]}" --endpoints "$nodes" --clients "$CLIENTS" --duration $((WINDOW + 3)) --warmup 2 \
        --ready-file "$d/ready" --json "$d/chatbench.json" >"$d/chatbench.txt" 2>&1 &
    else
      build/chatbench --nodes "$nodes" --connections "$CLIENTS" --duration $((WINDOW + 4)) --body 256 \
        --json "$d/chatbench.json" >"$d/chatbench.txt" 2>&1 &
    fi
    bench=$!
    # Wait for the logins and the warm-up: the first commits of sends.
    if [[ $QC_CLIENT == go ]]; then
      for _ in $(seq 1 600); do [[ -e "$d/ready" ]] && break; sleep 0.1; done
    else
      for _ in $(seq 1 300); do grep -q "logged in" "$d/chatbench.txt" 2>/dev/null && break; sleep 0.1; done
      sleep 2
    fi
    touch "$d/window"; snapshots_taken "$nodes" "$d/window"
    c0=$(commit_index "$first"); t0=$(cpu_ticks $pids)
    perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait -x, -o "$d/perf.txt" \
      -p "$(echo $pids | tr ' ' ,)" -- sleep "$WINDOW"
    c1=$(commit_index "$first"); t1=$(cpu_ticks $pids)
    rm "$d/window"
    wait "${pollers[@]}"
    snaps=$(for a in $(tr ',' ' ' <<<"$nodes"); do cat "$d/window.$a"; done | paste -sd' ')
    wait "$bench" || true
    slow=$(slow_writes "$nodes")
    if [[ -n "$slow0" ]]; then  # a long-lived cluster: this round's only
      slow=$(paste -d' ' <(tr ' ' '\n' <<<"$slow" | grep .) <(tr ' ' '\n' <<<"$slow0" | grep .) | awk '{printf "%d ", $1 - $2}')
    fi
    calls=$(grep raw_syscalls "$d/perf.txt" | cut -d, -f1)
    sends=$(grep sys_enter_sendmsg "$d/perf.txt" | cut -d, -f1)
    polls=$(grep sys_enter_epoll_wait "$d/perf.txt" | cut -d, -f1)
    hz=$(getconf CLK_TCK)
    python3 - "$(basename "$bin")" "$r" "$c0" "$c1" "$t0" "$t1" "$calls" "$WINDOW" "$hz" "$d/chatbench.json" "$slow" "$snaps" \
      "$sends" "$polls" <<'PY'
import json, sys
name, r, c0, c1, t0, t1, calls, window, hz, js, slow, snaps, sends, polls = sys.argv[1:]
w = int(c1) - int(c0)
lat = json.load(open(js))["result"]["latency_ms"]
print(f"round {r}  {name:<28} {w / float(window):7.0f} writes/s  "
      f"CPU {(int(t1) - int(t0)) * 1e6 / int(hz) / w:5.0f} µs/write  {int(calls) / w:5.2f} calls/write "
      f"(sendmsg {int(sends) / w:4.2f}, epoll_wait {int(polls) / w:4.2f})  "
      f"p99 {lat['p99']:.1f}  p99.9 {lat['p99_9']:.1f}  max {lat['max']:.1f} ms  slow {slow.strip()}  snapshots {snaps}")
PY
    ((WARM > 0)) || scripts/bench-cluster.sh stop "$d" >/dev/null 2>&1 || true
  done
done
for bin in "$@"; do
  if ((WARM > 0)); then scripts/bench-cluster.sh stop "${warm_dir[$bin]}" >/dev/null 2>&1 || true; fi
done
