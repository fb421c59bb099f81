#!/usr/bin/env bash
# bench/auth: the cost of auth in the gateway, on loopback.
#
# 1. Enforcement: one bulwark in front of an nginx upstream (a small 200), with two routes to the
#    same upstream, /open/ (auth "off") and /secure/ (auth "required", roles ["user"]). wrk runs
#    against each, interleaved, with the same Bearer token on both (a client reusing its token,
#    as real clients do; the same bytes on the wire, so the difference is the enforcement):
#    requests/s, p50, p99 and bulwark's CPU per request, and secure/open (goal: req/s ≥ 0.85×).
# 2. Refresh rotations/s: python3 keep-alive chains (1 and 4 at once by default), each with its
#    own login, doing ROTATIONS sequential rotations with the refresh token the previous one
#    returned; every rotation must succeed. The same client's GET /open/ rate is measured beside
#    it as the client's own ceiling. And the cost of one login (argon2id with the default OWASP
#    parameters dominates).
#
# Usage: bench/auth/run.sh            (from anywhere; paths are relative to the repository)
# Environment:
#   BULWARK_BIN   bulwark binary (default build/bulwark; it is never built here)
#   DURATION      seconds per wrk run (default 5)
#   RUNS          runs per route, worker count and client measurement, interleaved (default 3, ≥ 3)
#   WORKERS       bulwark I/O worker counts to measure (default "1 2")
#   CONNECTIONS   wrk connections (default 50)
#   WRK_THREADS   wrk threads (default 1: the load generator shares the machine's cores)
#   WARMUP        seconds of wrk warm-up per route and worker count (default 1)
#   CHAINS        concurrent client chains for rotations, logins and the GET anchor (default "1 4")
#   ROTATIONS     refresh rotations per chain and run (default 200)
#   LOGINS        logins per chain and run (default 4)
#   CLIENT_DEADLINE  seconds allowed for one client measurement (default 120)
#   KEEP_TMP=1    keep the temporary directory (configs, logs, data directories, every output)
#   BENCH_BULWARK_ARGS  extra arguments for `bulwark serve` (inherited BULWARK_* variables are
#                 not passed on to bulwark, so that the run does not depend on the caller's shell)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO
cd "$REPO"

BULWARK_BIN=${BULWARK_BIN:-build/bulwark}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-"1 2"}
CONNECTIONS=${CONNECTIONS:-50}
WRK_THREADS=${WRK_THREADS:-1}
WARMUP=${WARMUP:-1}
CHAINS=${CHAINS:-"1 4"}
ROTATIONS=${ROTATIONS:-200}
LOGINS=${LOGINS:-4}
CLIENT_DEADLINE=${CLIENT_DEADLINE:-120}
KEEP_TMP=${KEEP_TMP:-0}
BENCH_BULWARK_ARGS=${BENCH_BULWARK_ARGS:-}

BENCH_NAME=bench/auth
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

require_whole_numbers DURATION RUNS CONNECTIONS WRK_THREADS WARMUP ROTATIONS LOGINS CLIENT_DEADLINE
if ((RUNS < 3)); then
  log "RUNS=$RUNS raised to 3: a median needs at least 3 runs"
  RUNS=3
fi
((DURATION >= 1 && ROTATIONS >= 1 && LOGINS >= 1 && CLIENT_DEADLINE >= 1)) \
  || die "DURATION, ROTATIONS, LOGINS and CLIENT_DEADLINE must be at least 1"
for n in $WORKERS; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "WORKERS must list positive whole numbers, got '$WORKERS'"
done
for c in $CHAINS; do
  if ! [[ $c =~ ^[1-9][0-9]*$ ]] || ((c > 64)); then
    die "CHAINS must list whole numbers 1..64, got '$CHAINS'"
  fi
done

bench_require nginx wrk curl pgrep python3
bench_find_nginx
bench_resolve_bulwark
CLIENT="$REPO/bench/auth/client.py"

# --- processes we start (stopped on exit by bench/lib.sh's cleanup) ----------------------------
bench_setup_tmp auth
bench_nginx_user
start_upstream

USER_NAME="bench-$RANDOM$RANDOM"
PASSWORD="bench-password-$RANDOM$RANDOM$RANDOM"   # sign-up needs at least 8 characters

