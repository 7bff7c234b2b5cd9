// The garbage collector in process against a real apiserver (`bin/kts apiserver` over etcd 3.4): background,
// foreground (with the order of deletions seen through a watch) and orphan deletion, owners that never existed,
// and odd ownerReferences that must not lead to wrong deletions.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { CoreV1Event, V1ConfigMap, V1Namespace, V1OwnerReference, V1PriorityClass, V1Secret } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import { RestClient } from '../../../client/rest.ts';
import { resources } from '../../../client/resources.ts';
import { watch } from '../../../client/watch.ts';
import { startGarbageCollector } from '../../../control/controllers/garbagecollector/standalone.ts';
import { startControlPlane } from '../harness/controlplane.ts';
import { until } from '../../support/until.ts';

const cp = await startControlPlane();
t.teardown(() => cp.stop());
const client = new RestClient({ server: cp.server, qps: 0 });
t.teardown(() => client.close());

const suffix = randomBytes(3).toString('hex');
const ns = `gc-${suffix}`;
const other = `gc-other-${suffix}`;
for (const name of [ns, other]) await client.create<V1Namespace>(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const cms = { ...resources.configmaps, namespace: ns };
const secrets = { ...resources.secrets, namespace: ns };

const ownerRef = (o: { metadata?: { name?: string; uid?: string } }, kind = 'ConfigMap', block?: boolean): V1OwnerReference => ({
  apiVersion: 'v1', kind, name: o.metadata!.name!, uid: o.metadata!.uid!, ...(block === undefined ? {} : { blockOwnerDeletion: block }),
});
const mkCm = (name: string, owners: unknown[] = [], labels: Record<string, string> = {}, namespace = ns) =>
  client.create<V1ConfigMap>({ ...resources.configmaps, namespace },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels, ...(owners.length ? { ownerReferences: owners as V1OwnerReference[] } : {}) } });
const getCm = async (name: string, namespace = ns): Promise<V1ConfigMap | null> => {
  try {
    return await client.get<V1ConfigMap>({ ...resources.configmaps, namespace, name });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return null;
    throw err;
  }
};
const gone = (name: string, namespace = ns) => until(`configmap ${namespace}/${name} to be deleted`, async () => (await getCm(name, namespace)) === null);

// Created before the collector starts: found through the initial list.
const neverExisted = await mkCm('pre-dangling', [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'no-such-owner', uid: 'b5a4f3e2-0000-4000-8000-000000000001' }]);

const logs: string[] = [];
const gc = startGarbageCollector(client, { workers: 2, log: (msg, f) => logs.push(`${msg} ${JSON.stringify(f ?? {})}`) });
t.teardown(() => gc.stop());
await gc.synced;

t.test('a dependent whose owner never existed is deleted (found by the initial list)', async (t) => {
  await gone(neverExisted.metadata!.name!);
  t.pass('deleted');
});

