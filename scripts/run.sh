#!/usr/bin/env bash
# The one command that installs what is needed, builds, and starts the local cluster with the
# browser game on http://127.0.0.1:8080. Arguments go to `minotaur local` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
exec build/release/app/minotaur local "$@"
