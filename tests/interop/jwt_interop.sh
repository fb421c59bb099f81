#!/usr/bin/env bash
# JWT interoperability (issue 3): tokens issued by bulwark verify with npm `jose` and Debian's
# python3-jwt using only the published JWKS; tokens `jose` signs with its own keys verify in
# `bulwark token verify --jwks`, and its bad tokens are rejected with the exact reason; and the
# same tokens pass (or get 401) through `bulwark serve` with jose's JWKS as an external issuer.
#
# usage: jwt_interop.sh BULWARK_BINARY ISSUE_HELPER WORK_DIR
# Exit 77 (ctest: skipped) when node/npm are absent or `npm install jose@5` cannot run.
set -euo pipefail
# bulwark refuses unknown BULWARK_* variables: drop whatever the caller's environment carries
# (CI exports BULWARK_TEST_* for the service tests).
for variable in $(compgen -e); do
  if [[ $variable == BULWARK_* ]]; then unset "$variable"; fi
done
bulwark=$1 issue=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
issuer=https://bulwark.interop.test audience=interop-api

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || skip "node not found (install nodejs to run the JWT interop test)"
command -v npm >/dev/null || skip "npm not found"
mkdir -p "$work"
# jose is installed once per build tree, at test time (never vendored).
if [[ ! -d "$work/node_modules/jose" ]]; then
  (cd "$work" && npm install --silent --no-audit --no-fund --no-save jose@5 >/dev/null 2>&1) ||
    skip "npm install jose@5 failed (no registry access?)"
