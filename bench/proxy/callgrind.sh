#!/usr/bin/env bash
# bench/proxy/callgrind.sh: instructions per proxied request, bulwark against nginx, counted by
# valgrind --tool=callgrind. Unlike requests/s, an instruction count does not depend on what else the
# machine is doing, and it shows user-space cost that loopback hides behind the kernel.
#
# Each proxy (one worker: bulwark --workers 1; nginx in single-process mode) runs under callgrind
# twice, serving SMALL and then LARGE keep-alive GET requests on one connection (curl), in front of
# the same nginx upstream (not under valgrind). (I(LARGE) - I(SMALL)) / (LARGE - SMALL) is the cost
# of one request with start-up and shutdown cancelled out. Only user-space instructions are counted.
#
# Environment: BULWARK_BIN (default build/bulwark), SMALL (default 200), LARGE (default 2200),
#              KEEP_TMP=1 to keep the callgrind outputs (callgrind_annotate them),
#              PROXIES (default "bulwark nginx"; "bulwark" alone skips nginx),
#              BENCH_BULWARK_ARGS extra `bulwark serve` arguments (e.g. "--audit-requests decisions").
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO
cd "$REPO"

BULWARK_BIN=${BULWARK_BIN:-build/bulwark}
SMALL=${SMALL:-200}
LARGE=${LARGE:-2200}
KEEP_TMP=${KEEP_TMP:-0}
BENCH_BULWARK_ARGS=${BENCH_BULWARK_ARGS:-}
PROXIES=${PROXIES:-"bulwark nginx"}

log() { printf '[bench/proxy/callgrind] %s\n' "$*" >&2; }
die() { printf '[bench/proxy/callgrind] error: %s\n' "$*" >&2; exit 1; }

if ! [[ $SMALL =~ ^[0-9]+$ && $LARGE =~ ^[0-9]+$ ]] || ((LARGE <= SMALL)); then
  die "SMALL and LARGE must be whole numbers with LARGE > SMALL"
fi
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
if ! command -v nginx >/dev/null || ! command -v curl >/dev/null || ! command -v pgrep >/dev/null; then
  "$REPO/scripts/install-bench-deps.sh"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $BULWARK_BIN ]] || die "bulwark binary '$BULWARK_BIN' not found. Build it first:
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 --target bulwark"
BULWARK_BIN=$(cd "$(dirname "$BULWARK_BIN")" && pwd)/$(basename "$BULWARK_BIN")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bulwark-bench-callgrind.XXXXXX")
chmod 755 "$TMP"
STARTED_PIDS=()

stop_pid() {
  local pid=$1 children i
  kill -0 "$pid" 2>/dev/null || return 0
  children=$(pgrep -P "$pid" 2>/dev/null || true)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do   # valgrind needs time to write its output: up to ~30 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  for c in $children; do kill -KILL "$c" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED_PIDS[i]}"; done
  if [[ $KEEP_TMP == 1 || $rc -ne 0 ]]; then log "files kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

USED_PORTS=" "
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    [[ $USED_PORTS == *" $port "* ]] && continue
    ss -Htan "sport = :$port" 2>/dev/null | grep -q . && continue
    USED_PORTS+="$port "
    echo "$port"
    return 0
  done
  die "no free loopback port found"
}

# Waits up to ~60 s (valgrind starts slowly) for one successful request.
wait_ready() {
  local name=$1 pid=$2 port=$3 logfile=$4 i
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2; die "$name exited during start-up"; }
    curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  tail -n 30 "$logfile" >&2
  die "$name did not answer within 60 s"
}

NGINX_USER_LINE=""
if [[ $(id -u) -eq 0 ]]; then
  if id www-data >/dev/null 2>&1; then NGINX_USER_LINE="user www-data www-data;"
  else NGINX_USER_LINE="user nobody nogroup;"; fi
fi
nginx_conf() {   # name workers master(on|off) server-block
  cat <<EOF
$NGINX_USER_LINE
worker_processes $2;
master_process $3;
pid $TMP/$1.pid;
error_log $TMP/$1-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/$1-tmp/client_body;
  proxy_temp_path $TMP/$1-tmp/proxy;
  fastcgi_temp_path $TMP/$1-tmp/fastcgi;
  uwsgi_temp_path $TMP/$1-tmp/uwsgi;
  scgi_temp_path $TMP/$1-tmp/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  default_type text/plain;
$4
}
EOF
}

