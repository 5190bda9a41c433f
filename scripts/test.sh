#!/usr/bin/env bash
# Installs deps (if missing), builds, and runs every test suite.
# The suites run on a sanitized build by default (build-san/: the Release
# build type at -O1, as the sanitizers advise, plus AddressSanitizer and
# UBSan, stopping at the first report), so every CI run is also the
# ASan/UBSan run. The actors that own worker threads (tests/actors) then
# run under ThreadSanitizer (build-tsan/, also -O1, that suite only: a few
# minutes).
# Flags: --slow   also run the slow suites (long simulations, fault runs)
#        --tsan   build everything under ThreadSanitizer too and run every
#                 suite there (adds ~20 minutes on 2 cores)
#        --no-sanitize run the suites on the plain Release (-O3) build (build/),
#                 without the ASan/UBSan and TSan runs
#        --no-browser  skip the headless-browser test
#        --no-fuzz     skip the short libFuzzer runs (FUZZ_SECONDS each, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SLOW=0; BROWSER=1; FUZZ=1; SANITIZE=1; TSAN_ALL=0
for a in "$@"; do
  case "$a" in
    --slow) SLOW=1 ;;
    --tsan) TSAN_ALL=1 ;;
    --no-browser) BROWSER=0 ;;
    --no-fuzz) FUZZ=0 ;;
    --no-sanitize) SANITIZE=0 ;;
    *) echo "test.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
export QC_SLOW=$SLOW

# A sanitizer report aborts the process that hit it, test runner or node
# alike, and goes to a reports directory: nodes log to files the tests
# delete, so the directory is checked after the run.
fresh_reports() { rm -rf "$1" && mkdir -p "$1"; }
check_reports() {  # DIR NAME: prints the reports; fails if there are any
  if compgen -G "$1/*" >/dev/null; then
    echo "== $2 reports ($1):"
    for f in "$1"/*; do echo "-- $f"; head -60 "$f"; done
    return 1
  fi
  echo "== $2: no reports"
}

scripts/bootstrap.sh $([[ $BROWSER == 1 ]] && echo --browser)
if [[ $SANITIZE == 1 ]]; then
  B=build-san
  BUILD_DIR=$B scripts/build.sh -DSANITIZE=ON
  REPORTS="$PWD/$B/sanitizer-reports"
  fresh_reports "$REPORTS"
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:log_path=$REPORTS/asan"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
  # The simulation is ~5x slower under ASan (2000 seeds: 341 s on 2 cores);
  # 400 fit the CI budget, --slow or QC_SIM_SEEDS asks for more.
  [[ $SLOW == 1 ]] || export QC_SIM_SEEDS=${QC_SIM_SEEDS:-400}
else
  B=build
  scripts/build.sh
fi

rc=0
(cd "$B" && ctest --output-on-failure -j1 --timeout 900) || rc=$?
if [[ $SANITIZE == 1 ]]; then
  unset ASAN_OPTIONS UBSAN_OPTIONS
  check_reports "$REPORTS" "ASan/UBSan" || rc=1
fi
[[ $rc == 0 ]] || exit "$rc"

# ThreadSanitizer: the storage and apply actors share memory with the event
# loop through their mailboxes and the snapshot thread. --tsan runs every
# suite (nodes included) on a full TSan build instead of this one suite.
if [[ $SANITIZE == 1 ]]; then
  T=build-tsan
  TREPORTS="$PWD/$T/tsan-reports"
  if [[ $TSAN_ALL == 1 ]]; then
    BUILD_DIR=$T scripts/build.sh -DSANITIZE_THREAD=ON
  else
    BUILD_DIR=$T TARGETS=actors_tests scripts/build.sh -DSANITIZE_THREAD=ON
  fi
  fresh_reports "$TREPORTS"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$TREPORTS/tsan"
  if [[ $TSAN_ALL == 1 ]]; then
    # Not the simulation: it is single-threaded (and 10x slower under TSan).
    (cd "$T" && ctest --output-on-failure -j1 --timeout 1800 -E '^sim$') || rc=$?
  else
    echo "== ThreadSanitizer: actors_tests"
    "$T/actors_tests" || rc=$?
  fi
  unset TSAN_OPTIONS
  check_reports "$TREPORTS" "ThreadSanitizer" || rc=1
  [[ $rc == 0 ]] || exit "$rc"
fi

# Short fuzz runs of the request decoder, the peer decoder and the TOML loader
# (clang, ASan + UBSan): a crash fails the run.
if [[ $FUZZ == 1 ]]; then
  for t in request peer config; do
    echo "== fuzz $t for ${FUZZ_SECONDS:-20} s"
    rc=0
    scripts/fuzz.sh "$t" "${FUZZ_SECONDS:-20}" >"$B/fuzz-$t.log" 2>&1 || rc=$?
    grep -E '^(Done|==[0-9]+==ERROR|SUMMARY)' "$B/fuzz-$t.log" || true
    [[ $rc == 0 ]] || { tail -40 "$B/fuzz-$t.log"; echo "fuzz $t failed (exit $rc): see build-fuzz/crashes/"; exit 1; }
  done
fi
