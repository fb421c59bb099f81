#!/usr/bin/env bash
# bench/audit/gateway.sh: what the audit trail costs the gateway (issue 4: "the gateway's
# requests/s with auditing off, async and sync in one run"). Three `bulwark serve` processes in
# front of the same nginx upstream, measured interleaved with wrk:
#   off    audit_requests = decisions: no record for a request no security decision settled,
#          which on this traffic (an open route) is every request — the trail gets none
#   async  audit_requests = all, audit_durability = async: one signed record per request,
#          fsynced within audit_batch_interval
#   sync   audit_requests = all, audit_durability = sync: a request is answered only after its
#          record is fsynced (group commit)
# "records / fsync" and "µs / fsync" come from the writer's /metrics counters over the measured
# runs: the group-commit size and the mean fsync time (in sync mode a request waits for one to
# two of them, so on a closed loop like wrk's this bounds requests/s, not the CPU).
# After the runs each trail is verified with `bulwark audit verify`, and the async and sync trails
# must hold at least one REQUEST record per answered request (a mode that drops records is not
# measured as cheap).
#
# Usage: bench/audit/gateway.sh
# Environment:
#   BULWARK_BIN   bulwark binary (default build/bulwark; it is never built here)
#   DURATION      seconds per wrk run (default 5)
#   RUNS          runs per mode, interleaved (default 5, at least 3)
#   WORKERS       bulwark I/O threads (default 1)
#   CONNECTIONS   wrk connections (default 50: 50 requests in flight, the sync group-commit size)
#   WRK_THREADS   wrk threads (default 1)
#   WARMUP        seconds of warm-up per mode (default 1)
#   KEEP_TMP=1    keep the temporary directory (configs, logs, trails, wrk outputs)
#   BEFORE_BIN    another bulwark binary (e.g. the previous commit's): its off/async/sync run as
#                 off-before/async-before/sync-before, interleaved with the others in one run
#   BENCH_BULWARK_ARGS  extra arguments for every `bulwark serve`
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO
cd "$REPO"

BULWARK_BIN=${BULWARK_BIN:-build/bulwark}
DURATION=${DURATION:-5}
RUNS=${RUNS:-5}
WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-50}
WRK_THREADS=${WRK_THREADS:-1}
WARMUP=${WARMUP:-1}
KEEP_TMP=${KEEP_TMP:-0}
BENCH_BULWARK_ARGS=${BENCH_BULWARK_ARGS:-}

BENCH_NAME=bench/audit/gateway
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

require_whole_numbers DURATION RUNS WORKERS CONNECTIONS WRK_THREADS WARMUP
if ((RUNS < 3)); then
  log "RUNS=$RUNS raised to 3: a median needs at least 3 runs"
  RUNS=3
fi

bench_require nginx wrk curl pgrep
bench_find_nginx
bench_resolve_bulwark
bench_setup_tmp audit-gateway
bench_nginx_user
start_upstream

MODES=${MODES:-"off async sync"}   # a subset for profiling; the report needs off
BEFORE_BIN=${BEFORE_BIN:-}
if [[ -n $BEFORE_BIN ]]; then
  [[ -x $BEFORE_BIN ]] || die "BEFORE_BIN '$BEFORE_BIN' is not an executable"
  for m in $MODES; do MODES+=" $m-before"; done
fi
declare -A MODE_ARGS=(
  [off]="--audit-requests decisions --audit-durability async"
  [async]="--audit-requests all --audit-durability async"
  [sync]="--audit-requests all --audit-durability sync"
)
declare -A PIDS PORTS RPS P99 CPU AUDIT_CPU REQS RECORDS ERRORS SYNCS SYNC_SECONDS WRITTEN

bulwark_unset_env
for m in $MODES; do
  port=$(free_port)
  mkdir -p "$TMP/$m"
  # shellcheck disable=SC2206  # the mode's and the caller's arguments are split on spaces on purpose
  bin=$BULWARK_BIN
  [[ $m == *-before ]] && bin=$BEFORE_BIN
  cmd=("$bin" serve --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$UP_PORT"
       --workers "$WORKERS" --log-level warn --data-dir "$TMP/$m" ${MODE_ARGS[${m%-before}]} $BENCH_BULWARK_ARGS)
  env "${BULWARK_UNSET_ENV[@]}" "${cmd[@]}" >"$TMP/$m.log" 2>&1 </dev/null &
  PIDS[$m]=$!
  bench_started "${PIDS[$m]}"
  PORTS[$m]=$port
  log "$m: ${cmd[*]}"
  wait_ready "bulwark ($m)" "${PIDS[$m]}" "$port" "$TMP/$m.log"
  body=$(curl -s --max-time 2 "http://127.0.0.1:$port/")
  [[ $body == "hello from upstream" ]] || die "bulwark ($m) answered '$body', not the upstream's body"