UP_PORT=$(free_port)
mkdir -p "$TMP/upstream-tmp"
nginx_conf upstream 2 on "  server {
    listen 127.0.0.1:$UP_PORT;
    location / { return 200 \"hello from upstream\\n\"; }
  }" >"$TMP/upstream.conf"
"$NGINX" -p "$TMP/" -c "$TMP/upstream.conf" -e "$TMP/upstream-error.log" -g 'daemon off;' \
  >"$TMP/upstream.log" 2>&1 </dev/null &
UP_PID=$!
STARTED_PIDS+=("$UP_PID")
wait_ready upstream "$UP_PID" "$UP_PORT" "$TMP/upstream-error.log"

# Runs proxy P under callgrind, sends COUNT keep-alive requests on one connection, stops it and
# echoes the total instruction count (all threads).
measure() {
  local p=$1 count=$2 port pid out urls total
  port=$(free_port)
  out="$TMP/callgrind-$p-$count"
  if [[ $p == bulwark ]]; then
    local -a unset_env=()
    local v
    for v in $(compgen -e); do [[ $v == BULWARK_* ]] && unset_env+=(-u "$v"); done
    # shellcheck disable=SC2086  # BENCH_BULWARK_ARGS: word splitting intended
    env "${unset_env[@]}" valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
      "$BULWARK_BIN" serve --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$UP_PORT" \
      --workers 1 --log-level warn --data-dir "$TMP/data-$count" $BENCH_BULWARK_ARGS >"$TMP/$p-$count.log" 2>&1 </dev/null &
  else
    mkdir -p "$TMP/proxy$count-tmp"
    nginx_conf "proxy$count" 1 off "  upstream backend { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Request-Id \$request_id;
      add_header X-Request-Id \$request_id always;
    }
  }" >"$TMP/proxy$count.conf"
    valgrind --tool=callgrind --callgrind-out-file="$out.%p" \
      "$NGINX" -p "$TMP/" -c "$TMP/proxy$count.conf" -e "$TMP/proxy$count-error.log" -g 'daemon off;' \
      >"$TMP/$p-$count.log" 2>&1 </dev/null &
  fi
  pid=$!
  STARTED_PIDS+=("$pid")
  wait_ready "$p under callgrind" "$pid" "$port" "$TMP/$p-$count.log"
  urls=()
  for ((i = 0; i < count; i++)); do urls+=("http://127.0.0.1:$port/"); done
  # One curl, many URLs: one keep-alive connection. Bodies are discarded.
  curl -s --max-time 600 "${urls[@]}" >/dev/null || die "curl through $p failed"
  stop_pid "$pid"
  total=$(cat "$out".* | awk '/^totals:/ { s += $2 } END { printf "%d", s }')
  ((total > 0)) || die "no callgrind totals for $p ($out.*)"
  log "$p: $count requests (+1 readiness request): $total instructions"
  echo "$total"
}

echo "bench/proxy/callgrind: $(date -u '+%Y-%m-%d %H:%M UTC'); one worker each; keep-alive GETs on one" \
     "connection; instructions per request = (I($LARGE) - I($SMALL)) / $((LARGE - SMALL))"
echo
echo "| proxy   | instructions/request |"
echo "|---------|---------------------:|"
declare -A IPR
for p in $PROXIES; do
  [[ $p == bulwark || $p == nginx ]] || die "PROXIES lists bulwark and/or nginx, got '$p'"
  small=$(measure "$p" "$SMALL")
  large=$(measure "$p" "$LARGE")
  IPR[$p]=$(( (large - small) / (LARGE - SMALL) ))
  printf '| %-7s | %20d |\n' "$p" "${IPR[$p]}"
done
[[ -n ${IPR[bulwark]:-} && -n ${IPR[nginx]:-} ]] || exit 0
echo
awk -v b="${IPR[bulwark]}" -v n="${IPR[nginx]}" \
  'BEGIN { printf "- bulwark/nginx instructions per request: %.2f× (user space only)\n", b / n }'
