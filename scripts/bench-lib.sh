# shellcheck shell=bash
# Shell functions the benchmark scripts share (sourced, not run).

# cpu_ticks PID... -> user+system clock ticks (/proc/PID/stat) of those processes, summed.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
