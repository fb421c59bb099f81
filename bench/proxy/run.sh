#!/usr/bin/env bash
# bench/proxy: requests/s, latency and CPU per request of bulwark against nginx, both reverse
# proxies on loopback in front of the same nginx upstream, with equal worker counts, measured
# interleaved in the same run. See bench/proxy/README.md for what it measures and the caveats.
#
# Usage: bench/proxy/run.sh            (from anywhere; paths are relative to the repository)
# Environment:
#   BULWARK_BIN   bulwark binary (default build/bulwark; it is never built here)
#   DURATION      seconds per wrk run (default 5)
#   RUNS          runs per proxy and worker count, interleaved (default 3, at least 3)
#   WORKERS       worker counts to measure (default "1 2")
#   CONNECTIONS   wrk connections (default 50)
#   WRK_THREADS   wrk threads (default 1: the load generator shares the machine's cores)
#   WARMUP        seconds of warm-up per proxy and worker count (default 1)
#   KEEP_TMP=1    keep the temporary directory (configs, logs, every wrk output)
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
KEEP_TMP=${KEEP_TMP:-0}
BENCH_BULWARK_ARGS=${BENCH_BULWARK_ARGS:-}

BENCH_NAME=bench/proxy
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

require_whole_numbers DURATION RUNS CONNECTIONS WRK_THREADS WARMUP
if ((RUNS < 3)); then
  log "RUNS=$RUNS raised to 3: a median needs at least 3 runs"
  RUNS=3
fi
for n in $WORKERS; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "WORKERS must list positive whole numbers, got '$WORKERS'"
done

# --- dependencies ------------------------------------------------------------------------------
bench_require nginx wrk curl pgrep
bench_find_nginx
bench_resolve_bulwark

# --- processes we start (stopped on exit by bench/lib.sh's cleanup) ----------------------------
bench_setup_tmp proxy
bench_nginx_user

# --- upstream ----------------------------------------------------------------------------------
start_upstream

# Does this bulwark take settings as flags too? Environment variables always work (SPEC F6.3).
BULWARK_FLAGS_SUPPORTED=0
if "$BULWARK_BIN" serve --help 2>&1 | grep -q -- '--listen'; then BULWARK_FLAGS_SUPPORTED=1; fi

declare -A RPS P50 P99 CPU ERRORS   # key "proxy:workers" -> space-separated per-run values
declare -A BULWARK_PIDS NGINX_PIDS PORTS

start_proxies() {
  local n=$1 bport nport
  nport=$(free_port)
  bport=$(free_port)
  {
    nginx_prologue "proxy$n" "$n"
    echo "http {"
    nginx_http_common "proxy$n"
    cat <<EOF
  upstream backend {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$nport reuseport backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Request-Id \$request_id;
      add_header X-Request-Id \$request_id always;
    }
  }
}
EOF
  } >"$TMP/proxy$n.conf"
  start_nginx "proxy$n" "$TMP/proxy$n.conf"
  NGINX_PIDS[$n]=$LAST_PID
  PORTS[nginx:$n]=$nport
  wait_ready "nginx proxy ($n workers)" "$LAST_PID" "$nport" "$TMP/proxy$n-error.log"

  local -a cmd=("$BULWARK_BIN" serve)
  if ((BULWARK_FLAGS_SUPPORTED)); then
    cmd+=(--listen "127.0.0.1:$bport" --upstream "http://127.0.0.1:$UP_PORT" --workers "$n"
          --log-level warn)
  fi
  # shellcheck disable=SC2206  # extra arguments are split on spaces on purpose
  cmd+=($BENCH_BULWARK_ARGS)
  # bulwark refuses unknown BULWARK_* variables (BULWARK_BIN is one), and inherited settings would
  # make the run depend on the caller's shell: start it with only the settings given here.
  bulwark_unset_env
  env "${BULWARK_UNSET_ENV[@]}" BULWARK_LISTEN="127.0.0.1:$bport" BULWARK_UPSTREAM="http://127.0.0.1:$UP_PORT" \
    BULWARK_WORKERS="$n" BULWARK_LOG_LEVEL=warn \
    "${cmd[@]}" >"$TMP/bulwark$n.log" 2>&1 </dev/null &
  local bpid=$!
  STARTED_PIDS+=("$bpid")
  BULWARK_PIDS[$n]=$bpid
  PORTS[bulwark:$n]=$bport
  log "bulwark: BULWARK_LISTEN=127.0.0.1:$bport BULWARK_UPSTREAM=http://127.0.0.1:$UP_PORT" \
      "BULWARK_WORKERS=$n BULWARK_LOG_LEVEL=warn ${cmd[*]}"
  wait_ready "bulwark ($n workers)" "$bpid" "$bport" "$TMP/bulwark$n.log"

  # One functional check each: the upstream's body through both, and bulwark's X-Request-Id.
  local body headers
  for p in nginx bulwark; do
    body=$(curl -s --max-time 2 -D "$TMP/check-$p$n.headers" "http://127.0.0.1:${PORTS[$p:$n]}/")
    [[ $body == "hello from upstream" ]] \
      || { cat "$TMP/check-$p$n.headers" >&2; die "$p ($n workers) answered '$body', not the upstream's body"; }
    head -n1 "$TMP/check-$p$n.headers" | grep -q ' 200' \
      || { cat "$TMP/check-$p$n.headers" >&2; die "$p ($n workers) did not answer 200"; }
  done
  headers=$(cat "$TMP/check-bulwark$n.headers")
  grep -qi '^x-request-id: *[^[:space:]]' <<<"$headers" \
    || { printf '%s\n' "$headers" >&2; die "bulwark's response has no X-Request-Id header"; }
  log "nginx proxy on :$nport and bulwark on :$bport, $n worker(s) each: both return the upstream body"
}

