#!/usr/bin/env bash
# Starts and stops the real PostgreSQL 15 and Redis 7 the production-backend tests run against, on
# loopback, with TLS only, certificates generated here (a CA, a server certificate for localhost /
# 127.0.0.1, a client certificate) and password / ACL authentication.
#
#   services.sh start DIR          generate certificates, start both, write DIR/env (shell exports)
#   services.sh stop DIR           stop both (idempotent)
#   services.sh restart-postgres DIR | stop-postgres DIR | start-postgres DIR
#   services.sh stop-redis DIR | start-redis DIR
#
# DIR/env exports, for tests and benchmarks:
#   BULWARK_TEST_DATABASE_URL  postgresql://bulwark:…@localhost:PORT/bulwark?sslmode=verify-full&…
#   BULWARK_TEST_REDIS_URL     rediss://bulwark:…@localhost:PORT/0
#   BULWARK_TEST_CA, BULWARK_TEST_CLIENT_CERT, BULWARK_TEST_CLIENT_KEY, BULWARK_TEST_WRONG_CA
#   BULWARK_TEST_PG_PORT, BULWARK_TEST_REDIS_PORT, BULWARK_TEST_PG_PASSWORD, BULWARK_TEST_REDIS_PASSWORD
#   BULWARK_TEST_SERVICES      this script, BULWARK_TEST_SERVICES_DIR  DIR
# Ports: BULWARK_TEST_PG_PORT / BULWARK_TEST_REDIS_PORT if set, else 55432 / 56379.
set -euo pipefail

