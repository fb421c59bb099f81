#!/usr/bin/env bash
# bench/cluster: authenticated proxied requests/s with two bulwark nodes against one node, both on
# the same PostgreSQL and Redis (issue 5), on loopback.
#
# One nginx upstream (a small 200) behind a route /secure/ (auth "required", roles ["user"]).
# Node A starts on PostgreSQL (its own schema, created here and dropped on exit) and Redis (its own
# key prefix), a user registers and logs in on it, and wrk measures /secure/ with that user's
# access token. Node B starts on the same database, Redis and key ring; the token signed by A must
# be accepted by B. Then, interleaved RUNS times:
#   one node:            one wrk, CONNECTIONS connections, against A (B runs, idle);
#   one node, two wrk:   two wrk at once, CONNECTIONS/2 connections each, both against A (the
#                        control: the same load generators as the two-node case);
#   two nodes:           two wrk at once, CONNECTIONS/2 connections each, one per node.
# req/s of simultaneous wrk processes are summed. Reported: medians of req/s, p50 and p99 (with two
# wrk: the slower one's), the ratios two nodes / one node, and the CPU of both bulwark processes
# per request (/proc, every thread). Every answer must be 200: a run with non-2xx answers stops the
# benchmark.
#
# Usage: source /tmp/svc/env; bench/cluster/run.sh     (from anywhere)
# Environment:
#   DATABASE_URL  PostgreSQL URL (default $BULWARK_TEST_DATABASE_URL: verify-full TLS, client cert)
#   REDIS_URL     Redis URL (default $BULWARK_TEST_REDIS_URL, rediss://)
#   REDIS_CA      CA file that verifies Redis (default $BULWARK_TEST_CA)
#   BULWARK_BIN   bulwark binary (default build/bulwark; it is never built here)
#   DURATION      seconds per wrk run (default 5)
#   RUNS          runs of each configuration, interleaved (default 3, ≥ 3)
#   CONNECTIONS   total wrk connections, split evenly between the nodes in the two-node runs
#                 (default 50, even)
#   WRK_THREADS   threads per wrk process (default 1: the load generator shares the machine's cores)
#   WARMUP        seconds of wrk warm-up per configuration (default 1)
#   KEEP_TMP=1    keep the temporary directory (configs, logs, data directories, every output)
#   BENCH_BULWARK_ARGS  extra arguments for `bulwark serve` on both nodes (inherited BULWARK_*
#                 variables are not passed on to bulwark, so that the run does not depend on the
#                 caller's shell)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO
cd "$REPO"

DATABASE_URL=${DATABASE_URL:-${BULWARK_TEST_DATABASE_URL:-}}
REDIS_URL=${REDIS_URL:-${BULWARK_TEST_REDIS_URL:-}}
REDIS_CA=${REDIS_CA:-${BULWARK_TEST_CA:-}}
BULWARK_BIN=${BULWARK_BIN:-build/bulwark}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-50}
WRK_THREADS=${WRK_THREADS:-1}
WARMUP=${WARMUP:-1}
KEEP_TMP=${KEEP_TMP:-0}
BENCH_BULWARK_ARGS=${BENCH_BULWARK_ARGS:-}

BENCH_NAME=bench/cluster
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

require_whole_numbers DURATION RUNS CONNECTIONS WRK_THREADS WARMUP
if ((RUNS < 3)); then
  log "RUNS=$RUNS raised to 3: a median needs at least 3 runs"
  RUNS=3
fi
((DURATION >= 1)) || die "DURATION must be at least 1"
((WRK_THREADS >= 1)) || die "WRK_THREADS must be at least 1"
((CONNECTIONS >= 2 && CONNECTIONS % 2 == 0)) || die "CONNECTIONS must be even and at least 2"
HALF=$((CONNECTIONS / 2))
((HALF >= WRK_THREADS)) || die "CONNECTIONS/2 ($HALF) must be at least WRK_THREADS ($WRK_THREADS)"
[[ -n $DATABASE_URL ]] || die "DATABASE_URL is empty (source /tmp/svc/env, or set DATABASE_URL)"
[[ -n $REDIS_URL ]] || die "REDIS_URL is empty (source /tmp/svc/env, or set REDIS_URL)"
[[ -z $REDIS_CA || -r $REDIS_CA ]] || die "REDIS_CA '$REDIS_CA' is not a readable file"

bench_require nginx wrk curl pgrep python3
command -v psql >/dev/null || die "psql not found (Debian: apt-get install postgresql-client)"
bench_find_nginx
bench_resolve_bulwark