declare -A RPS P50 P99 CPU DISK ERRORS  # key "route:workers" -> space-separated per-run values
declare -A C_RATE C_P50 C_P99 C_CPU  # key "op:workers:chains" -> space-separated per-run values
declare -a BULWARK_LOG_LINES=()     # workers -> lines bulwark logged at warn or above
BULWARK_PID="" PORT="" TOKEN=""

# POST JSON with curl: post_json PATH JSON OUTFILE; echoes the status code.
post_json() {
  curl -s --max-time 30 -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$2" "http://127.0.0.1:$PORT$1" || echo "curl-failed"
}

# GET with an optional Bearer token: get_status PATH OUTFILE [TOKEN]; echoes the status code and
# leaves the headers in OUTFILE.headers.
get_status() {
  local -a auth=()
  [[ -n ${3:-} ]] && auth=(-H "Authorization: Bearer $3")
  curl -s --max-time 5 -o "$2" -D "$2.headers" -w '%{http_code}' "${auth[@]}" \
    "http://127.0.0.1:$PORT$1" || echo "curl-failed"
}

fail_with() {  # fail_with MESSAGE FILE...: prints the files and bulwark's log tail, then dies
  local msg=$1 f
  shift
  for f in "$@"; do [[ -f $f ]] && { log "--- $f"; head -c 2000 "$f" >&2; echo >&2; }; done
  log "--- bulwark log (last 30 lines)"
  tail -n 30 "$TMP/bulwark$N.log" >&2 || true
  die "$msg"
}

start_bulwark() {
  N=$1
  PORT=$(free_port)
  local conf="$TMP/bulwark$N.toml" data="$TMP/data$N"
  mkdir -p "$data"
  chmod 700 "$data"
  cat >"$conf" <<EOF
# bench/auth: the same upstream behind a route without auth and a route that requires it.
listen = "127.0.0.1:$PORT"
log_level = "warn"

[[route]]
prefix   = "/open/"
upstream = "http://127.0.0.1:$UP_PORT"
auth     = "off"
name     = "open"

[[route]]
prefix   = "/secure/"
upstream = "http://127.0.0.1:$UP_PORT"
auth     = "required"
roles    = ["user"]
name     = "secure"
EOF
  bulwark_unset_env
  if ! env "${BULWARK_UNSET_ENV[@]}" BULWARK_DATA_DIR="$data" \
       "$BULWARK_BIN" config check --config "$conf" >"$TMP/config-check$N.log" 2>&1 </dev/null; then
    cat "$TMP/config-check$N.log" >&2
    die "bulwark config check rejected $conf"
  fi
  local -a cmd=("$BULWARK_BIN" serve --config "$conf" --workers "$N")
  # shellcheck disable=SC2206  # extra arguments are split on spaces on purpose
  cmd+=($BENCH_BULWARK_ARGS)
  env "${BULWARK_UNSET_ENV[@]}" BULWARK_DATA_DIR="$data" \
    "${cmd[@]}" >"$TMP/bulwark$N.log" 2>&1 </dev/null &
  BULWARK_PID=$!
  bench_started "$BULWARK_PID"
  log "bulwark: BULWARK_DATA_DIR=$data ${cmd[*]}  (config: $conf)"
  wait_ready "bulwark ($N workers)" "$BULWARK_PID" "$PORT" "$TMP/bulwark$N.log" /open/ready
}

