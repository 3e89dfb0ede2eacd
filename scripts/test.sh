#!/usr/bin/env bash
# The one command that installs what is needed, builds, and runs every test:
#   1. Debian packages (scripts/install-deps.sh)
#   2. release build (assertions on), the previous release's build (compat/previous, for the
#      two-build test) and the full release test suite
#   3. AddressSanitizer + UBSan build and its test suite
#   4. ThreadSanitizer build and its test suite
#   5. the fuzz targets, built with libFuzzer and run for a short while each
# Each stage prints how long it took, and the end prints the whole run's time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${MINOTAUR_JOBS:-$(nproc)}
started=$SECONDS
stage_started=$SECONDS
stage() {  # stage NAME: ends the stage before (printing its time) and announces the next
  if [[ -n "${stage_name:-}" ]]; then
    echo "== $stage_name took $((SECONDS - stage_started)) s"
  fi
  stage_name=$1
  stage_started=$SECONDS
  [[ -n "$stage_name" ]] && echo "== $stage_name"
  return 0
}

stage "Debian packages"
scripts/install-deps.sh

stage "release build"
scripts/build.sh release
stage "previous release build (for the two-build test, label compat; reused when built)"
scripts/build-previous.sh
stage "release tests"
ctest --test-dir build/release --output-on-failure -j "$jobs"

stage "ASan+UBSan build"
scripts/build.sh asan
stage "ASan+UBSan tests"
# Not under the sanitizers: the browser test (Chromium), the two-build test (label compat: the
# previous release is a release build), and the tiny benchmark runs (label bench), which load a 2-core machine until the 5-10x slower nodes stall past the failure bound.
# The simulator's tests run 40 seeds per configuration here (MINOTAUR_SIM_SEEDS): the release
# pass runs their full counts, and at -O0 under ASan each seed is ~50x slower.
MINOTAUR_SIM_SEEDS=40 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -LE "browser|bench|compat"

stage "ThreadSanitizer build"
scripts/build.sh tsan
stage "ThreadSanitizer tests"
# The same tests as under ASan. The node is one thread, but the transport tests, the harness
# and the tests' own client threads are not; TSan also checks the nodes they start.
MINOTAUR_SIM_SEEDS=40 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan --output-on-failure -j "$jobs" -LE "browser|bench|compat"

stage "fuzz targets (libFuzzer, ${MINOTAUR_FUZZ_SECONDS:-20} s each)"
scripts/build.sh fuzz
scripts/fuzz.sh "${MINOTAUR_FUZZ_SECONDS:-20}"
stage ""
echo "test: everything passed in $((SECONDS - started)) s"
