#!/usr/bin/env bash
# Installs the Debian packages arkv needs to build and test. Idempotent: only
# missing packages are installed.
set -euo pipefail
packages=(
  cmake ninja-build g++ pkg-config git ca-certificates
  libhwy-dev libfmt-dev libcli11-dev nlohmann-json3-dev libpcre2-dev
  libcurl4-openssl-dev libssl-dev libarchive-dev libfriso-dev friso-dict libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format clang-tidy xz-utils curl
)
# The end-to-end tests (tests/e2e) run on Node with npm. A node that is
# already installed (e.g. from NodeSource, which brings its own npm) is kept:
# Debian's npm package would conflict with it.
if ! command -v node >/dev/null; then
  packages+=(nodejs npm)
elif ! command -v npm >/dev/null; then
  packages+=(npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || echo "setup: apt-get update failed; trying the install anyway"
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
