#!/usr/bin/env bash
# Latency (p50 and p99) against throughput for etcd and Quorum Chat, from the
# sweep JSON files of scripts/bench-vs-etcd.sh, as a PNG (gnuplot).
#   scripts/plot-latency.sh OUT_DIR PNG CLIENT_COUNTS...
set -euo pipefail
OUT=$1; PNG=$2; shift 2
mkdir -p "$(dirname "$PNG")"
for sys in etcd qc; do
  for c in "$@"; do
    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["result"]
print(sys.argv[2], r["throughput"], r["latency_ms"]["p50"], r["latency_ms"]["p99"])' "$OUT/$sys-sweep-$c.json" "$c"
  done >"$OUT/$sys-sweep.dat"
done
gnuplot <<GP
set terminal png size 1000,600 font ",11"
set output "$PNG"
set title "Latency vs throughput, 3 members on loopback, closed loop, 256-byte writes ($(nproc) cores)"
set xlabel "throughput (acknowledged writes/s)"
set ylabel "latency (ms)"
set logscale y
set grid
set key top left
plot "$OUT/etcd-sweep.dat" using 2:3 with linespoints lw 2 pt 7 title "etcd put p50", \
     "$OUT/etcd-sweep.dat" using 2:4 with linespoints lw 2 pt 5 dt 2 title "etcd put p99", \
     "$OUT/qc-sweep.dat" using 2:3 with linespoints lw 2 pt 7 title "Quorum Chat send p50", \
     "$OUT/qc-sweep.dat" using 2:4 with linespoints lw 2 pt 5 dt 2 title "Quorum Chat send p99", \
     "$OUT/etcd-sweep.dat" using 2:4:(sprintf("%d", \$1)) with labels offset 0,1 notitle, \
     "$OUT/qc-sweep.dat" using 2:4:(sprintf("%d", \$1)) with labels offset 0,1 notitle
GP
