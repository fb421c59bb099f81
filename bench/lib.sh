# shellcheck shell=bash
# bench/lib.sh: helpers shared by the wrk-driven benchmarks (bench/proxy, bench/auth). Sourced,
# never run. Defines functions only; nothing runs at source time.
#
# The sourcing script sets, before calling these:
#   BENCH_NAME   prefix of log lines, e.g. "bench/proxy"
#   REPO         repository root
#   KEEP_TMP     1 keeps the temporary directory (it is always kept when the script fails)
# and gets from them:
#   TMP          temporary directory (bench_setup_tmp), removed on exit
#   STARTED_PIDS every pid started through start_nginx or bench_started, stopped on exit
#   NGINX        nginx binary (bench_find_nginx)
#   LAST_PID     pid of the last start_nginx
#   WRK_*        fields of the last parse_wrk

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

# Dies unless each named variable holds a whole number.
require_whole_numbers() {
  local v
  for v in "$@"; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
  done
}

# Runs scripts/install-bench-deps.sh when one of the given commands is missing.
bench_require() {
  local c missing=0 list="" i=0
  for c in "$@"; do
    command -v "$c" >/dev/null || missing=1
    i=$((i + 1))
    if ((i == 1)); then list=$c
    elif ((i == $#)); then list+=" or $c"
    else list+=", $c"; fi
  done
  if ((missing)); then
    log "$list missing: running scripts/install-bench-deps.sh"
    "$REPO/scripts/install-bench-deps.sh"
  fi
}

# Sets NGINX to the nginx binary (also /usr/sbin/nginx when /usr/sbin is not on PATH).
bench_find_nginx() {
  NGINX=$(command -v nginx || true)
  [[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
  [[ -n $NGINX ]] || die "nginx not found after scripts/install-bench-deps.sh"
}

# Checks BULWARK_BIN (never built here) and makes it absolute.
bench_resolve_bulwark() {
  if [[ ! -x $BULWARK_BIN ]]; then
    die "bulwark binary '$BULWARK_BIN' not found. Build it first:
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 --target bulwark
or point BULWARK_BIN at an existing binary."
  fi
  BULWARK_BIN=$(cd "$(dirname "$BULWARK_BIN")" && pwd)/$(basename "$BULWARK_BIN")
}

# --- processes we start, and cleanup -----------------------------------------------------------
# Creates $TMP (named after $1) and installs the traps that stop every started pid on exit.
bench_setup_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-bench-$1.XXXXXX")
  chmod 755 "$TMP"  # nginx workers may run as another user when we are root
  STARTED_PIDS=()   # every pid this script started (nginx masters, bulwark)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Records a pid this script started so that cleanup stops it.
bench_started() { STARTED_PIDS+=("$1"); }

# Kills a pid we started and, for nginx, its workers; waits at most ~3 s before SIGKILL.
stop_pid() {
  local pid=$1 children i
  kill -0 "$pid" 2>/dev/null || return 0
  children=$(pgrep -P "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  for c in $children; do kill -KILL "$c" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${STARTED_PIDS[i]}"
  done
  if [[ $KEEP_TMP == 1 || $rc -ne 0 ]]; then
    log "temporary files (configs, logs, wrk outputs) kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}

# Sets BULWARK_UNSET_ENV to `env` arguments removing every inherited BULWARK_* variable: bulwark
# refuses unknown ones (BULWARK_BIN is one), and inherited settings would make the run depend on
# the caller's shell.
bulwark_unset_env() {
  BULWARK_UNSET_ENV=()
  local v
  for v in $(compgen -e); do
    [[ $v == BULWARK_* ]] && BULWARK_UNSET_ENV+=(-u "$v")
  done
  return 0
}

# --- helpers -----------------------------------------------------------------------------------
# A loopback port nobody listens on (bounded tries). Another program could still take it before
# we bind; the readiness checks then fail loudly rather than measure the wrong server.
USED_PORTS=" "
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    [[ $USED_PORTS == *" $port "* ]] && continue
    if command -v ss >/dev/null; then
      ss -Htan "sport = :$port" 2>/dev/null | grep -q . && continue
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue
    fi
    USED_PORTS+="$port "
    echo "$port"
    return 0
  done
  die "no free loopback port found"
}

# Waits up to ~5 s for http://127.0.0.1:PORT/PATH (default PATH: /) to answer anything while PID
# is alive.
wait_ready() {
  local name=$1 pid=$2 port=$3 logfile=$4 path=${5:-/} i
  for ((i = 0; i < 50; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its log ($logfile):"
      tail -n 30 "$logfile" >&2 || true
      die "$name did not start"
    fi
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port$path"; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not answer on 127.0.0.1:$port within 5 s; its log ($logfile):"
  tail -n 30 "$logfile" >&2 || true
  die "$name not ready"
}

# A root nginx master switches its workers to this user; Debian's compiled default group does not
# exist. Call once before nginx_prologue.
bench_nginx_user() {
  NGINX_USER_LINE=""
  if [[ $(id -u) -eq 0 ]]; then
    if id www-data >/dev/null 2>&1; then NGINX_USER_LINE="user www-data www-data;"
    else NGINX_USER_LINE="user nobody nogroup;"; fi
  fi
}

# Writes an nginx.conf prologue shared by upstreams and proxies: own prefix, pid, logs and temp
# paths inside $TMP, never /etc/nginx or /var/log/nginx.
nginx_prologue() {
  local name=$1 workers=$2
  cat <<EOF
$NGINX_USER_LINE
worker_processes $workers;
pid $TMP/$name.pid;
error_log $TMP/$name-error.log warn;
events { worker_connections 4096; }
EOF
}
nginx_http_common() {
  local name=$1
  cat <<EOF
  access_log off;
  client_body_temp_path $TMP/$name-tmp/client_body;
  proxy_temp_path $TMP/$name-tmp/proxy;
  fastcgi_temp_path $TMP/$name-tmp/fastcgi;
  uwsgi_temp_path $TMP/$name-tmp/uwsgi;
  scgi_temp_path $TMP/$name-tmp/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
EOF
}

# Starts nginx in the foreground (daemon off) in the background of this shell; sets LAST_PID to
# the master pid.
start_nginx() {
  local name=$1 conf=$2 pid
  mkdir -p "$TMP/$name-tmp"
  "$NGINX" -t -q -p "$TMP/" -c "$conf" -e "$TMP/$name-error.log" >"$TMP/$name-test.log" 2>&1 \
    || { cat "$TMP/$name-test.log" >&2; die "nginx config $conf rejected"; }
  "$NGINX" -p "$TMP/" -c "$conf" -e "$TMP/$name-error.log" -g 'daemon off;' \
    >"$TMP/$name-stdout.log" 2>&1 </dev/null &
  pid=$!
  STARTED_PIDS+=("$pid")
  LAST_PID=$pid
}

# Starts the upstream every benchmark proxies to: nginx with 2 workers answering 200
# "hello from upstream\n" on every path, and its stub_status at /__bench_status. Sets UP_PORT and
# UP_PID.
start_upstream() {
  UP_PORT=$(free_port)
  {
    nginx_prologue upstream 2
    echo "http {"
    nginx_http_common upstream
    cat <<EOF
  default_type text/plain;
  server {
    listen 127.0.0.1:$UP_PORT reuseport backlog=4096;
    location / { return 200 "hello from upstream\n"; }
    location = /__bench_status { stub_status; }
  }
}
EOF
  } >"$TMP/upstream.conf"
  start_nginx upstream "$TMP/upstream.conf"
  UP_PID=$LAST_PID
  wait_ready "upstream nginx" "$UP_PID" "$UP_PORT" "$TMP/upstream-error.log"
  local body
  body=$(curl -s --max-time 2 "http://127.0.0.1:$UP_PORT/")
  [[ $body == "hello from upstream" ]] || die "upstream answered '$body'"
  log "upstream nginx (2 workers) on 127.0.0.1:$UP_PORT"
}

# The upstream's own counters (stub_status): "ACCEPTED_CONNECTIONS REQUESTS". They show that every
# client request reached the upstream and how many new upstream connections a proxy opened.
upstream_counters() {
  curl -s --max-time 2 "http://127.0.0.1:$UP_PORT/__bench_status" | awk 'NR == 3 { print $1, $3 }'
}

# utime+stime in clock ticks of a pid and, for an nginx master, of its worker processes.
# /proc/PID/stat of a process counts all of its threads (bulwark's I/O threads included).
cpu_ticks() {
  local total=0 p stat rest
  local -a f
  for p in "$@" $(for q in "$@"; do pgrep -P "$q" 2>/dev/null || true; done); do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${stat##*) }          # fields after "pid (comm) "; comm may contain spaces
    read -r -a f <<<"$rest"    # f[0] is field 3 (state); utime is field 14, stime field 15
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# Nanoseconds on CPU of every thread of a pid (/proc/PID/task/*/schedstat; finer than the clock
# ticks of cpu_ticks, for short measurements; threads that exit meanwhile are not counted).
cpu_ns() {
  local t total=0 ns rest
  for t in /proc/"$1"/task/*/schedstat; do
    read -r ns rest <"$t" 2>/dev/null || continue
    total=$((total + ns))
  done
  echo "$total"
}

# Microseconds of CPU per operation: cpu_us_per_op TICKS OPS.
cpu_us_per_op() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v r="$2" \
    'BEGIN { if (r == 0) print "NaN"; else printf "%.2f", t / hz * 1e6 / r }'
}

# Converts a wrk latency such as 512.00us, 1.23ms, 1.01s or 2.00m to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "ms") n *= 1; else if (u == "s") n *= 1000;
    else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000; else { print "NaN"; exit }
    printf "%.3f", n }'
}

# Parses a `wrk --latency` output file into WRK_REQS, WRK_RPS, WRK_P50 and WRK_P99 (ms),
# WRK_NON2XX and WRK_SOCKERR (empty when wrk printed none); dies when it cannot.
# shellcheck disable=SC2034  # the WRK_* results are read by the sourcing script
parse_wrk() {
  local out=$1
  WRK_REQS=$(awk '/requests in/ { print $1; exit }' "$out")
  WRK_RPS=$(awk '/^Requests\/sec:/ { print $2; exit }' "$out")
  WRK_P50=$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "$out")")
  WRK_P99=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$out")")
  WRK_NON2XX=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2; exit }' "$out")
  WRK_SOCKERR=$(awk '/Socket errors/ { sub(/.*Socket errors: /, ""); print; exit }' "$out")
  [[ -n $WRK_REQS && -n $WRK_RPS ]] || { cat "$out" >&2; die "could not parse wrk output ($out)"; }
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) { print "NaN"; exit }
    if (NR % 2) printf "%.6g\n", a[(NR + 1) / 2]; else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "NaN"; else printf "%.2f", a / b }'; }