# --- cleanup: stop the nodes, then drop the schema and the Redis keys ----------------------------
SCHEMA="bench_cluster_$(date +%s)_$RANDOM"
SCHEMA_CREATED=0
PREFIX="bench-$RANDOM$RANDOM:"

psql_run() {  # psql_run SQL: bounded, quiet, fails on the first error
  timeout 30 psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtc "$1"
}

# Deletes the keys this run left in Redis (bounded; the security keys expire anyway).
# shellcheck disable=SC2317  # invoked from cluster_cleanup, through the EXIT trap
redis_forget() {
  command -v redis-cli >/dev/null || return 0
  local -a cli=(redis-cli -u "$REDIS_URL" --no-auth-warning)
  [[ $REDIS_URL == rediss://* ]] && cli+=(--tls)
  [[ -n $REDIS_CA ]] && cli+=(--cacert "$REDIS_CA")
  local keys
  keys=$(timeout 20 "${cli[@]}" --scan --pattern "${PREFIX}*" 2>/dev/null) || return 0
  [[ -n $keys ]] || return 0
  # shellcheck disable=SC2086  # one key per word; the prefix has no spaces
  timeout 20 "${cli[@]}" del $keys >/dev/null 2>&1 || log "could not delete the Redis keys ${PREFIX}*"
}

# shellcheck disable=SC2317  # invoked through the EXIT trap
cluster_cleanup() {
  local rc=$? i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${STARTED_PIDS[i]}"
  done
  if ((SCHEMA_CREATED)); then
    psql_run "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1 \
      || log "could not drop the PostgreSQL schema $SCHEMA: drop it by hand"
  fi
  redis_forget
  (exit "$rc")
  cleanup  # bench/lib.sh: the temporary directory, and exit with rc
}

bench_setup_tmp cluster
trap cluster_cleanup EXIT
bench_nginx_user
start_upstream

psql_run "CREATE SCHEMA $SCHEMA" >"$TMP/psql-create.log" 2>&1 \
  || { cat "$TMP/psql-create.log" >&2; die "cannot create the schema $SCHEMA at DATABASE_URL"; }
SCHEMA_CREATED=1
if [[ $DATABASE_URL == *\?* ]]; then NODE_DB_URL="$DATABASE_URL&options=-csearch_path%3D$SCHEMA"
else NODE_DB_URL="$DATABASE_URL?options=-csearch_path%3D$SCHEMA"; fi
log "PostgreSQL schema $SCHEMA; Redis key prefix $PREFIX"

KEYS_DIR="$TMP/keys"
mkdir -p "$KEYS_DIR"
chmod 700 "$KEYS_DIR"
CONF="$TMP/bulwark.toml"
cat >"$CONF" <<EOF
# bench/cluster: one protected route; listen, database, Redis and keys come from the environment.
log_level = "warn"

[[route]]
prefix   = "/secure/"
upstream = "http://127.0.0.1:$UP_PORT"
auth     = "required"
roles    = ["user"]
name     = "secure"
EOF

USER_NAME="bench-$RANDOM$RANDOM"
PASSWORD="bench-password-$RANDOM$RANDOM$RANDOM"   # sign-up needs at least 8 characters
declare -A PORT PID
declare -A RPS P50 P99 CPU REQS ERRORS  # key "one|one2|two" -> space-separated per-run values
TOKEN=""

fail_with() {  # fail_with MESSAGE FILE...: prints the files and both nodes' log tails, then dies
  local msg=$1 f n
  shift
  for f in "$@"; do [[ -f $f ]] && { log "--- $f"; head -c 2000 "$f" >&2; echo >&2; }; done
  for n in a b; do
    [[ -f $TMP/node-$n.log ]] || continue
    log "--- node $n log (last 20 lines)"
    tail -n 20 "$TMP/node-$n.log" >&2 || true
  done
  die "$msg"
}

node_env() {  # the environment of a node: nothing inherited from BULWARK_*, the shared backends
  local n=$1
  bulwark_unset_env
  NODE_ENV=("${BULWARK_UNSET_ENV[@]}"
    BULWARK_LISTEN="127.0.0.1:${PORT[$n]}"
    BULWARK_NODE_ID="bench-node-$n"
    BULWARK_DATA_DIR="$TMP/data-$n"
    BULWARK_KEYS_DIR="$KEYS_DIR"
    BULWARK_DATABASE_URL="$NODE_DB_URL"
    BULWARK_REDIS_URL="$REDIS_URL"
    BULWARK_REDIS_KEY_PREFIX="$PREFIX")
  [[ -n $REDIS_CA ]] && NODE_ENV+=(BULWARK_REDIS_CA_FILE="$REDIS_CA")
  return 0
}

# start_node a|b: starts a node and waits (at most 60 s) for /readyz to answer 200.
start_node() {
  local n=$1 i code
  PORT[$n]=$(free_port)
  mkdir -p "$TMP/data-$n"
  chmod 700 "$TMP/data-$n"
  node_env "$n"
  if ! env "${NODE_ENV[@]}" "$BULWARK_BIN" config check --config "$CONF" \
       >"$TMP/config-check-$n.log" 2>&1 </dev/null; then
    cat "$TMP/config-check-$n.log" >&2
    die "bulwark config check refused the configuration of node $n"
  fi
  local -a cmd=("$BULWARK_BIN" serve --config "$CONF" --workers 1
                --argon2-memory 8MiB --argon2-iterations 1)
  # shellcheck disable=SC2206  # extra arguments are split on spaces on purpose
  cmd+=($BENCH_BULWARK_ARGS)
  env "${NODE_ENV[@]}" "${cmd[@]}" >"$TMP/node-$n.log" 2>&1 </dev/null &
  PID[$n]=$!
  bench_started "${PID[$n]}"
  log "node $n: 127.0.0.1:${PORT[$n]}, ${cmd[*]}"
  for ((i = 0; i < 600; i++)); do
    kill -0 "${PID[$n]}" 2>/dev/null || fail_with "node $n exited during start-up"
    code=$(curl -s -o "$TMP/readyz-$n.json" -w '%{http_code}' --max-time 1 \
      "http://127.0.0.1:${PORT[$n]}/readyz" 2>/dev/null) || code=000
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  fail_with "node $n not ready (GET /readyz: $code) within 60 s" "$TMP/readyz-$n.json"
}

post_json() {  # post_json NODE PATH JSON OUTFILE; echoes the status code
  curl -s --max-time 30 -o "$4" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$3" "http://127.0.0.1:${PORT[$1]}$2" || echo "curl-failed"
}
get_status() {  # get_status NODE PATH OUTFILE [TOKEN]; echoes the status code
  local -a auth=()
  [[ -n ${4:-} ]] && auth=(-H "Authorization: Bearer $4")
  curl -s --max-time 5 -o "$3" -w '%{http_code}' "${auth[@]}" \
    "http://127.0.0.1:${PORT[$1]}$2" || echo "curl-failed"
}

# check_node NODE: /secure/ answers 401 without a token and the upstream's 200 with TOKEN.
check_node() {
  local n=$1 code body
  code=$(get_status "$n" /secure/x "$TMP/check-$n-none")
  [[ $code == 401 ]] || fail_with "node $n: GET /secure/x without a token answered $code (expected 401)" \
    "$TMP/check-$n-none"
  code=$(get_status "$n" /secure/x "$TMP/check-$n-token" "$TOKEN")
  body=$(cat "$TMP/check-$n-token")
  [[ $code == 200 && $body == "hello from upstream" ]] \
    || fail_with "node $n: GET /secure/x with the token answered $code '$body', not the upstream's 200"
}

# Saves both nodes' /metrics and prints their request counts by status and their warnings: what
# the non-2xx answers were.
dump_metrics() {
  local n
  for n in a b; do
    curl -s --max-time 5 -o "$TMP/metrics-$n.txt" "http://127.0.0.1:${PORT[$n]}/metrics" || continue
    log "--- node $n: /metrics, requests by status (all in $TMP/metrics-$n.txt)"
    grep -E '^bulwark_requests_total' "$TMP/metrics-$n.txt" >&2 || true
    log "--- node $n: log lines other than the audit key's"
    grep -v 'generated a development audit key' "$TMP/node-$n.log" >&2 || true
  done
}

# wrk_start NAME NODE CONNS SECONDS: starts wrk in the background; sets WRK_PID.
wrk_start() {
  local name=$1 n=$2 conns=$3 secs=$4
  timeout $((secs + 30)) wrk -t"$WRK_THREADS" -c"$conns" -d"${secs}s" --timeout 2s --latency \
    -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:${PORT[$n]}/secure/x" \
    >"$TMP/$name.txt" 2>&1 </dev/null &
  WRK_PID=$!
}

# measure one|one2|two RUN: one wrk against A (one); two wrk at once against A, CONNECTIONS/2
# each (one2: the control, the same load generators as two); two wrk at once, one against A and
# one against B (two). Records the results.
measure() {
  local mode=$1 run=$2 before after n rps=0 p50=0 p99=0 reqs=0 note="" cpu_us i conns
  local -a nodes pids=() outs=()
  case $mode in
    one) nodes=(a); conns=$CONNECTIONS ;;
    one2) nodes=(a a); conns=$HALF ;;
    two) nodes=(a b); conns=$HALF ;;
  esac
  for n in a b; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail_with "node $n is no longer running"
  done
  before=$(cpu_ticks "${PID[a]}" "${PID[b]}")
  for i in "${!nodes[@]}"; do
    outs+=("$TMP/wrk-$mode-r$run-$i-${nodes[i]}.txt")
    wrk_start "wrk-$mode-r$run-$i-${nodes[i]}" "${nodes[i]}" "$conns" "$DURATION"
    pids+=("$WRK_PID")
  done
  local failed=0
  for i in "${!pids[@]}"; do
    wait "${pids[i]}" || { failed=1; log "wrk against node ${nodes[i]} failed"; }
  done
  after=$(cpu_ticks "${PID[a]}" "${PID[b]}")
  ((failed == 0)) || fail_with "wrk failed ($mode, run $run)" "${outs[@]}"
  for n in a b; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail_with "node $n died during run $run ($mode)"
  done
  for i in "${!nodes[@]}"; do
    n=${nodes[i]}
    parse_wrk "${outs[i]}"
    [[ -z $WRK_NON2XX ]] || dump_metrics
    [[ -z $WRK_NON2XX ]] \
      || fail_with "node $n answered $WRK_NON2XX non-2xx responses in run $run ($mode):" \
           "every authenticated request must get the upstream's 200" "${outs[i]}"
    [[ -n $WRK_SOCKERR ]] && note+=" node $n socket errors ($WRK_SOCKERR)"
    rps=$(awk -v a="$rps" -v b="$WRK_RPS" 'BEGIN { printf "%.2f", a + b }')
    reqs=$((reqs + WRK_REQS))
    p50=$(awk -v a="$p50" -v b="$WRK_P50" 'BEGIN { print (b > a ? b : a) }')
    p99=$(awk -v a="$p99" -v b="$WRK_P99" 'BEGIN { print (b > a ? b : a) }')
  done
  cpu_us=$(cpu_us_per_op $((after - before)) "$reqs")
  RPS[$mode]+="$rps "
  P50[$mode]+="$p50 "
  P99[$mode]+="$p99 "
  CPU[$mode]+="$cpu_us "
  REQS[$mode]+="$reqs "
  if [[ -n $note ]]; then
    ERRORS[$mode]+="run $run:$note; "
    log "WARNING $mode run $run:$note"
  fi
  log "$(printf '%-4s run=%s  %10s req/s  p50 %7s ms  p99 %7s ms  CPU %7s us/req  (%s requests)%s' \
    "$mode" "$run" "$rps" "$p50" "$p99" "$cpu_us" "$reqs" "$note")"
}

