#!/usr/bin/env bash
# Installs what Minotaur needs to build, test and run: Debian packages (the toolchain and
# libraries, Chromium, Node.js and npm for the browser test, python3-yaml and systemd's
# systemd-analyze for the deploy recipes' test, dnsmasq for the DNS discovery test, the openssl
# command that the TLS test makes its certificates with, PostgreSQL for the database tests, which
# start servers of their own), then the browser test's npm packages
# in browser/. Idempotent: when everything is already there it checks and returns in well under
# a second, without apt-get update or npm. Needs root (or sudo) only when a Debian package is
# missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libprotobuf-dev protobuf-compiler
  libssl-dev libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev liblmdb-dev libpq-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  chromium
  python3-yaml systemd dnsmasq-base openssl postgresql
)

# One dpkg-query for all of them: "ii " is Debian's short status of an installed package.
installed=" $(dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' "${packages[@]}" 2>/dev/null |
  sed -n 's/^ii *//p' | tr '\n' ' ' || true)"
missing=()
for p in "${packages[@]}"; do
  [[ "$installed" == *" $p "* ]] || missing+=("$p")
done
# Node.js and npm: Debian's nodejs and npm, unless a Node.js that brings its own npm is installed
# already (NodeSource's nodejs package ships npm and conflicts with Debian's npm package).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages, node and npm present"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || {
      echo "install-deps: missing ${missing[*]}; run this script as root or install sudo" >&2
      exit 1
    }
    sudo="sudo"
  fi

  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  echo "install-deps: done"
fi

# The browser test's JavaScript packages (playwright-core drives /usr/bin/chromium; it never
# downloads a browser of its own). Reinstalled only when node_modules is missing or older than
# the lock file.
browser="$root/browser"
if [[ -f "$browser/package.json" ]]; then
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if ((node_major < 20)); then
    echo "install-deps: warning: Node.js $node_major is older than 20, which playwright-core" \
      "(the browser test) needs" >&2
  fi
  lock="$browser/package-lock.json"
  marker="$browser/node_modules/.package-lock.json"  # npm writes it on every install
  if [[ ! -f "$lock" ]]; then
    echo "install-deps: npm install in browser/ (no lock file yet)"
    (cd "$browser" && npm install --no-audit --no-fund)
  elif [[ ! -f "$marker" || "$marker" -ot "$lock" ]]; then
    echo "install-deps: npm ci in browser/"
    (cd "$browser" && npm ci --no-audit --no-fund)
  else
    echo "install-deps: browser/node_modules up to date"
  fi
fi