command=${1:?usage: services.sh start|stop|restart-postgres|stop-postgres|start-postgres|stop-redis|start-redis DIR}
dir=${2:?usage: services.sh $command DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pg_port=${BULWARK_TEST_PG_PORT:-55432}
redis_port=${BULWARK_TEST_REDIS_PORT:-56379}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

# PostgreSQL refuses to run as root: run it as the `postgres` system user when we are root.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

generate_certs() {
  local c="$dir/certs"
  [[ -f "$c/ca.crt" ]] && return 0
  mkdir -p "$c"
  local days=2
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
    -subj "/CN=bulwark test CA" -keyout "$c/ca.key" -out "$c/ca.crt" 2>/dev/null
  # A second, unrelated CA: clients configured with it must refuse the servers.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
    -subj "/CN=unrelated CA" -keyout "$c/wrong-ca.key" -out "$c/wrong-ca.crt" 2>/dev/null
  local name
  for name in server client; do
    local cn=localhost ext="subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
    if [[ $name == client ]]; then cn=bulwark ext="extendedKeyUsage=clientAuth"; fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
      -keyout "$c/$name.key" -out "$c/$name.csr" 2>/dev/null
    openssl x509 -req -in "$c/$name.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
      -days $days -extfile <(echo "$ext") -out "$c/$name.crt" 2>/dev/null
    rm -f "$c/$name.csr"
  done
  chmod 0600 "$c"/*.key
  # The servers read their own copies (PostgreSQL wants its key owned by its user, mode 0600).
  mkdir -p "$dir/pg-certs"
  cp "$c/server.crt" "$c/server.key" "$c/ca.crt" "$dir/pg-certs/"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres "$dir/pg-certs"; fi
  chmod 0600 "$dir/pg-certs/server.key"
}

random_password() { openssl rand -hex 24; }

passwords() {
  [[ -f "$dir/passwords" ]] || {
    echo "pg_password=$(random_password)"
    echo "redis_password=$(random_password)"
  } >"$dir/passwords"
  chmod 0600 "$dir/passwords"
  # shellcheck disable=SC1091
  source "$dir/passwords"
}

init_postgres() {
  local data="$dir/pg"
  [[ -f "$data/PG_VERSION" ]] && return 0
  mkdir -p "$data" "$dir/pg-run"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$data" "$dir/pg-run"; chmod 0755 "$dir"; fi
  local pwfile="$dir/pg-run/superuser-password"
  random_password >"$pwfile"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$pwfile"; fi
  as_pg "$pg_bin/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
    -E UTF8 --locale=C >/dev/null
  cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$dir/pg-run'
ssl = on
ssl_cert_file = '$dir/pg-certs/server.crt'
ssl_key_file = '$dir/pg-certs/server.key'
ssl_ca_file = '$dir/pg-certs/ca.crt'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
max_connections = 200
fsync = on
EOF
  # TLS only over TCP (a plaintext connection is refused), SCRAM passwords, and the client
  # certificate verified when one is presented; the local socket is for this script alone.
  cat >"$data/pg_hba.conf" <<EOF
local    all  postgres                 scram-sha-256
hostssl  all  all       127.0.0.1/32   scram-sha-256 clientcert=verify-ca
hostnossl all all       0.0.0.0/0      reject
EOF
}

start_postgres() {
  init_postgres
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg-run/postgres.log" -w -t 60 start >/dev/null
  local pw
  pw=$(cat "$dir/pg-run/superuser-password")
  if [[ ! -f "$dir/pg-run/provisioned" ]]; then
    PGPASSWORD=$pw "$pg_bin/psql" -h "$dir/pg-run" -p "$pg_port" -U postgres -d postgres -qAt \
      -v ON_ERROR_STOP=1 >/dev/null <<EOF
CREATE ROLE bulwark LOGIN PASSWORD '$pg_password';
CREATE DATABASE bulwark OWNER bulwark;
EOF
    touch "$dir/pg-run/provisioned"
  fi
}

stop_postgres() {
  [[ -f "$dir/pg/postmaster.pid" ]] || return 0
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -m fast -w -t 60 stop >/dev/null || true
}

start_redis() {
  mkdir -p "$dir/redis"
  cat >"$dir/redis/redis.conf" <<EOF
bind 127.0.0.1 ::1
port 0
tls-port $redis_port
tls-cert-file $dir/certs/server.crt
tls-key-file $dir/certs/server.key
tls-ca-cert-file $dir/certs/ca.crt
tls-auth-clients optional
tls-protocols "TLSv1.2 TLSv1.3"
dir $dir/redis
pidfile $dir/redis/redis.pid
logfile $dir/redis/redis.log
daemonize yes
save ""
appendonly no
user default off
user bulwark on >$redis_password ~* &* +@all
EOF
  chmod 0600 "$dir/redis/redis.conf"
  redis-server "$dir/redis/redis.conf"
  local i
  for i in $(seq 1 100); do
    if redis-cli --tls --cacert "$dir/certs/ca.crt" -h 127.0.0.1 -p "$redis_port" \
      --user bulwark --pass "$redis_password" --no-auth-warning ping 2>/dev/null | grep -q PONG; then
      return 0
    fi
    sleep 0.1
  done
  echo "redis did not start; see $dir/redis/redis.log" >&2
  return 1
}

stop_redis() {
  [[ -f "$dir/redis/redis.pid" ]] || return 0
  local pid
  pid=$(cat "$dir/redis/redis.pid")
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$dir/redis/redis.pid"
}

write_env() {
  local c="$dir/certs"
  local q="sslmode=verify-full&sslrootcert=$c/ca.crt&sslcert=$c/client.crt&sslkey=$c/client.key"
  cat >"$dir/env" <<EOF
export BULWARK_TEST_DATABASE_URL='postgresql://bulwark:$pg_password@localhost:$pg_port/bulwark?$q'
export BULWARK_TEST_REDIS_URL='rediss://bulwark:$redis_password@localhost:$redis_port/0'
export BULWARK_TEST_CA='$c/ca.crt'
export BULWARK_TEST_WRONG_CA='$c/wrong-ca.crt'
export BULWARK_TEST_CLIENT_CERT='$c/client.crt'
export BULWARK_TEST_CLIENT_KEY='$c/client.key'
export BULWARK_TEST_PG_PORT='$pg_port'
export BULWARK_TEST_REDIS_PORT='$redis_port'
export BULWARK_TEST_PG_PASSWORD='$pg_password'
export BULWARK_TEST_REDIS_PASSWORD='$redis_password'
export BULWARK_TEST_SERVICES='$(cd "$(dirname "$0")" && pwd)/$(basename "$0")'
export BULWARK_TEST_SERVICES_DIR='$dir'
EOF
  chmod 0600 "$dir/env"
}

case "$command" in
  start)
    generate_certs
    passwords
    start_postgres
    start_redis
    write_env
    ;;
  stop) stop_redis; stop_postgres ;;
  restart-postgres) passwords; stop_postgres; start_postgres ;;
  stop-postgres) stop_postgres ;;
  start-postgres) passwords; start_postgres ;;
  stop-redis) stop_redis ;;
  start-redis) passwords; start_redis ;;
  *) echo "unknown command: $command" >&2; exit 2 ;;
esac
