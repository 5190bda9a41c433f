#!/usr/bin/env bash
# Configures and builds into build/ (Release), with parallelism 2.
# Extra arguments go to the cmake configure step (e.g. -DSANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"${JOBS:-2}"