# --- node A, the user, node B ------------------------------------------------------------------
start_node a
code=$(post_json a /auth/register "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\"}" "$TMP/register")
[[ $code == 201 ]] || fail_with "POST /auth/register answered $code (expected 201)" "$TMP/register"
code=$(post_json a /auth/login "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\"}" "$TMP/login")
[[ $code == 200 ]] || fail_with "POST /auth/login answered $code (expected 200)" "$TMP/login"
TOKEN=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_token"])' "$TMP/login" \
  2>/dev/null) || fail_with "POST /auth/login: no access_token in the answer" "$TMP/login"
[[ $TOKEN =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] \
  || fail_with "the access token is not a JWS compact serialization" "$TMP/login"
check_node a
if ((WARMUP > 0)); then
  wrk_start warmup-one a "$CONNECTIONS" "$WARMUP"
  wait "$WRK_PID" || fail_with "warm-up wrk failed against node A" "$TMP/warmup-one.txt"
fi

start_node b
check_node b   # B verifies A's token: the same key ring, the same users and revocations
log "checks passed: /secure/ 401 without a token and 200 with node A's token, on both nodes"
if ((WARMUP > 0)); then
  wrk_start warmup-two-a a "$HALF" "$WARMUP"
  wa=$WRK_PID
  wrk_start warmup-two-b b "$HALF" "$WARMUP"
  wait "$wa" || fail_with "warm-up wrk failed against node A" "$TMP/warmup-two-a.txt"
  wait "$WRK_PID" || fail_with "warm-up wrk failed against node B" "$TMP/warmup-two-b.txt"
fi

# --- measure -----------------------------------------------------------------------------------
log "wrk -t$WRK_THREADS -c$CONNECTIONS (two nodes: 2 × -c$HALF) -d${DURATION}s --latency, $RUNS runs" \
    "each, interleaved; $(nproc) CPU(s) shared by wrk, the upstream and both nodes"
for ((run = 1; run <= RUNS; run++)); do
  measure one "$run"
  measure one2 "$run"
  measure two "$run"
done

declare -A LOGGED
for n in a b; do
  # Development mode generates an audit key and says so (expected); anything else is reported.
  grep -v 'generated a development audit key' "$TMP/node-$n.log" >"$TMP/node-$n.unexpected.log" || true
  LOGGED[$n]=$(wc -l <"$TMP/node-$n.unexpected.log")
  if ((LOGGED[$n] > 0)); then
    log "node $n logged ${LOGGED[$n]} unexpected line(s) at warn or above; first 5:"
    head -n 5 "$TMP/node-$n.unexpected.log" >&2
  fi
done

# --- report ------------------------------------------------------------------------------------
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  COMMIT+=" (uncommitted changes in the tree)"
fi
echo
echo "bench/cluster: $(date -u '+%Y-%m-%d %H:%M UTC'), bulwark $BULWARK_BIN, repository at commit $COMMIT," \
     "$(nproc) CPUs, loopback; load average $(cut -d' ' -f1-3 /proc/loadavg); upstream: nginx, 2 workers;" \
     "PostgreSQL and Redis over TLS"
echo
echo "wrk -t$WRK_THREADS -d${DURATION}s --latency on /secure/ (auth required, one user's Bearer token);" \
     "one node: -c$CONNECTIONS against A; one node, two wrk: 2 × -c$HALF against A; two nodes: -c$HALF" \
     "against each at once; req/s of simultaneous wrk summed, p50/p99 of the slower one; CPU of both" \
     "bulwark processes; median of $RUNS interleaved runs"
echo
echo "| nodes | wrk processes | req/s (median) | p50 ms | p99 ms | CPU µs/req (median) |"
echo "|------:|--------------:|---------------:|-------:|-------:|--------------------:|"
declare -A MED
for mode in one one2 two; do
  # shellcheck disable=SC2086  # word splitting of the per-run lists is intended
  {
    MED[rps:$mode]=$(median ${RPS[$mode]})
    MED[p50:$mode]=$(median ${P50[$mode]})
    MED[p99:$mode]=$(median ${P99[$mode]})
    MED[cpu:$mode]=$(median ${CPU[$mode]})
  }
  case $mode in
    one) label="1 1" ;;
    one2) label="1 2" ;;
    two) label="2 2" ;;
  esac
  # shellcheck disable=SC2086  # "nodes wrk-processes"
  printf '| %5s | %13s | %14.0f | %6.3f | %6.3f | %19.1f |\n' $label \
    "${MED[rps:$mode]}" "${MED[p50:$mode]}" "${MED[p99:$mode]}" "${MED[cpu:$mode]}"
