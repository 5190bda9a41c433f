#!/usr/bin/env bash
# Runs one libFuzzer target for a while:  scripts/fuzz.sh TARGET SECONDS
#   TARGET: request | peer | config       (default SECONDS: 60)
# Builds build-fuzz/ with Debian's clang (-fsanitize=fuzzer,address,undefined)
# on first use. Seeds come from tests/fuzz/corpus/TARGET/ (committed); new
# interesting inputs go to build-fuzz/corpus/TARGET/, crashes to
# build-fuzz/crashes/ — add each one to tests/fuzz/regressions/TARGET/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:?usage: scripts/fuzz.sh request|peer|config SECONDS}
S=${2:-60}
case "$T" in request|peer|config) ;; *) echo "fuzz.sh: unknown target $T" >&2; exit 2 ;; esac
command -v clang++ >/dev/null || apt-get install -y -q clang >/dev/null
if [[ ! -f build-fuzz/CMakeCache.txt ]]; then
  CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFUZZ=ON >/dev/null
fi
cmake --build build-fuzz -j"${JOBS:-2}" --target "${T}_fuzz" >/dev/null
mkdir -p "build-fuzz/corpus/$T" build-fuzz/crashes
dirs=("build-fuzz/corpus/$T" "tests/fuzz/corpus/$T")
[[ -d tests/fuzz/regressions/$T ]] && dirs+=("tests/fuzz/regressions/$T")
exec "build-fuzz/${T}_fuzz" -max_total_time="$S" -max_len=65536 -timeout=10 \
  -artifact_prefix=build-fuzz/crashes/"$T"- -print_final_stats=1 "${dirs[@]}"