# Register, log in, and check that /secure/ is enforced: 401 without a token or with a forged one,
# 200 and the upstream's body with the token. Sets TOKEN.
check_auth() {
  local d="$TMP/check$N" code body
  mkdir -p "$d"
  code=$(get_status /open/bench "$d/open")
  body=$(cat "$d/open")
  [[ $code == 200 && $body == "hello from upstream" ]] \
    || fail_with "GET /open/bench answered $code '$body', not the upstream's 200" "$d/open.headers"

  code=$(post_json /auth/register "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\"}" "$d/register")
  [[ $code == 201 ]] || fail_with "POST /auth/register answered $code (expected 201)" "$d/register"
  code=$(post_json /auth/login "{\"username\":\"$USER_NAME\",\"password\":\"$PASSWORD\"}" "$d/login")
  [[ $code == 200 ]] || fail_with "POST /auth/login answered $code (expected 200)" "$d/login"
  TOKEN=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_token"])' "$d/login" \
    2>/dev/null) || fail_with "POST /auth/login: no access_token in the answer" "$d/login"
  [[ $TOKEN =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] \
    || fail_with "the access token is not a JWS compact serialization" "$d/login"

  code=$(get_status /secure/bench "$d/secure-none")
  [[ $code == 401 ]] || fail_with "GET /secure/bench without a token answered $code (expected 401)" \
    "$d/secure-none.headers" "$d/secure-none"
  local www
  www=$(awk 'tolower($1) == "www-authenticate:" { sub(/^[^:]*: */, ""); sub(/\r$/, ""); print; exit }' \
    "$d/secure-none.headers")
  [[ $www == Bearer* ]] || log "WARNING: 401 without a token has no 'WWW-Authenticate: Bearer' header (got '$www')"

  # The same token with one signature character changed must be refused too: the token we
  # measure with is really verified.
  local sig=${TOKEN##*.} forged c
  c=${sig:5:1}
  if [[ $c == A ]]; then c=B; else c=A; fi
  forged="${TOKEN%.*}.${sig:0:5}$c${sig:6}"
  code=$(get_status /secure/bench "$d/secure-forged" "$forged")
  [[ $code == 401 ]] || fail_with "GET /secure/bench with a forged signature answered $code (expected 401)" \
    "$d/secure-forged.headers" "$d/secure-forged"

  code=$(get_status /secure/bench "$d/secure-token" "$TOKEN")
  body=$(cat "$d/secure-token")
  [[ $code == 200 && $body == "hello from upstream" ]] \
    || fail_with "GET /secure/bench with the token answered $code '$body', not the upstream's 200" \
      "$d/secure-token.headers"
  log "checks passed ($N workers): /open/ 200; register 201; login 200; /secure/ without a token 401" \
      "(WWW-Authenticate: ${www:-none}), forged 401, with the token 200"
}

# Runs wrk once against ROUTE (open|secure); records req/s, p50, p99 and CPU µs per request.
run_wrk() {
  local route=$1 run=$2 out before after up_before up_after up_conns up_reqs forwarded cpu_us
  local disk_before disk_after disk
  out="$TMP/wrk-$route-w$N-r$run.txt"
  kill -0 "$BULWARK_PID" 2>/dev/null || fail_with "bulwark ($N workers) is no longer running"
  read -r up_conns up_reqs <<<"$(upstream_counters)"
  up_before="$up_conns $up_reqs"
  disk_before=$(du -sb "$TMP/data$N" | cut -f1)
  before=$(cpu_ticks "$BULWARK_PID")
  timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 2s \
    --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/$route/bench" >"$out" 2>&1 \
    || fail_with "wrk failed against /$route/ ($N workers)" "$out"
  after=$(cpu_ticks "$BULWARK_PID")
  up_after=$(upstream_counters)
  disk_after=$(du -sb "$TMP/data$N" | cut -f1)
  kill -0 "$BULWARK_PID" 2>/dev/null || fail_with "bulwark ($N workers) died during the run" "$out"

  parse_wrk "$out"
  cpu_us=$(cpu_us_per_op $((after - before)) "$WRK_REQS")
  # The data directory's growth: the audit trail (ACCESS_GRANTED records) written meanwhile.
  disk=$(awk -v b=$((disk_after - disk_before)) -v r="$WRK_REQS" \
    'BEGIN { if (r == 0) print "NaN"; else printf "%.0f", b / r }')
  local -a ub
  read -r -a ub <<<"$up_before"
  read -r up_conns up_reqs <<<"$up_after"
  up_reqs=$((up_reqs - ub[1] - 1))   # minus our own status request
  forwarded=$(awk -v u="$up_reqs" -v r="$WRK_REQS" 'BEGIN { if (r == 0) print "NaN"; else printf "%.3f", u / r }')

  RPS[$route:$N]+="$WRK_RPS "
  P50[$route:$N]+="$WRK_P50 "
  P99[$route:$N]+="$WRK_P99 "
  CPU[$route:$N]+="$cpu_us "
  DISK[$route:$N]+="$disk "
  local note=""
  [[ -n $WRK_NON2XX ]] && note+=" NON-2XX=$WRK_NON2XX"
  [[ -n $WRK_SOCKERR ]] && note+=" socket-errors($WRK_SOCKERR)"
  # wrk stops with requests in flight, which the upstream has counted: allow a little slack.
  if awk -v f="$forwarded" -v c="$CONNECTIONS" -v r="$WRK_REQS" \
       'BEGIN { exit !(f * r < r || f * r > r + 2 * c) }'; then
    note+=" upstream-saw-${forwarded}x-the-requests"
  fi
  if [[ -n $note ]]; then
    ERRORS[wrk:$route:$N]+="run $run:$note; "
    log "WARNING /$route/ ($N workers) run $run:$note (wrk output: $out)"
  fi
  log "$(printf '/%-7s workers=%s run=%s  %10s req/s  p50 %7s ms  p99 %7s ms  CPU %7s us/req  data dir +%s B/req  (%s requests)%s' \
    "$route/" "$N" "$run" "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$cpu_us" "$disk" "$WRK_REQS" "$note")"
}

# Runs client.py once: run_client OP(get|refresh|login) CHAINS RUN; records ops/s, p50, p99 and
# bulwark's CPU µs per operation (all its threads, from schedstat: these runs are short).
run_client() {
  local op=$1 chains=$2 run=$3 out before after count line
  out="$TMP/client-$op-w$N-c$chains-r$run.txt"
  case $op in
    get) count=$ROTATIONS ;;
    refresh) count=$ROTATIONS ;;
    login) count=$LOGINS ;;
  esac
  kill -0 "$BULWARK_PID" 2>/dev/null || fail_with "bulwark ($N workers) is no longer running"
  before=$(cpu_ns "$BULWARK_PID")
  timeout $((CLIENT_DEADLINE + 30)) python3 "$CLIENT" "$op" --port "$PORT" --chains "$chains" \
    --count "$count" --user "$USER_NAME" --password "$PASSWORD" --deadline "$CLIENT_DEADLINE" \
    >"$out" 2>&1 || fail_with "client.py $op (chains $chains, $N workers) failed" "$out"
  after=$(cpu_ns "$BULWARK_PID")
  line=$(grep '^ops=' "$out" | tail -n1)
  [[ -n $line ]] || fail_with "client.py $op printed no result" "$out"
  local ops per_s p50 p99 reconnects cpu_us
  ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$line")
  per_s=$(sed -n 's/.*per_s=\([0-9.a-z]*\).*/\1/p' <<<"$line")
  p50=$(sed -n 's/.*p50_ms=\([0-9.a-z]*\).*/\1/p' <<<"$line")
  p99=$(sed -n 's/.*p99_ms=\([0-9.a-z]*\).*/\1/p' <<<"$line")
  reconnects=$(sed -n 's/.*reconnects=\([0-9]*\).*/\1/p' <<<"$line")
  # Logins made by `refresh` chains before their timed loop are in this CPU time too: a login's
  # CPU (measured separately) is subtracted for them.
  cpu_us=$(awk -v ns=$((after - before)) -v o="$ops" \
    'BEGIN { if (o == 0) print "NaN"; else printf "%.2f", ns / 1000 / o }')
  if [[ $op == refresh && -n ${LOGIN_CPU_US:-} ]]; then
    cpu_us=$(awk -v c="$cpu_us" -v l="$LOGIN_CPU_US" -v k="$chains" -v o="$ops" \
      'BEGIN { v = c - l * k / o; printf "%.2f", (v < 0 ? 0 : v) }')
  fi
  C_RATE[$op:$N:$chains]+="$per_s "
  C_P50[$op:$N:$chains]+="$p50 "
  C_P99[$op:$N:$chains]+="$p99 "
  C_CPU[$op:$N:$chains]+="$cpu_us "
  if [[ ${reconnects:-0} != 0 ]]; then
    ERRORS[client:$op:$N:$chains]+="run $run: bulwark closed the connection $reconnects times; "
    log "WARNING $op chains=$chains ($N workers) run $run: bulwark closed $reconnects keep-alive connections"
  fi
  log "$(printf '%-7s workers=%s chains=%s run=%s  %9s ops/s  p50 %8s ms  p99 %8s ms  CPU %9s us/op  (%s ops)' \
    "$op" "$N" "$chains" "$run" "$per_s" "$p50" "$p99" "$cpu_us" "$ops")"
}

