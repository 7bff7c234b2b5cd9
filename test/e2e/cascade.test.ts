// `kubectl delete --cascade=background|foreground|orphan` with the garbage collector running in process, once over
// etcd 3.4 and once over kts etcd. Owners are Deployments made by kubectl (no deployment controller runs, so the
// only dependents are the ConfigMaps applied with ownerReferences to them).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { loadKubeconfigFile } from '../../client/kubeconfig.ts';
import { RestClient } from '../../client/rest.ts';
import { startTestCluster, type TestCluster } from '../../control/apiserver/testing/server.ts';
import type { EtcdKind } from '../../control/apiserver/testing/etcd.ts';
import { startGarbageCollector } from '../../control/controllers/garbagecollector/standalone.ts';
import { until } from '../support/until.ts';

const exec = promisify(execFile);

function kubectlFor(c: TestCluster) {
  const base = ['--kubeconfig', c.kubeconfigPath, '--cache-dir', join(c.dir, 'cache')];
  return async (args: string[], opts: { allowFail?: boolean } = {}): Promise<{ out: string; err: string; code: number }> => {
    try {
      const { stdout, stderr } = await exec('kubectl', [...base, ...args], { timeout: 90_000, maxBuffer: 16 << 20 });
      return { out: stdout, err: stderr, code: 0 };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; code?: number };
      if (!opts.allowFail) throw new Error(`kubectl ${args.join(' ')} failed (${err.code}): ${err.stderr}`);
      return { out: err.stdout ?? '', err: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
    }
  };
}

const deployment = (name: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: web, image: nginx:1.25}]
`;

const dependent = (name: string, set: string, owner: { name: string; uid: string }, extra = '') => `
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  labels: {set: ${set}}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: ${owner.name}, uid: ${owner.uid}, controller: true, blockOwnerDeletion: true}
${extra}data: {k: v}
`;

async function suite(t: Test, kind: EtcdKind): Promise<void> {
  const c = await startTestCluster({}, kind);
  t.teardown(() => c.stop());
  const client = new RestClient({ ...loadKubeconfigFile(c.kubeconfigPath), qps: 0 });
  t.teardown(() => client.close());
  const gc = startGarbageCollector(client, { workers: 2 });
  t.teardown(() => gc.stop());
  await gc.synced;
  const k = kubectlFor(c);

  /** kubectl apply a Deployment and `n` ConfigMaps it owns (label set=<set>); returns the owner's uid. */
  const ownerWithDependents = async (owner: string, set: string, n: number, extra = ''): Promise<string> => {
    const f = join(c.dir, `${owner}.yaml`);
    writeFileSync(f, deployment(owner));
    t.match((await k(['apply', '-f', f])).out, `deployment.apps/${owner} created`);
    const uid = (await k(['get', 'deploy', owner, '-o', 'jsonpath={.metadata.uid}'])).out.trim();
    const docs = Array.from({ length: n }, (_, i) => dependent(`${set}-${i}`, set, { name: owner, uid }, i === 0 ? extra : '')).join('---\n');
    writeFileSync(f, docs);
    await k(['apply', '-f', f]);
    return uid;
  };
  const namesIn = async (set: string) => (await k(['get', 'configmaps', '-l', `set=${set}`, '-o', 'name'])).out.split('\n').filter(Boolean).sort();

  await t.test('--cascade=background: the owner goes at once, then its dependents', async (t) => {
    await ownerWithDependents('bg', 'bg', 3);
    t.same(await namesIn('bg'), ['configmap/bg-0', 'configmap/bg-1', 'configmap/bg-2']);
    t.match((await k(['delete', 'deploy', 'bg', '--cascade=background'])).out, 'deployment.apps "bg" deleted');
    t.match((await k(['get', 'deploy', 'bg'], { allowFail: true })).err, /NotFound/);
    await until('the dependents to be collected', async () => (await namesIn('bg')).length === 0, 60_000);
    t.pass('dependents collected');
  });

  await t.test('--cascade=foreground: the owner stays until its blocking dependents are gone', async (t) => {
    // bg-0 holds on to its own finalizer, so the owner must wait for us to release it.
    await ownerWithDependents('fg', 'fg', 2, '  finalizers: [example.com/hold]\n');
    await k(['delete', 'deploy', 'fg', '--cascade=foreground', '--wait=false']);
    const held = await until('the held dependent to be marked for deletion', async () => {
      const cm = JSON.parse((await k(['get', 'configmap', 'fg-0', '-o', 'json'])).out);
      return cm.metadata.deletionTimestamp ? cm : null;
    }, 60_000);
    t.same(held.metadata.finalizers, ['example.com/hold']);
    await until('the free dependent to be collected', async () => (await namesIn('fg')).length === 1, 60_000);
    const owner = JSON.parse((await k(['get', 'deploy', 'fg', '-o', 'json'])).out);
    t.same(owner.metadata.finalizers, ['foregroundDeletion'], 'the owner still waits on fg-0');
    t.ok(owner.metadata.deletionTimestamp);
    await k(['patch', 'configmap', 'fg-0', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await until('the owner to be deleted after its last dependent', async () =>
      /NotFound/.test((await k(['get', 'deploy', 'fg'], { allowFail: true })).err), 60_000);
    t.same(await namesIn('fg'), [], 'no dependent outlived the owner');

    // kubectl's default: wait for the owner to be gone, which means the dependents are gone first.
    await ownerWithDependents('fg2', 'fg2', 2);
    t.match((await k(['delete', 'deploy', 'fg2', '--cascade=foreground'])).out, 'deployment.apps "fg2" deleted');
    t.match((await k(['get', 'deploy', 'fg2'], { allowFail: true })).err, /NotFound/);
    t.same(await namesIn('fg2'), [], 'the dependents were gone before the owner');
  });

  await t.test('--cascade=orphan: the owner goes, dependents stay without the ownerReference', async (t) => {
    await ownerWithDependents('or', 'or', 2);
    t.match((await k(['delete', 'deploy', 'or', '--cascade=orphan'])).out, 'deployment.apps "or" deleted');
    t.match((await k(['get', 'deploy', 'or'], { allowFail: true })).err, /NotFound/);
    t.same(await namesIn('or'), ['configmap/or-0', 'configmap/or-1'], 'dependents stay');
    for (const name of ['or-0', 'or-1']) {
      const refs = (await k(['get', 'configmap', name, '-o', 'jsonpath={.metadata.ownerReferences}'])).out.trim();
      t.equal(refs, '', `${name} has no ownerReferences`);
    }
    // A plain object without dependents also disappears, as kubectl waits for.
    await k(['create', 'configmap', 'lonely']);
    t.match((await k(['delete', 'configmap', 'lonely', '--cascade=orphan'])).out, 'configmap "lonely" deleted');
    t.match((await k(['get', 'configmap', 'lonely'], { allowFail: true })).err, /NotFound/);
  });
}

for (const kind of ['etcd-3.4', 'kts-etcd'] as const) {
  t.test(`kubectl delete --cascade over ${kind}`, (t) => suite(t, kind));
}