stop_proxies() {
  local n=$1
  stop_pid "${BULWARK_PIDS[$n]}"
  stop_pid "${NGINX_PIDS[$n]}"
}

# Runs wrk once against proxy P with N workers; records req/s, p50, p99 and CPU µs per request.
run_wrk() {
  local p=$1 n=$2 run=$3 out pid before after reqs rps p50 p99 non2xx sockerr cpu_us
  out="$TMP/wrk-$p-w$n-r$run.txt"
  if [[ $p == bulwark ]]; then pid=${BULWARK_PIDS[$n]}; else pid=${NGINX_PIDS[$n]}; fi
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$TMP/${p/nginx/proxy}$n"*.log >&2 || true; die "$p ($n workers) is no longer running"; }
  local up_before up_after up_conns up_reqs up_cpu_before up_cpu_after forwarded up_cpu_us
  read -r up_conns up_reqs <<<"$(upstream_counters)"
  up_before="$up_conns $up_reqs"
  up_cpu_before=$(cpu_ticks "$UP_PID")
  before=$(cpu_ticks "$pid")
  timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 2s \
    --latency "http://127.0.0.1:${PORTS[$p:$n]}/" >"$out" 2>&1 \
    || { cat "$out" >&2; die "wrk failed against $p ($n workers)"; }
  after=$(cpu_ticks "$pid")
  up_cpu_after=$(cpu_ticks "$UP_PID")
  up_after=$(upstream_counters)
  kill -0 "$pid" 2>/dev/null || { cat "$out" >&2; die "$p ($n workers) died during the run"; }

  parse_wrk "$out"
  reqs=$WRK_REQS rps=$WRK_RPS p50=$WRK_P50 p99=$WRK_P99 non2xx=$WRK_NON2XX sockerr=$WRK_SOCKERR
  cpu_us=$(cpu_us_per_op $((after - before)) "$reqs")

  read -r up_conns up_reqs <<<"$up_after"
  local -a ub
  read -r -a ub <<<"$up_before"
  up_conns=$((up_conns - ub[0] - 1))   # minus our own status connection
  up_reqs=$((up_reqs - ub[1] - 1))   # minus our own status request
  forwarded=$(awk -v u="$up_reqs" -v r="$reqs" 'BEGIN { if (r == 0) print "NaN"; else printf "%.3f", u / r }')
  up_cpu_us=$(cpu_us_per_op $((up_cpu_after - up_cpu_before)) "$reqs")

  RPS[$p:$n]+="$rps "
  P50[$p:$n]+="$p50 "
  P99[$p:$n]+="$p99 "
  CPU[$p:$n]+="$cpu_us "
  local note=""
  if [[ -n $non2xx ]]; then note+=" NON-2XX=$non2xx"; fi
  if [[ -n $sockerr ]]; then note+=" socket-errors($sockerr)"; fi
  # wrk stops with requests in flight, which the upstream has counted: allow a little slack.
  if awk -v f="$forwarded" -v c="$CONNECTIONS" -v r="$reqs" 'BEGIN { exit !(f * r < r || f * r > r + 2 * c) }'; then
    note+=" upstream-saw-${forwarded}x-the-requests"
  fi
  if [[ -n $note ]]; then
    ERRORS[$p:$n]+="run $run:$note; "
    log "WARNING $p ($n workers) run $run:$note (wrk output: $out)"
  fi
  log "$(printf '%-7s workers=%s run=%s  %10s req/s  p50 %7s ms  p99 %7s ms  CPU %7s us/req  (%s requests; upstream: %s new conns, CPU %s us/req)%s' \
    "$p" "$n" "$run" "$rps" "$p50" "$p99" "$cpu_us" "$reqs" "$up_conns" "$up_cpu_us" "$note")"
}