done

# Nanoseconds on CPU of the audit writer's threads (named audit-writer and audit-syncer).
audit_thread_ns() {
  local t total=0 ns rest
  for t in /proc/"$1"/task/*; do
    [[ $(cat "$t/comm" 2>/dev/null) == audit-* ]] || continue
    read -r ns rest <"$t/schedstat" 2>/dev/null || continue
    total=$((total + ns))
  done
  echo "$total"
}

# The audit writer's counters from /metrics: "RECORDS_WRITTEN SYNCS SYNC_SECONDS" (empty fields
# for a binary that does not export them).
audit_counters() {
  curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk '
    $1 == "bulwark_audit_records_written_total" { w = $2 }
    $1 == "bulwark_audit_syncs_total" { s = $2 }
    $1 == "bulwark_audit_sync_seconds_total" { t = $2 }
    END { print w, s, t }'
}

run_wrk() {
  local m=$1 run=$2 out before after audit_before audit_after counters_before counters_after
  out="$TMP/wrk-$m-r$run.txt"
  kill -0 "${PIDS[$m]}" 2>/dev/null || { tail -n 30 "$TMP/$m.log" >&2; die "bulwark ($m) is no longer running"; }
  counters_before=$(audit_counters "${PORTS[$m]}")
  audit_before=$(audit_thread_ns "${PIDS[$m]}")
  before=$(cpu_ticks "${PIDS[$m]}")
  timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 2s \
    --latency "http://127.0.0.1:${PORTS[$m]}/" >"$out" 2>&1 \
    || { cat "$out" >&2; die "wrk failed against bulwark ($m)"; }
  after=$(cpu_ticks "${PIDS[$m]}")
  audit_after=$(audit_thread_ns "${PIDS[$m]}")
  counters_after=$(audit_counters "${PORTS[$m]}")
  local w0 s0 t0 w1 s1 t1
  read -r w0 s0 t0 <<<"$counters_before"
  read -r w1 s1 t1 <<<"$counters_after"
  if [[ -n ${s1:-} && -n ${s0:-} ]]; then
    WRITTEN[$m]=$(awk -v a="${WRITTEN[$m]:-0}" -v x="$w0" -v y="$w1" 'BEGIN { printf "%.0f", a + y - x }')
    SYNCS[$m]=$(awk -v a="${SYNCS[$m]:-0}" -v x="$s0" -v y="$s1" 'BEGIN { printf "%.0f", a + y - x }')
    SYNC_SECONDS[$m]=$(awk -v a="${SYNC_SECONDS[$m]:-0}" -v x="$t0" -v y="$t1" 'BEGIN { printf "%.6f", a + y - x }')
  fi
  parse_wrk "$out"
  AUDIT_CPU[$m]+="$(awk -v ns=$((audit_after - audit_before)) -v r="$WRK_REQS" \
    'BEGIN { if (r == 0) print "NaN"; else printf "%.2f", ns / 1000 / r }') "
  RPS[$m]+="$WRK_RPS "
  P99[$m]+="$WRK_P99 "
  CPU[$m]+="$(cpu_us_per_op $((after - before)) "$WRK_REQS") "
  REQS[$m]=$((${REQS[$m]:-0} + WRK_REQS))
  if [[ -n $WRK_NON2XX || -n $WRK_SOCKERR ]]; then
    ERRORS[$m]+="run $run: non-2xx ${WRK_NON2XX:-0}, socket errors ${WRK_SOCKERR:-none}; "
  fi
  log "$(printf '%-5s run=%s %10s req/s  p99 %7s ms  CPU %s us/req' "$m" "$run" "$WRK_RPS" "$WRK_P99" \
    "$(cpu_us_per_op $((after - before)) "$WRK_REQS")")"
}

log "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, $RUNS runs per mode, interleaved;" \
    "$(nproc) CPU(s) shared by wrk, the upstream and bulwark ($WORKERS worker(s))"
if ((WARMUP > 0)); then
  for m in $MODES; do
    timeout $((WARMUP + 30)) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 2s \
      "http://127.0.0.1:${PORTS[$m]}/" >"$TMP/warmup-$m.txt" 2>&1 \
      || { cat "$TMP/warmup-$m.txt" >&2; die "warm-up wrk failed against bulwark ($m)"; }
  done
fi
for ((run = 1; run <= RUNS; run++)); do
  for m in $MODES; do run_wrk "$m" "$run"; done
done

# --- the trails: stopped cleanly, verified, one record per request ----------------------------
for m in $MODES; do
  stop_pid "${PIDS[$m]}"
  bin=$BULWARK_BIN
  [[ $m == *-before ]] && bin=$BEFORE_BIN
  env "${BULWARK_UNSET_ENV[@]}" "$bin" audit verify --data-dir "$TMP/$m" >"$TMP/verify-$m.txt" 2>&1 \
    || { cat "$TMP/verify-$m.txt" >&2; die "the $m trail does not verify"; }
  RECORDS[$m]=$(cat "$TMP/$m"/audit/*/segment-*.ndjson | grep -c '"type":"REQUEST"' || true)