done
echo
echo "- two nodes / one node (one wrk): req/s $(ratio "${MED[rps:two]}" "${MED[rps:one]}")×;" \
     "p99 $(ratio "${MED[p99:two]}" "${MED[p99:one]}")×; CPU µs/req $(ratio "${MED[cpu:two]}" "${MED[cpu:one]}")×"
echo "- two nodes / one node (two wrk each): req/s $(ratio "${MED[rps:two]}" "${MED[rps:one2]}")×;" \
     "p99 $(ratio "${MED[p99:two]}" "${MED[p99:one2]}")×; CPU µs/req $(ratio "${MED[cpu:two]}" "${MED[cpu:one2]}")×"
echo "- per run, req/s: one node ${RPS[one]% }; one node, two wrk ${RPS[one2]% }; two nodes ${RPS[two]% }"
status=0
for key in "${!ERRORS[@]}"; do
  echo "- ERRORS ($key): ${ERRORS[$key]}"
  status=1
done
for n in a b; do
  if ((LOGGED[$n] > 0)); then
    echo "- note: node $n logged ${LOGGED[$n]} unexpected line(s) at warn or above (kept in $TMP/node-$n.log)"
    KEEP_TMP=1
  fi
done
if ((status)); then
  echo "- some runs had socket errors: the numbers above are not comparable"
  KEEP_TMP=1
fi
exit "$status"
