#!/usr/bin/env bash
# Installs, builds and starts bulwark on its embedded default in front of a small demo upstream
# (python3's http.server on 127.0.0.1:9000). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-tests
scripts/build.sh -DBULWARK_TESTS=OFF

mkdir -p build/demo-www
echo '{"hello":"from the demo upstream"}' > build/demo-www/index.json
python3 -m http.server 9000 --bind 127.0.0.1 --directory build/demo-www >/dev/null 2>&1 &
upstream=$!
trap 'kill $upstream 2>/dev/null || true' EXIT

cat <<'TXT'
bulwark is starting on http://127.0.0.1:8080 in front of http://127.0.0.1:9000. Try:
  curl -i http://127.0.0.1:8080/index.json          # proxied, with X-Request-Id
  curl -s http://127.0.0.1:8080/readyz               # readiness per component
  curl -s http://127.0.0.1:8080/metrics | head       # Prometheus metrics
  curl -i -H 'Transfer-Encoding: chunked' -H 'Content-Length: 3' -d abc http://127.0.0.1:8080/
                                                     # request smuggling shape: 400
  curl -s -H 'Content-Type: application/json' -d '{"username":"alice","password":"a long passphrase"}' \
       http://127.0.0.1:8080/auth/register             # open sign-up (development mode)
  curl -s -H 'Content-Type: application/json' -d '{"username":"alice","password":"a long passphrase"}' \
       http://127.0.0.1:8080/auth/login                # access + refresh tokens
  curl -s http://127.0.0.1:8080/.well-known/jwks.json # public keys
  ./build/bulwark config check                       # validate the configuration
  ./build/bulwark audit tail -n 5                    # the signed audit trail (NDJSON)
  ./build/bulwark audit verify                       # check its MAC chain
TXT
BULWARK_UPSTREAM=http://127.0.0.1:9000 BULWARK_LISTEN=127.0.0.1:8080 ./build/bulwark serve
