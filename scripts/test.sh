#!/usr/bin/env bash
# Installs, builds (warnings are errors) and runs the whole test suite, then a short run of every
# libFuzzer target. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-tests
scripts/build.sh -DBULWARK_WERROR=ON -DBULWARK_TESTS=ON
# The production-backend tests run against a real PostgreSQL and Redis (TLS, passwords), started
# here on loopback and stopped on exit; BULWARK_TEST_REQUIRE_SERVICES makes those tests fail
# instead of skipping when the services are missing.
services_dir=$(mktemp -d /tmp/bulwark-services.XXXXXX)
trap 'tests/support/services.sh stop "$services_dir"; rm -rf "$services_dir"' EXIT
tests/support/services.sh start "$services_dir"
# shellcheck disable=SC1091
source "$services_dir/env"
export BULWARK_TEST_REQUIRE_SERVICES=1
(cd build && ctest --output-on-failure -j2 --timeout 300)

# Fuzz targets: built with clang and sanitizers in their own tree, run briefly.
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBULWARK_FUZZ=ON -DBULWARK_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"${JOBS:-2}" --target fuzz_targets
for target in fuzz/*/; do
  name=$(basename "$target")
  [[ -f "$target/fuzz.cc" ]] || continue
  echo "fuzzing $name for ${FUZZ_SECONDS:-30}s"
  work=$(mktemp -d)
  cp "$target"/corpus/* "$work"/ 2>/dev/null || true
  dict=()
  for d in "$target"/*.dict; do [[ -f "$d" ]] && dict=(-dict="$d"); done
  "build-fuzz/fuzz_$name" -max_total_time="${FUZZ_SECONDS:-30}" "${dict[@]}" "$work" 2>&1 | tail -3
  rm -rf "$work"
done
echo "all tests passed"