# --- measure -----------------------------------------------------------------------------------
log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s --latency, $RUNS runs per proxy, interleaved;" \
    "$(nproc) CPU(s) shared by wrk, the upstream and the proxy under test"
for n in $WORKERS; do
  start_proxies "$n"
  if ((WARMUP > 0)); then
    for p in bulwark nginx; do
      timeout $((WARMUP + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 2s \
        "http://127.0.0.1:${PORTS[$p:$n]}/" >"$TMP/warmup-$p-w$n.txt" 2>&1 \
        || { cat "$TMP/warmup-$p-w$n.txt" >&2; die "warm-up wrk failed against $p ($n workers)"; }
    done
  fi
  for ((run = 1; run <= RUNS; run++)); do
    for p in bulwark nginx; do
      run_wrk "$p" "$n" "$run"
    done
  done
  stop_proxies "$n"
done

# --- report ------------------------------------------------------------------------------------
echo
echo "bench/proxy: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, loopback; wrk -t$WRK_THREADS" \
     "-c$CONNECTIONS -d${DURATION}s --latency; median of $RUNS interleaved runs; upstream: nginx, 2 workers"
echo
echo "| workers | proxy   | req/s (median) | p50 ms | p99 ms | CPU µs/req (median) |"
echo "|--------:|---------|---------------:|-------:|-------:|--------------------:|"
declare -A MED
for n in $WORKERS; do
  for p in bulwark nginx; do
    # Word splitting of the space-separated per-run lists is intended.
    # shellcheck disable=SC2086
    {
      MED[rps:$p:$n]=$(median ${RPS[$p:$n]})
      MED[p50:$p:$n]=$(median ${P50[$p:$n]})
      MED[p99:$p:$n]=$(median ${P99[$p:$n]})
      MED[cpu:$p:$n]=$(median ${CPU[$p:$n]})
    }
    printf '| %7s | %-7s | %14.0f | %6.3f | %6.3f | %19.1f |\n' "$n" "$p" \
      "${MED[rps:$p:$n]}" "${MED[p50:$p:$n]}" "${MED[p99:$p:$n]}" "${MED[cpu:$p:$n]}"
  done
done
echo
status=0
for n in $WORKERS; do
  r_rps=$(ratio "${MED[rps:bulwark:$n]}" "${MED[rps:nginx:$n]}")
  r_p99=$(ratio "${MED[p99:bulwark:$n]}" "${MED[p99:nginx:$n]}")
  r_cpu=$(ratio "${MED[cpu:bulwark:$n]}" "${MED[cpu:nginx:$n]}")
  g_rps=$(awk -v r="$r_rps" 'BEGIN { print (r + 0 >= 1.0) ? "met" : "NOT met" }')
  g_p99=$(awk -v r="$r_p99" 'BEGIN { print (r + 0 <= 1.2) ? "met" : "NOT met" }')
  echo "- $n worker(s): bulwark/nginx req/s ${r_rps}× (goal ≥ 1.0×: $g_rps);" \
       "p99 ${r_p99}× (goal ≤ 1.2×: $g_p99); CPU µs/req ${r_cpu}× (lower is better)"
done
for key in "${!ERRORS[@]}"; do
  echo "- ERRORS ${key/:/ with } workers: ${ERRORS[$key]}"
  status=1
done
if ((status)); then
  echo "- some runs had non-2xx responses or socket errors: the numbers above are not comparable"
  KEEP_TMP=1
fi
exit "$status"
