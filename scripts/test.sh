#!/usr/bin/env bash
# Installs deps (if missing), builds, and runs every test suite.
# The suites run on a sanitized build by default (build-san/: Release
# optimisation plus AddressSanitizer and UBSan, stopping at the first
# report), so every CI run is also the ASan/UBSan run.
# Flags: --slow   also run the slow suites (long simulations, fault runs)
#        --no-sanitize run the suites on the plain Release build (build/)
#        --no-browser  skip the headless-browser test
#        --no-fuzz     skip the short libFuzzer runs (FUZZ_SECONDS each, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
SLOW=0; BROWSER=1; FUZZ=1; SANITIZE=1
for a in "$@"; do
  case "$a" in
    --slow) SLOW=1 ;;
    --no-browser) BROWSER=0 ;;
    --no-fuzz) FUZZ=0 ;;
    --no-sanitize) SANITIZE=0 ;;
    *) echo "test.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
export QC_SLOW=$SLOW

scripts/bootstrap.sh $([[ $BROWSER == 1 ]] && echo --browser)
if [[ $SANITIZE == 1 ]]; then
  B=build-san
  BUILD_DIR=$B scripts/build.sh -DSANITIZE=ON
  # A memory error, leak or UB aborts the process that hit it, test runner
  # or node alike, and its report goes to $REPORTS: nodes log to files the
  # tests delete, so the directory is checked after the run.
  REPORTS="$PWD/$B/sanitizer-reports"
  rm -rf "$REPORTS" && mkdir -p "$REPORTS"
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
  if compgen -G "$REPORTS/*" >/dev/null; then
    echo "== sanitizer reports ($REPORTS):"
    for f in "$REPORTS"/*; do echo "-- $f"; head -60 "$f"; done
    rc=1
  else
    echo "== ASan/UBSan: no reports"
  fi
fi
[[ $rc == 0 ]] || exit "$rc"

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
