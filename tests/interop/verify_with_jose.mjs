// Verifies a bulwark-issued token with npm `jose` using only the published JWKS.
// usage: node verify_with_jose.mjs JWKS_FILE TOKEN ISSUER AUDIENCE ALG
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const [jwksFile, token, issuer, audience, alg] = process.argv.slice(2);
const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
const { payload, protectedHeader } = await jwtVerify(token, jwks, {
  issuer, audience, algorithms: [alg], typ: 'at+jwt', requiredClaims: ['sub', 'jti', 'sid', 'exp'],
});
if (protectedHeader.alg !== alg || !protectedHeader.kid) throw new Error('unexpected header');
console.log(JSON.stringify(payload));
