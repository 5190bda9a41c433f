# shellcheck shell=bash
# Shell functions the benchmark scripts share (sourced, not run).

# toml_tls FILE: "https" and, on the same line, the ca_file of the [tls] table
# in TOML FILE (the CA a client verifies a node against); nothing if FILE has
# no [tls] table.
toml_tls() {
  grep -q '^\[tls\]' "$1" 2>/dev/null || return 0
  echo "https $(sed -n 's/^ca_file *= *"\(.*\)"/\1/p' "$1" | head -1)"
}

# cpu_ticks PID... -> user+system clock ticks (/proc/PID/stat) of those processes, summed.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}

# cpu_cap NAME FRACTION PID: puts process PID (all its threads) in a CPU
# cgroup of its own, NAME, capped at FRACTION of one core (in 10 ms periods),
# as if it ran on a host of its own that size. cgroup v2 (cpu.max) where the
# cpu controller is there, else v1 (cpu.cfs_quota_us). Needs root.
cpu_cap() {
  local name=$1 frac=$2 pid=$3 period=10000 quota g
  quota=$(awk -v f="$frac" -v p="$period" 'BEGIN { printf "%d", f * p + 0.5 }')
  if grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
    g=/sys/fs/cgroup/$name
    mkdir -p "$g"
    echo "$quota $period" >"$g/cpu.max"
  elif [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then
    g=/sys/fs/cgroup/cpu/$name
    mkdir -p "$g"
    echo "$period" >"$g/cpu.cfs_period_us"
    echo "$quota" >"$g/cpu.cfs_quota_us"
  else
    echo "cpu_cap: no cgroup cpu controller here" >&2
    return 1
  fi
  echo "$pid" >"$g/cgroup.procs"
}

# cpu_uncap NAME: removes the cgroup cpu_cap made (once its processes are gone).
cpu_uncap() {
  rmdir "/sys/fs/cgroup/$1" 2>/dev/null || rmdir "/sys/fs/cgroup/cpu/$1" 2>/dev/null || true
}

# perf_window OUT WINDOW PIDS EVENTS CHATBENCH_ARGS...: runs build/chatbench
# with the given arguments (its JSON in OUT/window.json), and from the moment
# its measured window opens (its ready file) counts the perf EVENTS of the
# comma-separated PIDS for WINDOW seconds into OUT/stat (perf stat -x,).
# Prints the CPU clock ticks (utime + stime) of the PIDS and of chatbench over
# those seconds: "SERVERS CHATBENCH".
perf_window() {
  local out=$1 window=$2 pids=$3 events=$4 cb s0 c0 s1 c1
  shift 4
  rm -f "$out/ready"
  build/chatbench "$@" --duration $((window + 2)) --json "$out/window.json" --ready-file "$out/ready" >/dev/null 2>&1 &
  cb=$!
  while [[ ! -f $out/ready ]]; do kill -0 "$cb" 2>/dev/null || break; sleep 0.02; done
  # shellcheck disable=SC2086
  s0=$(cpu_ticks ${pids//,/ }) c0=$(cpu_ticks "$cb")
  perf stat -x, -e "$events" -p "$pids" -- sleep "$window" 2>"$out/stat"
  # shellcheck disable=SC2086
  s1=$(cpu_ticks ${pids//,/ }) c1=$(cpu_ticks "$cb")
  wait "$cb"
  echo "$((s1 - s0)) $((c1 - c0))"
}