# --- measure -----------------------------------------------------------------------------------
log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $RUNS runs per route, interleaved;" \
    "$(nproc) CPU(s) shared by wrk, the upstream, bulwark and the client"
for N in $WORKERS; do
  start_bulwark "$N"
  check_auth
  if ((WARMUP > 0)); then
    for route in open secure; do
      timeout $((WARMUP + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 2s \
        -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/$route/bench" \
        >"$TMP/warmup-$route-w$N.txt" 2>&1 \
        || fail_with "warm-up wrk failed against /$route/ ($N workers)" "$TMP/warmup-$route-w$N.txt"
    done
  fi
  for ((run = 1; run <= RUNS; run++)); do
    for route in open secure; do
      run_wrk "$route" "$run"
    done
  done
  # One sequential login first, for the CPU a login costs (subtracted from the refresh chains'
  # CPU, which includes their own logins); then the client measurements, interleaved.
  LOGIN_CPU_US=""
  run_client login 1 0
  # shellcheck disable=SC2086
  LOGIN_CPU_US=$(median ${C_CPU[login:$N:1]})
  C_RATE[login:$N:1]="" C_P50[login:$N:1]="" C_P99[login:$N:1]="" C_CPU[login:$N:1]=""
  for ((run = 1; run <= RUNS; run++)); do
    for c in $CHAINS; do
      run_client get "$c" "$run"
      run_client refresh "$c" "$run"
      run_client login "$c" "$run"
    done
  done
  # Development mode generates an audit key and says so (one warning, expected); anything else
  # bulwark logged at warn or above is reported.
  grep -v 'generated a development audit key' "$TMP/bulwark$N.log" >"$TMP/bulwark$N.unexpected.log" || true
  if [[ -s $TMP/bulwark$N.unexpected.log ]]; then
    BULWARK_LOG_LINES[N]=$(wc -l <"$TMP/bulwark$N.unexpected.log")
    log "bulwark ($N workers) logged ${BULWARK_LOG_LINES[N]} unexpected line(s) at warn or above; first 5:"
    head -n 5 "$TMP/bulwark$N.unexpected.log" >&2
  fi
  stop_pid "$BULWARK_PID"
done

# --- report ------------------------------------------------------------------------------------
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  COMMIT+=" (uncommitted changes in the tree)"
fi
echo
echo "bench/auth: $(date -u '+%Y-%m-%d %H:%M UTC'), bulwark $BULWARK_BIN, repository at commit $COMMIT," \
     "$(nproc) CPUs, loopback; load average $(cut -d' ' -f1-3 /proc/loadavg); upstream: nginx, 2 workers"
echo
echo "#### Enforcement: /secure/ (auth required) against /open/ (auth off), same upstream"
echo
echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, the same Bearer token on both routes;" \
     "median of $RUNS interleaved runs"
echo
echo "| workers | route    | req/s (median) | p50 ms | p99 ms | CPU µs/req (median) |"
echo "|--------:|----------|---------------:|-------:|-------:|--------------------:|"
declare -A MED
for n in $WORKERS; do
  for route in open secure; do
    # Word splitting of the space-separated per-run lists is intended.
    # shellcheck disable=SC2086
    {
      MED[rps:$route:$n]=$(median ${RPS[$route:$n]})
      MED[p50:$route:$n]=$(median ${P50[$route:$n]})
      MED[p99:$route:$n]=$(median ${P99[$route:$n]})
      MED[cpu:$route:$n]=$(median ${CPU[$route:$n]})
      MED[disk:$route:$n]=$(median ${DISK[$route:$n]})
    }
    printf '| %7s | %-8s | %14.0f | %6.3f | %6.3f | %19.1f |\n' "$n" "/$route/" \
      "${MED[rps:$route:$n]}" "${MED[p50:$route:$n]}" "${MED[p99:$route:$n]}" "${MED[cpu:$route:$n]}"
  done
done
echo
for n in $WORKERS; do
  r_rps=$(ratio "${MED[rps:secure:$n]}" "${MED[rps:open:$n]}")
  r_p99=$(ratio "${MED[p99:secure:$n]}" "${MED[p99:open:$n]}")
  r_cpu=$(ratio "${MED[cpu:secure:$n]}" "${MED[cpu:open:$n]}")
  d_cpu=$(awk -v s="${MED[cpu:secure:$n]}" -v o="${MED[cpu:open:$n]}" 'BEGIN { printf "%+.1f", s - o }')
  g_rps=$(awk -v r="$r_rps" 'BEGIN { print (r + 0 >= 0.85) ? "met" : "NOT met" }')
  echo "- $n worker(s): secure/open req/s ${r_rps}× (goal ≥ 0.85×: $g_rps); p99 ${r_p99}×;" \
       "CPU µs/req ${r_cpu}× (${d_cpu} µs per request for enforcement); data directory (audit trail)" \
       "+${MED[disk:secure:$n]} bytes per /secure/ request, +${MED[disk:open:$n]} per /open/ request"
done
echo
echo "#### Refresh rotations and logins (python3 http.client keep-alive chains)"
echo
echo "Each chain: its own connection and login; rotations: $ROTATIONS sequential per chain, each with" \
     "the previous answer's refresh token; logins: $LOGINS sequential per chain; GET /open/: the same" \
     "client's ceiling. Median of $RUNS interleaved runs; bulwark CPU per operation from /proc."
echo
echo "| workers | operation        | chains | ops/s (median) | p50 ms | p99 ms | bulwark CPU µs/op |"
echo "|--------:|------------------|-------:|---------------:|-------:|-------:|------------------:|"
for n in $WORKERS; do
  for c in $CHAINS; do
    for op in get refresh login; do
      # shellcheck disable=SC2086
      {
        MED[rate:$op:$n:$c]=$(median ${C_RATE[$op:$n:$c]})
        MED[p50:$op:$n:$c]=$(median ${C_P50[$op:$n:$c]})
        MED[p99:$op:$n:$c]=$(median ${C_P99[$op:$n:$c]})
        MED[cpu:$op:$n:$c]=$(median ${C_CPU[$op:$n:$c]})
      }
      case $op in
        get) label="GET /open/" ;;
        refresh) label="refresh rotation" ;;
        login) label="login" ;;
      esac
      printf '| %7s | %-16s | %6s | %14.1f | %6.2f | %6.2f | %17.0f |\n' "$n" "$label" "$c" \
        "${MED[rate:$op:$n:$c]}" "${MED[p50:$op:$n:$c]}" "${MED[p99:$op:$n:$c]}" "${MED[cpu:$op:$n:$c]}"
    done
  done
