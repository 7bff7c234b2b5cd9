// Service-account tokens and reviews against `kts apiserver` (the real binary, its --pki-dir making sa.key) over
// etcd 3.4: TokenRequest in JSON and protobuf, bound objects, expiry limits, the bearer authenticator's 401s,
// revocation by deletion, TokenReview, SubjectAccessReview and SelfSubjectReview.
import { createLocalJWKSet, jwtVerify } from 'jose';
import protobuf from 'protobufjs';
import t from 'tap';
import { PROTO } from '../../../control/apiserver/protobuf/schema.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const cp = await startControlPlane();
t.teardown(() => cp.stop());

interface Res { status: number; body: any }
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = Buffer.isBuffer(body) ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${cp.server}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));

const SA = '/api/v1/namespaces/default/serviceaccounts';
async function createSA(name: string): Promise<any> {
  const r = await call('POST', SA, { metadata: { name } });
  if (r.status !== 201) throw new Error(`creating serviceaccount ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
async function requestToken(name: string, spec: Record<string, unknown> = {}): Promise<Res> {
  return call('POST', `${SA}/${name}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
}

t.test('TokenRequest (JSON): the reply and the token\'s claims', async (t) => {
  const sa = await createSA('robot');
  const r = await requestToken('robot', { audiences: ['api', 'vault'], expirationSeconds: 1200 });
  t.equal(r.status, 201);
  t.equal(r.body.kind, 'TokenRequest');
  t.equal(r.body.apiVersion, 'authentication.k8s.io/v1');
  t.same(r.body.spec.audiences, ['api', 'vault']);
  const claims = payloadOf(r.body.status.token);
  t.equal(claims.sub, 'system:serviceaccount:default:robot');
  t.same(claims.aud, ['api', 'vault']);
  t.equal(claims.exp - claims.iat, 1200);
  t.equal(Date.parse(r.body.status.expirationTimestamp) / 1000, claims.exp, 'status.expirationTimestamp is the exp claim');
  t.same(claims['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'robot', uid: sa.metadata.uid } });
  const header = JSON.parse(Buffer.from(r.body.status.token.split('.')[0], 'base64url').toString());
  t.equal(header.alg, 'RS256', 'sa.key generated in --pki-dir is RSA, as kubeadm makes it');
});

t.test('TokenRequest (protobuf, as kubectl sends it)', async (t) => {
  const root = protobuf.parse(PROTO, { keepCase: true }).root;
  const TokenRequest = root.lookupType('k8s.TokenRequest');
  const Unknown = root.lookupType('k8s.Unknown');
  const raw = TokenRequest.encode(TokenRequest.fromObject({ metadata: {}, spec: { expirationSeconds: 900 } })).finish();
  const body = Buffer.concat([Buffer.from('k8s\0', 'latin1'), Unknown.encode(Unknown.fromObject({ typeMeta: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' }, raw })).finish()]);
  const r = await call('POST', `${SA}/robot/token`, body, { 'content-type': 'application/vnd.kubernetes.protobuf', accept: 'application/vnd.kubernetes.protobuf,application/json' });
  t.equal(r.status, 201);
  const claims = payloadOf(r.body.status.token);
  t.equal(claims.exp - claims.iat, 900);
  t.same(claims.aud, ['https://kubernetes.default.svc.cluster.local'], 'no audiences: the apiserver\'s');
});

t.test('TokenRequest errors: missing account, expiry limits, bad bound objects', async (t) => {
  const missing = await requestToken('nobody');
  t.equal(missing.status, 404);
  t.equal(missing.body.message, 'serviceaccounts "nobody" not found');
  const short = await requestToken('robot', { expirationSeconds: 599 });
  t.equal(short.status, 422);
  t.equal(short.body.reason, 'Invalid');
  t.equal(short.body.message, 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes');
  t.equal((await requestToken('robot', { expirationSeconds: 600 })).status, 201, 'exactly ten minutes is fine');
  const kind = await requestToken('robot', { boundObjectRef: { kind: 'ConfigMap', apiVersion: 'v1', name: 'x' } });
  t.equal(kind.status, 400);
  t.equal(kind.body.message, 'cannot bind token to object of type /v1, Kind=ConfigMap');
  const noPod = await requestToken('robot', { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'ghost' } });
  t.equal(noPod.status, 404);
  t.equal(noPod.body.message, 'pods "ghost" not found');
  const wrongName = await call('POST', `${SA}/robot/token`, { metadata: { name: 'other' }, spec: {} });
  t.equal(wrongName.status, 422);
  t.match(wrongName.body.message, 'metadata.name: Invalid value: "other": must match the service account name if specified');
  const get = await call('GET', `${SA}/robot/token`);
  t.ok(get.status === 404 || get.status === 405, `GET on the token subresource is refused (${get.status})`);
});

t.test('the bearer authenticator: who the token is, and 401 for anything wrong with it', async (t) => {
  const token = (await requestToken('robot')).body.status.token;
  const who = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }, bearer(token));
  t.equal(who.status, 201);
  t.equal(who.body.status.userInfo.username, 'system:serviceaccount:default:robot');
  t.same(who.body.status.userInfo.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
  t.match(who.body.status.userInfo.extra['authentication.kubernetes.io/credential-id'][0], /^JTI=/);
  t.equal((await call('GET', '/api/v1/namespaces/default/pods', undefined, bearer(token))).status, 200);
  const anon = await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { kind: 'SelfSubjectReview' });
  t.equal(anon.body.status.userInfo.username, 'system:anonymous', 'no credentials: anonymous');

  const vaultOnly = (await requestToken('robot', { audiences: ['vault'] })).body.status.token;
  const [h, p, s] = token.split('.');
  const claims = payloadOf(token);
  claims.sub = 'system:serviceaccount:kube-system:root';
  const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  for (const [what, tok] of [['tampered', tampered], ['wrong audience', vaultOnly], ['not a JWT', 'opaque'], ['truncated', token.slice(0, -10)]]) {
    const r = await call('GET', '/api/v1/namespaces/default/pods', undefined, bearer(tok!));
    t.equal(r.status, 401, `${what} -> 401`);
    t.same({ kind: r.body.kind, reason: r.body.reason, message: r.body.message, code: r.body.code }, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized', code: 401 });
  }
});

t.test('tokens bound to a pod die with it; deleting the account revokes the rest', async (t) => {
  await createSA('worker');
  const pod = await call('POST', '/api/v1/namespaces/default/pods', {
    metadata: { name: 'w1' }, spec: { serviceAccountName: 'worker', containers: [{ name: 'c', image: 'busybox:1.36' }] },
  });
  t.equal(pod.status, 201);
  const otherSA = await requestToken('robot', { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'w1' } });
  t.equal(otherSA.status, 400);
  t.equal(otherSA.body.message, 'cannot bind token for serviceaccount "robot" to pod running with different serviceaccount name.');
  const stale = await requestToken('worker', { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'w1', uid: 'not-the-uid' } });
  t.equal(stale.status, 409);
  const bound = await requestToken('worker', { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'w1', uid: pod.body.metadata.uid } });
  t.equal(bound.status, 201);
  const podToken = bound.body.status.token;
  t.same(payloadOf(podToken)['kubernetes.io'].pod, { name: 'w1', uid: pod.body.metadata.uid });
  const plain = (await requestToken('worker')).body.status.token;
  t.equal((await call('GET', '/api/v1/namespaces/default/pods', undefined, bearer(podToken))).status, 200);

  t.equal((await call('DELETE', '/api/v1/namespaces/default/pods/w1')).status, 200);
  await until('the pod-bound token to be refused', async () => (await call('GET', '/api/v1/namespaces/default/pods', undefined, bearer(podToken))).status === 401);
  t.equal((await call('GET', '/api/v1/namespaces/default/pods', undefined, bearer(plain))).status, 200, 'the unbound token still works');
  t.equal((await call('DELETE', `${SA}/worker`)).status, 200);
  await until('the account\'s token to be refused', async () => (await call('GET', '/api/v1/namespaces/default/pods', undefined, bearer(plain))).status === 401);
  t.pass('deleting the service account revoked its token');
});

t.test('TokenReview answers for a token without failing the request', async (t) => {
  const token = (await requestToken('robot')).body.status.token;
  const ok = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
  t.equal(ok.status, 201);
  t.equal(ok.body.status.authenticated, true);
  t.equal(ok.body.status.user.username, 'system:serviceaccount:default:robot');
  t.same(ok.body.status.audiences, ['https://kubernetes.default.svc.cluster.local']);
  const vault = (await requestToken('robot', { audiences: ['vault'] })).body.status.token;
  const forVault = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: vault, audiences: ['vault', 'other'] } });
  t.equal(forVault.body.status.authenticated, true);
  t.same(forVault.body.status.audiences, ['vault'], 'the audiences both sides name');
  const bad = await call('POST', '/apis/authentication.k8s.io/v1/tokenreviews', { spec: { token: vault } });
  t.equal(bad.status, 201);
  t.notOk(bad.body.status.authenticated);
  t.match(bad.body.status.error, /token audiences .* is invalid for the target audiences/);
});

t.test('access reviews: methods, scopes and what the allow-all authorizer says', async (t) => {
  const ssar = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { spec: { resourceAttributes: { verb: 'create', resource: 'pods', namespace: 'default' } } });
  t.equal(ssar.status, 201);
  t.same(ssar.body.status, { allowed: true });
  const sar = await call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { spec: { user: 'bob', nonResourceAttributes: { path: '/metrics', verb: 'get' } } });
  t.equal(sar.status, 201);
  t.same(sar.body.status, { allowed: true });
  const lsar = await call('POST', '/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews', { spec: { groups: ['ops'], resourceAttributes: { verb: 'get', resource: 'secrets' } } });
  t.equal(lsar.status, 201);
  t.equal(lsar.body.spec.resourceAttributes.namespace, 'default');
  t.equal((await call('GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).status, 405);
  t.equal((await call('POST', '/apis/authorization.k8s.io/v1/namespaces/default/selfsubjectaccessreviews', { spec: {} })).status, 404, 'cluster-scoped');
  const invalid = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', { spec: {} });
  t.equal(invalid.status, 422);
  const rules = await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { spec: { namespace: 'default' } });
  t.equal(rules.body.status.incomplete, false);
  const disco = await call('GET', '/apis/authorization.k8s.io/v1');
  t.same(disco.body.resources.map((r: { name: string; verbs: string[] }) => `${r.name}:${r.verbs.join(',')}`).sort(),
    ['localsubjectaccessreviews:create', 'selfsubjectaccessreviews:create', 'selfsubjectrulesreviews:create', 'subjectaccessreviews:create']);
});

t.test('issuer discovery: an OIDC library verifies a token from the published keys', async (t) => {
  const conf = await call('GET', '/.well-known/openid-configuration');
  t.equal(conf.status, 200);
  t.equal(conf.body.issuer, 'https://kubernetes.default.svc.cluster.local');
  t.match(conf.body.jwks_uri, /^https:\/\/127\.0\.0\.1:\d+\/openid\/v1\/jwks$/);
  t.same(conf.body.id_token_signing_alg_values_supported, ['RS256']);
  const res = await fetch(`${cp.server}/openid/v1/jwks`);
  t.match(res.headers.get('content-type'), /^application\/jwk-set\+json/);
  const jwks = await res.json() as { keys: { kty: string; use: string; kid: string }[] };
  t.same(jwks.keys.map((k) => [k.kty, k.use]), [['RSA', 'sig']]);
  const token = (await requestToken('robot', { audiences: ['outside'] })).body.status.token;
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks as never), { issuer: conf.body.issuer, audience: 'outside' });
  t.equal(payload.sub, 'system:serviceaccount:default:robot');
});