fi
cp "$here"/*.mjs "$work"/  # ESM resolves 'jose' from the script's directory

python=/usr/bin/python3
if ! "$python" -c 'import jwt' 2>/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-jwt >/dev/null 2>&1 || true
  fi
fi
have_pyjwt=0
"$python" -c 'import jwt' 2>/dev/null && have_pyjwt=1
[[ $have_pyjwt == 1 ]] || echo "note: python3-jwt unavailable; skipping the PyJWT half"

run=$(mktemp -d "$work/run.XXXXXX")
trap 'rm -rf "$run"' EXIT

# 1. bulwark issues; jose and PyJWT verify with the JWKS alone.
for alg in EdDSA ES256; do
  data="$run/data-$alg"
  token=$("$issue" "$data" "$alg" "$issuer" "$audience" "user-$alg")
  "$bulwark" keys jwks --data-dir "$data" >"$run/jwks-$alg.json"
  grep -q '"d"' "$run/jwks-$alg.json" && fail "JWKS contains a private key"
  out=$(node "$work/verify_with_jose.mjs" "$run/jwks-$alg.json" "$token" "$issuer" "$audience" "$alg") ||
    fail "jose rejected a bulwark $alg token"
  [[ $out == *"\"sub\":\"user-$alg\""* ]] || fail "jose: unexpected claims $out"
  echo "ok: jose verifies bulwark $alg"
  if [[ $have_pyjwt == 1 ]]; then
    out=$("$python" "$here/verify_with_pyjwt.py" "$run/jwks-$alg.json" "$token" "$issuer" "$audience" "$alg") ||
      fail "PyJWT rejected a bulwark $alg token"
    [[ $out == *"\"sub\": \"user-$alg\""* ]] || fail "PyJWT: unexpected claims $out"
    echo "ok: PyJWT verifies bulwark $alg"
  fi
  # bulwark's own CLI agrees.
  echo "$token" | "$bulwark" token verify --jwks "$run/jwks-$alg.json" --issuer "$issuer" \
    --audience "$audience" >/dev/null || fail "bulwark token verify rejected its own $alg token"
done

# 2. jose issues with its own keys; bulwark verifies with jose's JWKS.
node "$work/sign_with_jose.mjs" "$run" "$issuer" "$audience" || fail "jose could not sign"
verify() {  # verify FILE EXPECTED_EXIT [EXTRA ARGS] -> stdout
  local file=$1 want=$2
  shift 2
  set +e
  out=$("$bulwark" token verify --jwks "$run/jwks.json" --issuer "$issuer" --audience "$audience" "$@" <"$run/$file")
  rc=$?
  set -e
  [[ $rc == "$want" ]] || fail "$file: exit $rc, expected $want ($out)"
}
for alg in EdDSA ES256 RS256 PS256; do
  verify "$alg.jwt" 0
  [[ $out == *'"sub":"jose-user"'* ]] || fail "$alg: unexpected claims $out"
  echo "ok: bulwark verifies jose $alg"
done
verify expired.jwt 1; [[ $out == expired:* ]] || fail "expired: got '$out'"
verify wrong_aud.jwt 1; [[ $out == wrong_audience:* ]] || fail "wrong_aud: got '$out'"
verify typ_jwt.jwt 1; [[ $out == wrong_typ:* ]] || fail "typ JWT: got '$out'"
verify typ_jwt.jwt 0 --typ jwt
verify alg_mismatch.jwt 1; [[ $out == alg_mismatch:* ]] || fail "alg mismatch: got '$out'"
verify expired.jwt 0 --signature-only
echo "ok: bulwark rejects jose's bad tokens with the exact reason"

# 3. The same jose tokens through `bulwark serve`: jose's JWKS configured as an external issuer,
# fetched over http:// from loopback (development mode only), protecting a route.
command -v curl >/dev/null || skip "curl not found (needed for the serve half)"
mkdir -p "$run/www/api" && echo ok >"$run/www/api/ok.txt" && cp "$run/jwks.json" "$run/www/"
"$python" -c '
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()' "$run/www" >"$run/www.port" 2>/dev/null &
www_pid=$!
serve_pid=
trap 'kill $www_pid ${serve_pid:-} 2>/dev/null; rm -rf "$run"' EXIT
for _ in $(seq 100); do [[ -s $run/www.port ]] && break; sleep 0.05; done
www_port=$(cat "$run/www.port")
printf '%s\n' '[[route]]' 'prefix = "/api/"' "upstream = \"http://127.0.0.1:$www_port\"" \
  'auth = "required"' 'roles = ["reader"]' '' '[[external_issuer]]' "issuer = \"$issuer\"" \
  "audiences = [\"$audience\"]" "jwks = \"http://127.0.0.1:$www_port/jwks.json\"" \
  >"$run/serve.toml"
BULWARK_LISTEN=127.0.0.1:0 BULWARK_DATA_DIR="$run/serve-data" BULWARK_NODE_ID=interop \
  "$bulwark" serve --config "$run/serve.toml" --workers 1 --auth-workers 1 2>"$run/serve.log" &
serve_pid=$!
for _ in $(seq 200); do grep -q '"msg":"listening"' "$run/serve.log" && break; sleep 0.05; done
port=$(grep -o '"port":"[0-9]*"' "$run/serve.log" | head -1 | tr -dc '0-9' || true)
[[ -n $port ]] || fail "bulwark serve did not start: $(cat "$run/serve.log")"
status() {  # status TOKEN_FILE -> HTTP status of the protected route with that token
  curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$run/$1")" \
    "http://127.0.0.1:$port/api/ok.txt"
}
for alg in EdDSA ES256 RS256 PS256; do
  [[ $(status "$alg.jwt") == 200 ]] || fail "serve refused jose's $alg token: $(cat "$run/serve.log")"
  echo "ok: bulwark serve lets jose's $alg token through (external issuer, fetched JWKS)"
done
for bad in expired wrong_aud typ_jwt alg_mismatch; do
  [[ $(status "$bad.jwt") == 401 ]] || fail "serve did not refuse $bad.jwt with 401"
done
echo "ok: bulwark serve refuses jose's bad tokens with 401"
echo "jwt interop: all checks passed"
