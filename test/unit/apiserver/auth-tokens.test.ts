// Service-account tokens without a server: keys, claims, verification failures, the bearer authenticator over a
// fake object getter, the union's 401 rules, and TokenRequest's expiry limits.
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ApiError } from '../../../api/errors.ts';
import { anonymousUser, unionAuthenticator } from '../../../control/apiserver/auth/authenticator.ts';
import { keyIdOf, parseSigningKey, parseVerificationKeys, verificationKeyOf, type SigningKey } from '../../../control/apiserver/auth/keys.ts';
import { bearerToken, ServiceAccountAuthenticator, type BoundObjectGetter } from '../../../control/apiserver/auth/serviceaccount-authenticator.ts';
import { defaultIssuer, TokenSigner } from '../../../control/apiserver/auth/token-signer.ts';
import { InvalidTokenError, verifyServiceAccountToken } from '../../../control/apiserver/auth/token-verifier.ts';
import { serviceAccountOptions } from '../../../control/apiserver/main.ts';
import { prepareTokenRequestSpec } from '../../../control/apiserver/registry/tokenrequest.ts';
import { createCA } from '../../../control/pki/index.ts';

function rsaKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return parseSigningKey(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
}
const key = rsaKey();
const otherKey = rsaKey();
const signer = new TokenSigner(key);
const sa = { name: 'bot', uid: 'uid-bot' };
const verifyOpts = { keys: [verificationKeyOf(key)], issuers: [defaultIssuer], audiences: [defaultIssuer] };

const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;

t.test('keys: algorithms, upstream key ids, PEM forms', async (t) => {
  t.equal(key.alg, 'RS256');
  const pub = createPublicKey(key.key);
  t.equal(key.kid, createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('base64url'), 'kid = base64url(sha256(PKIX DER))');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecKey = parseSigningKey(ec.privateKey.export({ type: 'sec1', format: 'pem' }) as string);
  t.equal(ecKey.alg, 'ES256');
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  t.equal(parseSigningKey(p384.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string).alg, 'ES384');
  // a key file with a public key, a certificate and a private key: three verification keys
  const ca = await createCA();
  const pem = `${pub.export({ type: 'spki', format: 'pem' })}${ca.certPem}${ec.privateKey.export({ type: 'pkcs8', format: 'pem' })}`;
  const keys = parseVerificationKeys(pem, 'keys.pem');
  t.same(keys.map((k) => k.alg), ['RS256', 'ES256', 'ES256']);
  t.equal(keys[0]!.kid, key.kid);
  t.equal(keys[2]!.kid, ecKey.kid);
  t.throws(() => parseSigningKey('nothing here', 'sa.key'), /sa\.key: no PEM private key found/);
  t.throws(() => parseVerificationKeys('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'sa.pub'), /sa\.pub: cannot read the PUBLIC KEY/);
  const ed = generateKeyPairSync('ed25519');
  t.throws(() => parseSigningKey(ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), /unsupported key type "ed25519"/);
  t.equal(keyIdOf(pub), key.kid);
});

t.test('claims as upstream writes them', async (t) => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const { token, claims, expiresAt } = await signer.sign({ namespace: 'ns1', serviceAccount: sa, audiences: ['a', 'b'], expirationSeconds: 600, pod: { name: 'p', uid: 'uid-p' }, node: { name: 'n', uid: 'uid-n' }, now });
  t.equal(claims.iss, defaultIssuer);
  t.equal(claims.sub, 'system:serviceaccount:ns1:bot');
  t.same(claims.aud, ['a', 'b']);
  t.equal(claims.iat, now / 1000);
  t.equal(claims.nbf, now / 1000);
  t.equal(claims.exp, now / 1000 + 600);
  t.equal(expiresAt.getTime(), now + 600_000);
  t.match(claims.jti, /^[0-9a-f-]{36}$/);
  t.same(claims['kubernetes.io'], { namespace: 'ns1', serviceaccount: sa, pod: { name: 'p', uid: 'uid-p' }, node: { name: 'n', uid: 'uid-n' } });
  const [h, p] = token.split('.');
  t.same(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: 'RS256', kid: key.kid });
  t.same(JSON.parse(Buffer.from(p!, 'base64url').toString()), claims, 'the signed payload is exactly the claims');
  const other = await signer.sign({ namespace: 'ns1', serviceAccount: sa, audiences: ['a'], expirationSeconds: 600, now });
  t.not(other.claims.jti, claims.jti, 'every token has its own jti');
  t.notOk('pod' in other.claims['kubernetes.io'], 'unbound tokens name only the namespace and service account');
});

