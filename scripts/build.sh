#!/usr/bin/env bash
# Configures and builds into build/ (Release), with parallelism 2.
# Extra arguments go to the cmake configure step (e.g. -DSANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
launcher=()
# ccache, when installed, shares objects between checkouts (optional; CI works without it).
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd .. && pwd)}" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "${launcher[@]}" "$@" >/dev/null
# TARGETS (space-separated) builds only those targets.
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" ${TARGETS:+--target $TARGETS}
