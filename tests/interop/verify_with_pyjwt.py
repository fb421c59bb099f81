"""Verifies a bulwark-issued token with Debian's python3-jwt (PyJWT) using only the JWKS.

usage: verify_with_pyjwt.py JWKS_FILE TOKEN ISSUER AUDIENCE ALG
"""
import json
import sys

import jwt

jwks_file, token, issuer, audience, alg = sys.argv[1:]
with open(jwks_file, encoding="utf-8") as f:
    jwks = jwt.PyJWKSet.from_json(f.read())
header = jwt.get_unverified_header(token)
if header.get("typ") != "at+jwt" or header.get("alg") != alg:
    sys.exit(f"unexpected header {header}")
key = next(k for k in jwks.keys if k.key_id == header["kid"])
claims = jwt.decode(token, key.key, algorithms=[alg], issuer=issuer, audience=audience,
                    options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]})
print(json.dumps(claims, sort_keys=True))
