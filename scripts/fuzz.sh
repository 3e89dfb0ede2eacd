#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS] — runs every libFuzzer target in build/fuzz for SECONDS each
# (default 20), starting from its seed corpus in fuzz/corpus/NAME. Build them first with
# scripts/build.sh fuzz. A crash stops the run and leaves the input as build/fuzz/crash-*;
# reproduce it with build/fuzz/bin/NAME build/fuzz/crash-HASH.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
targets=$(find build/fuzz -maxdepth 3 -type f -name 'fuzz_*' -perm -u+x | sort)
[[ -n "$targets" ]] || { echo "fuzz.sh: no targets in build/fuzz; run scripts/build.sh fuzz" >&2; exit 1; }
for t in $targets; do
  name=$(basename "$t")
  work="build/fuzz/corpus-work/$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${seconds}s"
  (cd build/fuzz && "../../$t" -max_total_time="$seconds" -print_final_stats=0 \
      -artifact_prefix="crash-$name-" "../../$work" "../../fuzz/corpus/$name" 2>&1 | tail -n 3)
done
echo "fuzz: all targets ran without a crash"