done
for m in $MODES; do
  [[ ${m%-before} == off ]] && continue
  ((RECORDS[$m] >= REQS[$m])) \
    || die "the $m trail holds ${RECORDS[$m]} REQUEST records for ${REQS[$m]} measured requests"
done

# --- report ------------------------------------------------------------------------------------
echo
echo "bench/audit/gateway: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs (load average" \
     "$(cut -d' ' -f1-3 /proc/loadavg)), loopback; wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s;" \
     "bulwark --workers $WORKERS; median of $RUNS interleaved runs; upstream: nginx, 2 workers"
echo
echo "| auditing     | req/s (median) | vs off | p99 ms | CPU µs/req (median) | vs off | of which audit threads | records / fsync | µs / fsync | REQUEST records / requests |"
echo "|--------------|---------------:|-------:|-------:|--------------------:|-------:|-----------------------:|----------------:|-----------:|---------------------------:|"
declare -A MED
for m in $MODES; do
  # shellcheck disable=SC2086  # word splitting of the per-run lists is intended
  MED[rps:$m]=$(median ${RPS[$m]}) MED[p99:$m]=$(median ${P99[$m]}) MED[cpu:$m]=$(median ${CPU[$m]})
  # shellcheck disable=SC2086
  MED[audit:$m]=$(median ${AUDIT_CPU[$m]})
done
for m in $MODES; do
  base=off
  [[ $m == *-before ]] && base=off-before
  per_sync=- sync_us=-
  if ((${SYNCS[$m]:-0} > 0)); then
    per_sync=$(awk -v w="${WRITTEN[$m]}" -v s="${SYNCS[$m]}" 'BEGIN { printf "%.1f", w / s }')
    sync_us=$(awk -v t="${SYNC_SECONDS[$m]}" -v s="${SYNCS[$m]}" 'BEGIN { printf "%.0f", t * 1e6 / s }')
  fi
  printf '| %-12s | %14.0f | %5s× | %6.3f | %19.2f | %5s× | %22.2f | %15s | %10s | %26s |\n' "$m" \
    "${MED[rps:$m]}" "$(ratio "${MED[rps:$m]}" "${MED[rps:$base]:-0}")" "${MED[p99:$m]}" \
    "${MED[cpu:$m]}" "$(ratio "${MED[cpu:$m]}" "${MED[cpu:$base]:-0}")" "${MED[audit:$m]}" \
    "$per_sync" "$sync_us" "${RECORDS[$m]} / ${REQS[$m]}"
done
echo
goal() {  # goal MODE MAX_COST_PERCENT
  awk -v a="${MED[rps:$1]}" -v o="${MED[rps:off]}" -v g="$2" -v m="$1" 'BEGIN {
    c = (1 - a / o) * 100
    printf "- %s: costs %.1f%% of requests/s (goal <= %d%%: %s)\n", m, c, g, (c <= g) ? "met" : "NOT met" }'
}
[[ " $MODES " == *" off "* && " $MODES " == *" async "* ]] && goal async 5
[[ " $MODES " == *" off "* && " $MODES " == *" sync "* ]] && goal sync 15
status=0
for m in "${!ERRORS[@]}"; do
  echo "- ERRORS ($m): ${ERRORS[$m]}"
  status=1
done
exit "$status"
