#!/usr/bin/env bash
# The one command that installs what is needed, builds, and runs every test:
#   1. Debian packages (scripts/install-deps.sh)
#   2. release build (assertions on) and its full test suite
#   3. AddressSanitizer + UBSan build and its test suite
#   4. ThreadSanitizer build and its test suite
#   5. the fuzz targets, built with libFuzzer and run for a short while each
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${MINOTAUR_JOBS:-$(nproc)}

scripts/install-deps.sh

echo "== release build and tests"
scripts/build.sh release
ctest --test-dir build/release --output-on-failure -j "$jobs"

echo "== ASan+UBSan build and tests"
scripts/build.sh asan
# Not under the sanitizers: the browser test (Chromium), and the tiny benchmark runs (label
# bench), which load a 2-core machine until the 5-10x slower nodes stall past the failure bound.
# The simulator's tests run 40 seeds per configuration here (MINOTAUR_SIM_SEEDS): the release
# pass runs their full counts, and at -O0 under ASan each seed is ~50x slower.
MINOTAUR_SIM_SEEDS=40 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs" -LE "browser|bench"

echo "== ThreadSanitizer build and tests"
scripts/build.sh tsan
# The same tests as under ASan. The node is one thread, but the transport tests, the harness
# and the tests' own client threads are not; TSan also checks the nodes they start.
MINOTAUR_SIM_SEEDS=40 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build/tsan --output-on-failure -j "$jobs" -LE "browser|bench"

echo "== fuzz targets (libFuzzer, ${MINOTAUR_FUZZ_SECONDS:-20} s each)"
scripts/build.sh fuzz
scripts/fuzz.sh "${MINOTAUR_FUZZ_SECONDS:-20}"
echo "test: everything passed"
