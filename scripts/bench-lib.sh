# shellcheck shell=bash
# Shell functions the benchmark scripts share (sourced, not run).

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
