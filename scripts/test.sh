#!/usr/bin/env bash
# Installs deps (if missing), builds, and runs every test suite.
# Flags: --slow   also run the slow suites (long simulations, fault runs)
#        --no-browser  skip the headless-browser test
set -euo pipefail
cd "$(dirname "$0")/.."
SLOW=0; BROWSER=1
for a in "$@"; do
  case "$a" in
    --slow) SLOW=1 ;;
    --no-browser) BROWSER=0 ;;
    *) echo "test.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
export QC_SLOW=$SLOW

scripts/bootstrap.sh $([[ $BROWSER == 1 ]] && echo --browser)
scripts/build.sh

cd build
ctest --output-on-failure -j1 --timeout 900
