// Signs tokens with npm `jose` and its own fresh keys, and writes the matching public JWKS, so
// `bulwark token verify --jwks` can be checked against an independent issuer.
// usage: node sign_with_jose.mjs OUT_DIR ISSUER AUDIENCE
// Writes OUT_DIR/jwks.json and OUT_DIR/<name>.jwt for each case below.
import { writeFileSync } from 'node:fs';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';

const [outDir, issuer, audience] = process.argv.slice(2);
const algs = ['EdDSA', 'ES256', 'RS256', 'PS256'];
const keys = [];
const signers = {};
for (const alg of algs) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  jwk.kid = `jose-${alg}`;
  jwk.use = 'sig';
  // RS256 keys are published without alg: bulwark must infer RS256 from kty RSA.
  if (alg !== 'RS256') jwk.alg = alg;
  keys.push(jwk);
  signers[alg] = privateKey;
}
writeFileSync(`${outDir}/jwks.json`, JSON.stringify({ keys }));

const now = Math.floor(Date.now() / 1000);
async function token(alg, { typ = 'at+jwt', exp = now + 300, aud = audience, kid } = {}) {
  return new SignJWT({ sub: 'jose-user', roles: ['reader'], jti: `jti-${alg}`, sid: 's-1' })
    .setProtectedHeader({ alg, typ, kid: kid ?? `jose-${alg}` })
    .setIssuer(issuer).setAudience(aud).setIssuedAt(now).setNotBefore(now).setExpirationTime(exp)
    .sign(signers[alg]);
}
for (const alg of algs) writeFileSync(`${outDir}/${alg}.jwt`, await token(alg));
writeFileSync(`${outDir}/expired.jwt`, await token('EdDSA', { exp: now - 3600 }));
writeFileSync(`${outDir}/wrong_aud.jwt`, await token('ES256', { aud: 'someone-else' }));
writeFileSync(`${outDir}/typ_jwt.jwt`, await token('RS256', { typ: 'JWT' }));
// An ES256 signature under the EdDSA key's kid: the key owns its algorithm.
writeFileSync(`${outDir}/alg_mismatch.jwt`, await token('ES256', { kid: 'jose-EdDSA' }));
