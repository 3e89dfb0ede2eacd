#!/usr/bin/env bash
# Usage: scripts/build.sh [release|asan|tsan|fuzz] — configures and builds into build/<kind>.
# release: optimised, assertions on. asan: AddressSanitizer + UBSan. tsan: ThreadSanitizer.
# fuzz: clang + libFuzzer targets.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
jobs=${MINOTAUR_JOBS:-$(nproc)}
case "$kind" in
  release) flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    flags=(-DCMAKE_BUILD_TYPE=Debug -DMINOTAUR_SANITIZE=ON) ;;
  tsan)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINOTAUR_TSAN=ON) ;;
  fuzz)    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMINOTAUR_FUZZ=ON
                  -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "build.sh: unknown build kind '$kind'; use release, asan, tsan or fuzz" >&2; exit 2 ;;
esac
echo "build: configuring build/$kind"
cmake -S . -B "build/$kind" -G Ninja "${flags[@]}" >/dev/null
echo "build: compiling build/$kind with $jobs jobs"
if [[ "$kind" == fuzz ]]; then
  # Only the fuzz targets: the rest of the tree is built and tested by the other two kinds.
  targets=$(ninja -C build/fuzz -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): phony$/\1/p')
  cmake --build build/fuzz -j "$jobs" --target $targets
else
  cmake --build "build/$kind" -j "$jobs"
fi
