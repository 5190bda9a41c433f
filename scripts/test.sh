#!/usr/bin/env bash
# Installs deps (if missing), builds, and runs every test suite.
# Flags: --slow   also run the slow suites (long simulations, fault runs)
#        --no-browser  skip the headless-browser test
#        --no-fuzz     skip the short libFuzzer runs (FUZZ_SECONDS each, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SLOW=0; BROWSER=1; FUZZ=1
for a in "$@"; do
  case "$a" in
    --slow) SLOW=1 ;;
    --no-browser) BROWSER=0 ;;
    --no-fuzz) FUZZ=0 ;;
    *) echo "test.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
export QC_SLOW=$SLOW

scripts/bootstrap.sh $([[ $BROWSER == 1 ]] && echo --browser)
scripts/build.sh

(cd build && ctest --output-on-failure -j1 --timeout 900)

# Short fuzz runs of the request decoder, the peer decoder and the TOML loader
# (clang, ASan + UBSan): a crash fails the run.
if [[ $FUZZ == 1 ]]; then
  for t in request peer config; do
    echo "== fuzz $t for ${FUZZ_SECONDS:-20} s"
    rc=0
    scripts/fuzz.sh "$t" "${FUZZ_SECONDS:-20}" >"build/fuzz-$t.log" 2>&1 || rc=$?
    grep -E '^(Done|==[0-9]+==ERROR|SUMMARY)' "build/fuzz-$t.log" || true
    [[ $rc == 0 ]] || { tail -40 "build/fuzz-$t.log"; echo "fuzz $t failed (exit $rc): see build-fuzz/crashes/"; exit 1; }
  done
fi