t.test('verification: good, foreign, bad signature, expired, not yet valid, wrong audience, tampered', async (t) => {
  const now = Date.now();
  const good = (await signer.sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600, now })).token;
  t.equal((await verifyServiceAccountToken(good, verifyOpts))?.sub, 'system:serviceaccount:default:bot');
  t.equal(await verifyServiceAccountToken('not-a-jwt', verifyOpts), undefined, 'not a JWT: not ours');
  const foreign = (await new TokenSigner(key, 'https://elsewhere').sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600 })).token;
  t.equal(await verifyServiceAccountToken(foreign, verifyOpts), undefined, 'another issuer: not ours');
  const forged = (await new TokenSigner(otherKey).sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600 })).token;
  await t.rejects(verifyServiceAccountToken(forged, verifyOpts), new InvalidTokenError('service account token could not be verified: invalid signature'));
  await t.rejects(verifyServiceAccountToken(good, { ...verifyOpts, now: now + 3600_000 + 61_000 }), /service account token has expired/);
  t.ok(await verifyServiceAccountToken(good, { ...verifyOpts, now: now + 3600_000 + 30_000 }), 'a minute of leeway, as go-jose');
  await t.rejects(verifyServiceAccountToken(good, { ...verifyOpts, now: now - 120_000 }), /not valid yet/);
  await t.rejects(verifyServiceAccountToken(good, { ...verifyOpts, audiences: ['vault'] }), /token audiences \["https:\/\/kubernetes.default.svc.cluster.local"\] is invalid for the target audiences \["vault"\]/);
  const [h, p, s] = good.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  claims['kubernetes.io'].serviceaccount.name = 'admin';
  claims.sub = 'system:serviceaccount:default:admin';
  await t.rejects(verifyServiceAccountToken(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`, verifyOpts), /invalid signature/);
  // a second verification key (rotation): tokens from either key pass
  const rotated = (await new TokenSigner(otherKey).sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600 })).token;
  t.ok(await verifyServiceAccountToken(rotated, { ...verifyOpts, keys: [verificationKeyOf(key), verificationKeyOf(otherKey)] }));
});

function fakeGetter(objects: Record<string, { uid: string; deletionTimestamp?: string }>): BoundObjectGetter & { objects: typeof objects } {
  return {
    objects,
    async get(resource, ns, name) {
      const o = objects[`${resource}/${ns ?? ''}/${name}`];
      return o ? { metadata: { name, namespace: ns, uid: o.uid, deletionTimestamp: o.deletionTimestamp } } : undefined;
    },
  };
}

t.test('authenticator: user, groups, extra; deleted or replaced objects revoke', async (t) => {
  const getter = fakeGetter({ 'serviceaccounts/default/bot': { uid: 'uid-bot' }, 'pods/default/p': { uid: 'uid-p' } });
  const auth = new ServiceAccountAuthenticator({ ...verifyOpts, getter });
  const token = (await signer.sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600 })).token;
  const user = await auth.authenticate(req(`Bearer ${token}`));
  t.equal(user?.name, 'system:serviceaccount:default:bot');
  t.equal(user?.uid, 'uid-bot');
  t.same(user?.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
  t.match(user?.extra?.['authentication.kubernetes.io/credential-id']?.[0], /^JTI=[0-9a-f-]{36}$/);
  t.equal(await auth.authenticate(req()), null, 'no header: not mine');
  t.equal(await auth.authenticate(req('Basic abc')), null, 'not a bearer token');
  t.equal(await auth.authenticate(req('Bearer opaque-static-token')), null, 'a token that is not a JWT is left to others');

  const podBound = (await signer.sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600, pod: { name: 'p', uid: 'uid-p' } })).token;
  t.same((await auth.authenticateToken(podBound))?.extra?.['authentication.kubernetes.io/pod-name'], ['p']);
  getter.objects['pods/default/p'] = { uid: 'uid-p2' };
  await t.rejects(auth.authenticateToken(podBound), /has been invalidated/, 'pod replaced under the same name');
  delete getter.objects['pods/default/p'];
  await t.rejects(auth.authenticateToken(podBound), /has been invalidated/, 'pod gone');

  getter.objects['serviceaccounts/default/bot'] = { uid: 'uid-other' };
  await t.rejects(auth.authenticateToken(token), /has been invalidated/, 'service account recreated: new uid');
  delete getter.objects['serviceaccounts/default/bot'];
  await t.rejects(auth.authenticateToken(token), /has been invalidated/, 'service account deleted');
});

t.test('union: invalid or unrecognised bearer tokens are 401, no credentials are anonymous', async (t) => {
  const getter = fakeGetter({ 'serviceaccounts/default/bot': { uid: 'uid-bot' } });
  const union = unionAuthenticator([new ServiceAccountAuthenticator({ ...verifyOpts, getter })], true);
  const token = (await signer.sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 3600 })).token;
  t.equal((await union.authenticate(req(`Bearer ${token}`)))?.name, 'system:serviceaccount:default:bot');
  t.same(await union.authenticate(req()), anonymousUser);
  const expired = (await signer.sign({ namespace: 'default', serviceAccount: sa, audiences: [defaultIssuer], expirationSeconds: 600, now: Date.now() - 3600_000 })).token;
  for (const [what, header] of [['expired', `Bearer ${expired}`], ['garbage', 'Bearer garbage'], ['tampered', `Bearer ${token.slice(0, -4)}AAAA`]]) {
    const err = await Promise.resolve().then(() => union.authenticate(req(header))).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof ApiError && err.code === 401 && err.message === 'Unauthorized', `${what} -> 401 Unauthorized`);
  }
  t.equal(bearerToken(req('bearer  ')), undefined);
  t.equal(bearerToken(req('Bearer abc def')), 'abc');
});

t.test('TokenRequest spec: defaults and the expiry limits', async (t) => {
  const spec: Record<string, any> = {};
  t.same(prepareTokenRequestSpec(spec, { apiAudiences: ['api'] }), []);
  t.same(spec, { audiences: ['api'], expirationSeconds: 3600 });
  t.same(prepareTokenRequestSpec({ expirationSeconds: 600 }, { apiAudiences: ['api'] }), [], '10 minutes is the minimum and allowed');
  const short = (() => { try { prepareTokenRequestSpec({ expirationSeconds: 60 }, { apiAudiences: ['api'] }); } catch (e) { return e; } })();
  t.ok(short instanceof ApiError && short.code === 422);
  t.equal((short as ApiError).message, 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes');
  t.throws(() => prepareTokenRequestSpec({ expirationSeconds: 2 ** 32 + 1 }, { apiAudiences: ['api'] }), /may not specify a duration larger than 2\^32 seconds/);
  const capped: Record<string, any> = { expirationSeconds: 86400 };
  t.same(prepareTokenRequestSpec(capped, { apiAudiences: ['api'], maxExpirationSeconds: 7200 }), ['requested expiration of 86400 seconds shortened to 7200 seconds']);
  t.equal(capped.expirationSeconds, 7200);
});

t.test('apiserver flags: sa.key/sa.pub made in the PKI directory and kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kts-sa-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = serviceAccountOptions({ serviceAccountIssuer: ['https://a', 'https://b'], apiAudiences: 'x, y' }, dir);
  t.equal(first.signingKey?.alg, 'RS256');
  t.match(readFileSync(join(dir, 'sa.key'), 'utf8'), /^-----BEGIN RSA PRIVATE KEY-----/);
  t.equal(first.verificationKeys?.[0]?.kid, first.signingKey?.kid, 'sa.pub verifies what sa.key signs');
  t.same(first.issuers, ['https://a', 'https://b']);
  t.same(first.apiAudiences, ['x', 'y']);
  const again = serviceAccountOptions({}, dir);
  t.equal(again.signingKey?.kid, first.signingKey?.kid, 'the pair survives a restart');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const f = join(dir, 'ec.key');
  writeFileSync(f, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  t.equal(serviceAccountOptions({ serviceAccountSigningKeyFile: f, serviceAccountMaxTokenExpiration: '24h' }, undefined).maxTokenExpirationSeconds, 86400);
  t.throws(() => serviceAccountOptions({ serviceAccountMaxTokenExpiration: '10m' }, undefined), /at least 1h/);
});
