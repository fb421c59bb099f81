#!/usr/bin/env bash
# JWT interoperability (issue 3): tokens issued by bulwark verify with npm `jose` and Debian's
# python3-jwt using only the published JWKS; tokens `jose` signs with its own keys verify in
# `bulwark token verify --jwks`, and its bad tokens are rejected with the exact reason.
#
# usage: jwt_interop.sh BULWARK_BINARY ISSUE_HELPER WORK_DIR
# Exit 77 (ctest: skipped) when node/npm are absent or `npm install jose@5` cannot run.
set -euo pipefail
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
echo "jwt interop: all checks passed"