done
echo
first_c=${CHAINS%% *}
for n in $WORKERS; do
  for c in $CHAINS; do
    echo "- $n worker(s), $c chain(s): $(printf '%.0f' "${MED[rate:refresh:$n:$c]}") rotations/s" \
         "= $(ratio "${MED[rate:refresh:$n:$c]}" "${MED[rate:get:$n:$c]}")× the same client's GET /open/ rate;" \
         "$(printf '%.1f' "${MED[rate:login:$n:$c]}") logins/s"
  done
  echo "- $n worker(s): one login costs $(printf '%.1f' "${MED[p50:login:$n:$first_c]}") ms" \
       "(median, $first_c chain(s)) and $(printf '%.0f' "${MED[cpu:login:$n:$first_c]}") µs of bulwark CPU;" \
       "one rotation $(printf '%.2f' "${MED[p50:refresh:$n:$first_c]}") ms and" \
       "$(printf '%.0f' "${MED[cpu:refresh:$n:$first_c]}") µs of CPU (login/rotation CPU:" \
       "$(ratio "${MED[cpu:login:$n:$first_c]}" "${MED[cpu:refresh:$n:$first_c]}")×)"
done
status=0
for key in "${!ERRORS[@]}"; do
  echo "- ERRORS ($key): ${ERRORS[$key]}"
  status=1
done
for n in "${!BULWARK_LOG_LINES[@]}"; do
  echo "- note: bulwark ($n workers) logged ${BULWARK_LOG_LINES[$n]} unexpected line(s) at warn or above" \
       "(kept in $TMP/bulwark$n.log)"
  KEEP_TMP=1
done
if ((status)); then
  echo "- some runs had non-2xx responses, socket errors or closed connections: the numbers above" \
       "are not comparable"
  KEEP_TMP=1
fi
exit "$status"
