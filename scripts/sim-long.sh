#!/usr/bin/env bash
# The simulator's long run: N seeds (default 2,000) in each of eight configurations, one line
# each with the seeds that failed. Needs a release build (scripts/build.sh release).
# Usage: scripts/sim-long.sh [N]    Exit status 1 when any seed failed.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,4p' "$0" | sed 's/^# //'
  exit 0
fi
n="${1:-2000}"
bin="$(dirname "$0")/../build/release/app/minotaur"
[[ -x "$bin" ]] || { echo "no $bin: build it first with scripts/build.sh release" >&2; exit 2; }
status=0
for args in "--no-kills" "--no-stops" "--no-partitions --sync" "" "--sync" "--nodes 5 --games 10" \
  "--data-dirs" "--data-dirs --sync"; do
  started=$SECONDS
  printf 'sim --seeds %s %s: ' "$n" "${args:-(all faults)}"
  # shellcheck disable=SC2086 # the configuration's flags are separate words
  out="$("$bin" sim --seeds "$n" $args 2>&1 | grep -E '^sim seed [0-9]+:' | sed -E 's/^sim seed ([0-9]+):.*/\1/' | tr '\n' ' ' || true)"
  if [[ -n "$out" ]]; then
    status=1
    echo "FAILED seeds: $out($((SECONDS - started)) s; rerun one with --seed S --full-trace)"
  else
    echo "all passed ($((SECONDS - started)) s)"
  fi
done
exit "$status"
