#!/usr/bin/env bash
# Installs the Debian 12 packages bulwark builds, tests and benchmarks with. Idempotent: only
# missing packages are installed, and `apt-get update` runs only when something is missing.
set -euo pipefail

build_packages=(
  cmake ninja-build ccache g++ pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsodium-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libmimalloc-dev libsqlite3-dev libpq-dev libhiredis-dev
)
test_packages=(libgtest-dev libgmock-dev clang libclang-rt-14-dev openssl curl python3
  postgresql-15 postgresql-client-15 redis-server redis-tools)

want=("${build_packages[@]}")
if [[ "${1:-}" == "--with-tests" ]]; then want+=("${test_packages[@]}"); fi

missing=()
for package in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
