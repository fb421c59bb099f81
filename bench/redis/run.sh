#!/usr/bin/env bash
# bench/redis: bulwark's Redis client beside redis-benchmark (the anchor) on the same TLS server,
# in the same run. Needs the env of tests/support/services.sh and a build with -DBULWARK_BENCH=ON.
#   bench/redis/run.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR}
: "${BULWARK_TEST_REDIS_URL:?source the env file of tests/support/services.sh}"
"$build/bench/bench_redis" --seconds 3
echo
echo "anchor: redis-benchmark --tls (PING_MBULK; -P 1 is one at a time per connection)"
for pipeline in 1 64; do
  redis-benchmark --tls --cacert "$BULWARK_TEST_CA" -h localhost -p "$BULWARK_TEST_REDIS_PORT" \
    --user bulwark -a "$BULWARK_TEST_REDIS_PASSWORD" -c 4 -P "$pipeline" -n 200000 -t ping -q \
    2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1 | sed "s/^/-P $pipeline: /"
done
