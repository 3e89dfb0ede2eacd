#!/usr/bin/env bash
# Usage: scripts/build-previous.sh [--print-binary]
#
# Builds the previous release's `minotaur` (the commit named in compat/previous) from this
# repository's git history, for the two-build test (CTest label compat) and for
# `minotaur bench --from-binary`. Reused when already built: the build folder records the commit
# it was built from, and only a different commit is built again.
#
# --print-binary: prints where the binary is (or will be) and builds nothing.
#
# The previous build is configured as build/release is (its own CMakeLists.txt's RelWithDebInfo:
# -O2, assertions on), so that figures of the two side by side compare like with like. Only the
# `minotaur` target is built; CMAKE_CXX_COMPILER_LAUNCHER (ccache, say) is honoured as by
# scripts/build.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${MINOTAUR_JOBS:-$(nproc)}

field() {  # field NAME: the value of "NAME value" in compat/previous
  sed -n "s/^$1[[:space:]]\+\([^[:space:]]\+\)[[:space:]]*$/\1/p" compat/previous
}
version=$(field version)
commit=$(field commit)
if [[ -z "$version" || ! "$commit" =~ ^[0-9a-f]{40}$ ]]; then
  echo "build-previous: compat/previous must name a 'version X.Y.Z' and a 40-digit 'commit'" >&2
  exit 2
fi
dir="build/previous-$version"
binary="$root/$dir/build/app/minotaur"
if [[ "${1:-}" == "--print-binary" ]]; then
  echo "$binary"
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "build-previous: unknown argument '$1'; the only one is --print-binary" >&2
  exit 2
fi

if [[ -x "$binary" && "$(cat "$dir/commit" 2>/dev/null)" == "$commit" ]]; then
  echo "build-previous: $version (${commit:0:12}) is built: $binary"
  exit 0
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null &&
  [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
  echo "build-previous: this clone is shallow; fetching its history for release $version"
  git fetch --quiet --unshallow || true
fi
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "build-previous: commit $commit (release $version) is not in this clone." >&2
  echo "  A shallow clone lacks the history: run 'git fetch --unshallow' and try again." >&2
  exit 1
fi

started=$SECONDS
echo "build-previous: building release $version (${commit:0:12}) into $dir"
rm -rf "$dir"
mkdir -p "$dir"
# A checkout of its own (sharing this repository's objects), so that the build names its own
# commit in `minotaur --version` and in the cluster listing.
git clone --quiet --shared --no-checkout "$root" "$dir/src"
git -C "$dir/src" -c advice.detachedHead=false checkout --quiet "$commit"
if ! cmake -S "$dir/src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -Wno-dev \
  >"$dir/configure.log" 2>&1; then
  cat "$dir/configure.log" >&2
  echo "build-previous: configuring release $version failed (above)" >&2
  exit 1
fi
cmake --build "$dir/build" -j "$jobs" --target minotaur
echo "$commit" > "$dir/commit"
echo "build-previous: built $binary in $((SECONDS - started)) s"
"$binary" --version
