// Service-account tokens and the review APIs driven by the real kubectl, over etcd 3.4 and over kts etcd:
// create token, authenticate with it, whoami, can-i (with --list), and the failures kubectl users see.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { kubeconfig } from '../../control/pki/index.ts';
import { until } from '../support/until.ts';
import { startTestCluster, type TestCluster } from '../../control/apiserver/testing/server.ts';
import type { EtcdKind } from '../../control/apiserver/testing/etcd.ts';

const exec = promisify(execFile);

interface Run { out: string; err: string; code: number }

function kubectlFor(c: TestCluster, kubeconfigPath = c.kubeconfigPath) {
  const base = ['--kubeconfig', kubeconfigPath, '--cache-dir', join(c.dir, 'cache')];
  return async (args: string[], opts: { allowFail?: boolean } = {}): Promise<Run> => {
    try {
      const { stdout, stderr } = await exec('kubectl', [...base, ...args], { timeout: 60_000, maxBuffer: 16 << 20 });
      return { out: stdout, err: stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      if (!opts.allowFail) throw new Error(`kubectl ${args.join(' ')} failed (${err.code}): ${err.stderr}`);
      return { out: err.stdout ?? '', err: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
    }
  };
}

function payloadOf(jwt: string): Record<string, any> {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new Error(`not a JWT: ${jwt.slice(0, 40)}`);
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
}

async function suite(t: Test, kind: EtcdKind): Promise<void> {
  const c = await startTestCluster({}, kind);
  t.teardown(() => c.stop());
  const admin = kubectlFor(c);
  // a kubeconfig that carries no credentials of its own: --token supplies them
  const bare = join(c.dir, 'bare.kubeconfig');
  writeFileSync(bare, kubeconfig({ server: c.url, caPem: c.caPem, user: 'nobody' }));
  const anyone = kubectlFor(c, bare);

  await t.test('discovery lists the review resources and serviceaccounts/token', async (t) => {
    const { out } = await admin(['api-resources']);
    t.match(out, /^selfsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+false\s+SelfSubjectAccessReview$/m);
    t.match(out, /^subjectaccessreviews\s+authorization\.k8s\.io\/v1\s+false\s+SubjectAccessReview$/m);
    t.match(out, /^localsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+true\s+LocalSubjectAccessReview$/m);
    t.match(out, /^selfsubjectreviews\s+authentication\.k8s\.io\/v1\s+false\s+SelfSubjectReview$/m);
    t.match(out, /^tokenreviews\s+authentication\.k8s\.io\/v1\s+false\s+TokenReview$/m);
    const v1 = JSON.parse((await admin(['get', '--raw', '/api/v1'])).out);
    t.ok(v1.resources.some((r: { name: string; kind: string }) => r.name === 'serviceaccounts/token' && r.kind === 'TokenRequest'));
  });

  let token = '';
  await t.test('create token for a new service account', async (t) => {
    t.match((await admin(['create', 'serviceaccount', 'bot'])).out, 'serviceaccount/bot created');
    const sa = JSON.parse((await admin(['get', 'serviceaccount', 'bot', '-o', 'json'])).out);
    token = (await admin(['create', 'token', 'bot'])).out.trim();
    const p = payloadOf(token);
    t.equal(p.sub, 'system:serviceaccount:default:bot');
    t.equal(p.iss, 'https://kubernetes.default.svc.cluster.local');
    t.same(p.aud, ['https://kubernetes.default.svc.cluster.local'], 'audience defaults to the issuer');
    t.equal(p.exp - p.iat, 3600, 'an hour by default');
    t.ok(Math.abs(p.iat - Date.now() / 1000) < 300, 'issued now');
    t.same(p['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'bot', uid: sa.metadata.uid } });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'));
    t.ok(['RS256', 'ES256'].includes(header.alg), `signed ${header.alg}`);
    const custom = payloadOf((await admin(['create', 'token', 'bot', '--audience=vault', '--duration=2h'])).out.trim());
    t.same(custom.aud, ['vault']);
    t.equal(custom.exp - custom.iat, 7200);
    await admin(['create', 'secret', 'generic', 's1', '--from-literal=k=v']);
    const secret = JSON.parse((await admin(['get', 'secret', 's1', '-o', 'json'])).out);
    const bound = payloadOf((await admin(['create', 'token', 'bot', '--bound-object-kind=Secret', '--bound-object-name=s1'])).out.trim());
    t.same(bound['kubernetes.io'].secret, { name: 's1', uid: secret.metadata.uid }, 'bound to the secret');
  });

  await t.test('the token authenticates as the service account', async (t) => {
    const who = await anyone(['--token', token, 'auth', 'whoami']);
    t.match(who.out, /^Username\s+system:serviceaccount:default:bot$/m);
    t.match(who.out, /^Groups\s+\[system:serviceaccounts system:serviceaccounts:default system:authenticated\]$/m);
    const pods = await anyone(['--token', token, 'get', 'pods']);
    t.equal(pods.code, 0);
    t.match(pods.err + pods.out, 'No resources found in default namespace.');
    // a kubeconfig holding the token works the same way
    const withToken = join(c.dir, 'bot.kubeconfig');
    writeFileSync(withToken, kubeconfig({ server: c.url, caPem: c.caPem, user: 'bot', token }));
    t.match((await kubectlFor(c, withToken)(['auth', 'whoami', '-o', 'json'])).out, /"username": "system:serviceaccount:default:bot"/);
  });

  await t.test('whoami for the certificate admin', async (t) => {
    const who = await admin(['auth', 'whoami']);
    t.match(who.out, /^Username\s+kubernetes-admin$/m);
    t.match(who.out, /^Groups\s+\[system:masters system:authenticated\]$/m);
  });

  await t.test('a tampered token is 401, not anonymous', async (t) => {
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
    claims.sub = 'system:serviceaccount:kube-system:admin';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const res = await anyone(['--token', forged, 'get', 'pods'], { allowFail: true });
    t.equal(res.code, 1);
    t.match(res.err, 'error: You must be logged in to the server (Unauthorized)');
  });

  await t.test('create token failures read as upstream words them', async (t) => {
    const missing = await admin(['create', 'token', 'missing'], { allowFail: true });
    t.equal(missing.code, 1);
    t.match(missing.err, 'error: failed to create token: serviceaccounts "missing" not found');
    const short = await admin(['create', 'token', 'bot', '--duration=1m'], { allowFail: true });
    t.equal(short.code, 1);
    t.match(short.err, 'error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes');
  });

  await t.test('auth can-i asks the authorizer (allow-all here)', async (t) => {
    t.equal((await admin(['auth', 'can-i', 'create', 'pods'])).out.trim(), 'yes');
    t.equal((await admin(['auth', 'can-i', 'get', '/healthz'])).out.trim(), 'yes');
    t.equal((await anyone(['--token', token, 'auth', 'can-i', 'delete', 'deployments.apps', '-n', 'kube-system'])).out.trim(), 'yes');
    const list = await admin(['auth', 'can-i', '--list']);
    t.match(list.out, /^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs$/m);
    t.match(list.out, /^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m, 'every resource, every verb');
    t.match(list.out, /^\s+\[\*\]\s+\[\]\s+\[\*\]$/m, 'every non-resource URL');
  });

  await t.test('deleting the service account revokes its tokens', async (t) => {
    await admin(['delete', 'serviceaccount', 'bot']);
    // the authenticator reads the watch cache, which follows etcd by an event's delivery time
    const res = await until('the token to be refused', async () => {
      const r = await anyone(['--token', token, 'get', 'pods'], { allowFail: true });
      return r.code !== 0 && r;
    });
    t.match(res.err, 'error: You must be logged in to the server (Unauthorized)');
    // same name again: a new uid, so the old token stays dead
    await admin(['create', 'serviceaccount', 'bot']);
    await admin(['get', 'serviceaccount', 'bot']);
    t.equal((await anyone(['--token', token, 'get', 'pods'], { allowFail: true })).code, 1);
  });
}

for (const kind of ['etcd-3.4', 'kts-etcd'] as const) {
  t.test(`kubectl auth over ${kind}`, (t) => suite(t, kind));
}