t.test('background: dependents go, one with another live owner stays and loses the dead reference', async (t) => {
  const owner = await mkCm('bg-owner');
  const keeper = await mkCm('bg-keeper');
  await mkCm('bg-dep', [ownerRef(owner)]);
  await client.create<V1Secret>(secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bg-secret', ownerReferences: [ownerRef(owner)] } });
  await mkCm('bg-shared', [ownerRef(owner), ownerRef(keeper)]);
  await client.delete({ ...cms, name: 'bg-owner' }, { propagationPolicy: 'Background' });
  t.equal(await getCm('bg-owner'), null, 'the owner goes at once');
  await gone('bg-dep');
  await until('the secret to be deleted', async () => {
    try {
      await client.get({ ...secrets, name: 'bg-secret' });
      return false;
    } catch (err) {
      return err instanceof ApiError && err.code === 404;
    }
  });
  const shared = await until('bg-shared to lose its reference to the deleted owner', async () => {
    const s = await getCm('bg-shared');
    return s && s.metadata?.ownerReferences?.length === 1 ? s : null;
  });
  t.equal(shared.metadata!.ownerReferences![0]!.uid, keeper.metadata!.uid, 'the live owner is kept');
  t.ok(await getCm('bg-keeper'));
});

t.test('foreground: dependents are deleted before the owner, deepest first', async (t) => {
  const root = await mkCm('fg-root', [], { tree: 'fg' });
  const mid = await mkCm('fg-mid', [ownerRef(root, 'ConfigMap', true)], { tree: 'fg' });
  await mkCm('fg-leaf', [ownerRef(mid, 'ConfigMap', true)], { tree: 'fg' });
  await mkCm('fg-loose', [ownerRef(root, 'ConfigMap', false)], { tree: 'fg' });
  const listed = await client.list<V1ConfigMap>(cms, { labelSelector: 'tree=fg' });
  const order: string[] = [];
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const watching = (async () => {
    for await (const ev of watch<V1ConfigMap>(client, cms, { resourceVersion: listed.metadata.resourceVersion, labelSelector: 'tree=fg', signal: abort.signal })) {
      if (ev.type === 'DELETED') order.push((ev.object as V1ConfigMap).metadata?.name ?? '');
    }
  })().catch(() => {});
  const pending = await client.delete<V1ConfigMap>({ ...cms, name: 'fg-root' }, { propagationPolicy: 'Foreground' });
  t.same(pending.metadata?.finalizers, ['foregroundDeletion'], 'the apiserver marks the owner and keeps it');
  await until('the whole tree to be deleted', () => ['fg-root', 'fg-mid', 'fg-leaf', 'fg-loose'].every((n) => order.includes(n)), 60_000,
    () => `deleted so far: ${order.join(', ')}\n${logs.slice(-20).join('\n')}`);
  abort.abort();
  await watching;
  t.ok(order.indexOf('fg-leaf') < order.indexOf('fg-mid'), `leaf before mid (${order.join(', ')})`);
  t.ok(order.indexOf('fg-mid') < order.indexOf('fg-root'), 'mid (blocking) before root');
});

t.test('orphan: the owner goes, dependents stay without the reference', async (t) => {
  const owner = await mkCm('or-owner');
  const keeper = await mkCm('or-keeper');
  await mkCm('or-dep1', [ownerRef(owner)]);
  await mkCm('or-dep2', [ownerRef(owner), ownerRef(keeper)]);
  const pending = await client.delete<V1ConfigMap>({ ...cms, name: 'or-owner' }, { propagationPolicy: 'Orphan' });
  t.same(pending.metadata?.finalizers, ['orphan'], 'the apiserver adds the orphan finalizer');
  t.ok(pending.metadata?.deletionTimestamp);
  await gone('or-owner');
  const d1 = await getCm('or-dep1');
  const d2 = await getCm('or-dep2');
  t.ok(d1, 'dependent 1 stays');
  t.same(d1?.metadata?.ownerReferences ?? [], [], 'and has no owner');
  t.same(d2?.metadata?.ownerReferences?.map((r) => r.uid), [keeper.metadata!.uid], 'dependent 2 keeps its other owner');
  // An owner without dependents also goes promptly.
  await mkCm('or-alone');
  await client.delete({ ...cms, name: 'or-alone' }, { propagationPolicy: 'Orphan' });
  await gone('or-alone');
});

t.test('a reference to an owner with the same name but another uid is dangling', async (t) => {
  const real = await mkCm('uid-owner');
  await mkCm('uid-dep', [{ ...ownerRef(real), uid: 'b5a4f3e2-0000-4000-8000-000000000002' }]);
  await mkCm('uid-good', [ownerRef(real)]);
  await gone('uid-dep');
  t.ok(await getCm('uid-good'), 'the correctly owned one stays');
  t.ok(await getCm('uid-owner'));
});

t.test('odd ownerReferences: nothing is deleted on a guess, and the collector keeps working', async (t) => {
  const dead = { apiVersion: 'v1', kind: 'ConfigMap', name: 'dead', uid: 'b5a4f3e2-0000-4000-8000-000000000003' };
  await mkCm('odd-nokind', [{ apiVersion: 'v1', name: 'x', uid: 'b5a4f3e2-0000-4000-8000-000000000004' }, dead]);
  await mkCm('odd-unknown', [{ apiVersion: 'example.com/v1', kind: 'Widget', name: 'w', uid: 'b5a4f3e2-0000-4000-8000-000000000005' }]);
  await mkCm('odd-nouid', [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'dead' }]);
  await mkCm('odd-self-placeholder');
  const self = (await getCm('odd-self-placeholder'))!;
  await client.patch({ ...cms, name: 'odd-self-placeholder' }, 'merge', { metadata: { ownerReferences: [ownerRef(self)] } });
  // A cluster-scoped object naming a namespaced owner cannot be resolved (upstream: reported, never collected).
  const anchor = await mkCm('odd-anchor');
  const pcName = `gc-pc-${suffix}`;
  await client.create<V1PriorityClass>(resources.priorityclasses, {
    apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', value: 10, metadata: { name: pcName, ownerReferences: [{ ...ownerRef(anchor), uid: 'b5a4f3e2-0000-4000-8000-000000000006' }] },
  });
  t.teardown(() => client.delete({ ...resources.priorityclasses, name: pcName }).catch(() => {}));
  // A control that proves the collector has looked at this batch: it must go.
  await mkCm('odd-control', [dead]);
  await gone('odd-control');
  await until('the collector to have processed the odd objects', () => gc.gc.stats.lookups > 0 && logs.some((l) => l.includes('unknown kind Widget')), 60_000, () => logs.join('\n'));
  for (const name of ['odd-nokind', 'odd-unknown', 'odd-nouid', 'odd-self-placeholder']) t.ok(await getCm(name), `${name} stays`);
  t.ok(await client.get({ ...resources.priorityclasses, name: pcName }), 'the cluster-scoped object stays');
  const events = await until('an OwnerRefInvalidNamespace event', async () => {
    const list = await client.list<CoreV1Event>({ ...resources.events, namespace: 'default' });
    return list.items.find((e) => e.reason === 'OwnerRefInvalidNamespace' && e.involvedObject.name === pcName);
  });
  t.equal(events.type, 'Warning');
});

