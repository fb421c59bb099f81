#!/usr/bin/env bash
# Installs what the benchmarks in bench/ need on Debian 12: nginx (the anchor bulwark is compared
# with), wrk (the load generator), curl and procps (readiness checks, pgrep). Idempotent: a package
# already installed is left alone, and apt-get runs only when something is missing.
set -euo pipefail

installed() { dpkg -s "$1" >/dev/null 2>&1; }

missing=()
# Any Debian nginx flavour provides /usr/sbin/nginx with the upstream keepalive module and $request_id.
if ! installed nginx-light && ! installed nginx && ! installed nginx-full && ! installed nginx-extras \
   && ! installed nginx-core; then
  if apt-cache show nginx-light >/dev/null 2>&1; then missing+=(nginx-light); else missing+=(nginx); fi
fi
# libbenchmark-dev for bench/jwt and bench/audit; libjwt-dev is bench/jwt's optional anchor.
for pkg in wrk curl procps libbenchmark-dev libjwt-dev valgrind; do
  installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-bench-deps: missing ${missing[*]}; run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi

echo "install-bench-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends "${missing[@]}"