t.test('a namespaced owner in another namespace is absent for the dependent (upstream: the dependent is collected)', async (t) => {
  const owner = await mkCm('x-owner', [], {}, other);
  await mkCm('x-dep', [ownerRef(owner)]);
  await gone('x-dep');
  t.ok(await getCm('x-owner', other), 'the owner elsewhere is untouched');
});

t.test('foreground deletion through a cycle of blocking references finishes', async (t) => {
  const a = await mkCm('cyc-a');
  const b = await mkCm('cyc-b', [ownerRef(a, 'ConfigMap', true)]);
  await client.patch({ ...cms, name: 'cyc-a' }, 'merge', { metadata: { ownerReferences: [ownerRef(b, 'ConfigMap', true)] } });
  await client.delete({ ...cms, name: 'cyc-a' }, { propagationPolicy: 'Foreground' });
  await gone('cyc-a');
  await gone('cyc-b');
  t.pass('both gone');
});

t.test('a deletion left pending while no collector ran is finished by the next one', async (t) => {
  await gc.stop();
  const owner = await mkCm('rs-owner');
  await mkCm('rs-dep', [ownerRef(owner)]);
  const pending = await client.delete<V1ConfigMap>({ ...cms, name: 'rs-owner' }, { propagationPolicy: 'Orphan' });
  t.same(pending.metadata?.finalizers, ['orphan']);
  t.ok(await getCm('rs-owner'), 'without a collector the owner waits on its orphan finalizer');
  const next = startGarbageCollector(client, { workers: 1 });
  t.teardown(() => next.stop());
  await next.synced;
  await gone('rs-owner');
  const dep = await getCm('rs-dep');
  t.ok(dep, 'the dependent stays');
  t.same(dep?.metadata?.ownerReferences ?? [], [], 'and was orphaned');
});
