// The client library against the real thing: etcd 3.4 on free loopback ports and `bin/kts apiserver` over TLS,
// authenticated with an openssl-made client certificate (O=system:masters). Create/list/update/patch/delete,
// an informer that sees add/update/delete, and leader election between two electors on one Lease.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { CoreV1Event, V1ConfigMap, V1Lease, V1Namespace } from '@kubernetes/client-node';
import { ApiError } from '../../../api/errors.ts';
import { Informer } from '../../../client/informer.ts';
import { LeaderElector } from '../../../client/leaderelection.ts';
import { resources } from '../../../client/resources.ts';
import { watch } from '../../../client/watch.ts';
import { EventRecorder } from '../../../client/events.ts';
import { startCluster } from './fixtures/cluster.ts';
import { until } from '../../support/until.ts';

const cluster = await startCluster();
t.teardown(() => cluster.stop());
const client = cluster.client;

const ns = `client-it-${randomBytes(3).toString('hex')}`;
await client.create<V1Namespace>(resources.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
const cms = { ...resources.configmaps, namespace: ns };
const cm = (name: string, data: Record<string, string>, labels: Record<string, string> = {}): V1ConfigMap =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data });


t.test('create, get, list, update with a stale RV, patches, delete', async (t) => {
  const created = await client.create<V1ConfigMap>(cms, cm('one', { a: '1' }, { app: 'x' }), { fieldManager: 'client-it' });
  t.equal(created.metadata?.namespace, ns);
  t.ok(created.metadata?.uid);
  t.ok(created.metadata?.resourceVersion);

  const dup = await client.create(cms, cm('one', {})).catch((e: unknown) => e);
  t.ok(dup instanceof ApiError);
  t.equal((dup as ApiError).reason, 'AlreadyExists');
  t.equal((dup as ApiError).code, 409);

  await client.create(cms, cm('two', { b: '2' }));
  const list = await client.list<V1ConfigMap>(cms);
  t.same(list.items.map((c) => c.metadata?.name).sort(), ['one', 'two']);
  t.ok(list.metadata.resourceVersion, 'list carries a resourceVersion');
  const selected = await client.list<V1ConfigMap>(cms, { labelSelector: 'app=x' });
  t.same(selected.items.map((c) => c.metadata?.name), ['one']);
  const paged = await client.listAll<V1ConfigMap>(cms, { pageSize: 1 });
  t.same(paged.items.map((c) => c.metadata?.name).sort(), ['one', 'two'], 'pages of one');

  const got = await client.get<V1ConfigMap>({ ...cms, name: 'one' });
  const updated = await client.update<V1ConfigMap>({ ...cms, name: 'one' }, { ...got, data: { a: '2' } });
  t.same(updated.data, { a: '2' });
  const stale = await client.update({ ...cms, name: 'one' }, { ...got, data: { a: '3' } }).catch((e: unknown) => e);
  t.equal((stale as ApiError).reason, 'Conflict');
  t.match((stale as ApiError).message, /the object has been modified/);

  const merged = await client.patch<V1ConfigMap>({ ...cms, name: 'one' }, 'merge', { data: { m: 'y' } });
  t.same(merged.data, { a: '2', m: 'y' });
  const strategic = await client.patch<V1ConfigMap>({ ...cms, name: 'one' }, 'strategic', { metadata: { labels: { s: 'z' } } });
  t.equal(strategic.metadata?.labels?.s, 'z');
  const jsonPatched = await client.patch<V1ConfigMap>({ ...cms, name: 'one' }, 'json', [{ op: 'remove', path: '/data/m' }]);
  t.same(jsonPatched.data, { a: '2' });

  await client.delete({ ...cms, name: 'two' });
  const gone = await client.get({ ...cms, name: 'two' }).catch((e: unknown) => e);
  t.ok(gone instanceof ApiError);
  t.equal((gone as ApiError).reason, 'NotFound');
  t.equal((gone as ApiError).subject.name, 'two');
});

t.test('an informer sees add, update and delete, and its watch resumes from the last RV', async (t) => {
  const errors: unknown[] = [];
  const events: string[] = [];
  const inf = new Informer<V1ConfigMap>(client, { ...resources.configmaps, namespace: ns }, {
    labelSelector: 'informed=yes', onError: (e) => errors.push(e),
  });
  inf.addEventHandler({
    onAdd: (c) => events.push(`add ${c.metadata!.name}`),
    onUpdate: (o, c) => { if (o !== c) events.push(`update ${c.metadata!.name} ${JSON.stringify(c.data)}`); },
    onDelete: (c) => events.push(`delete ${c.metadata!.name}`),
  });
  t.teardown(() => inf.stop());
  await client.create(cms, cm('pre', { v: '0' }, { informed: 'yes' }));
  await client.create(cms, cm('ignored', { v: '0' }));
  inf.start();
  await inf.waitForSync();
  t.same(events, ['add pre']);
  await client.create(cms, cm('w', { v: '1' }, { informed: 'yes' }));
  await client.patch({ ...cms, name: 'w' }, 'merge', { data: { v: '2' } });
  await client.delete({ ...cms, name: 'pre' });
  await until('three watch events', () => events.length === 4, 30_000);
  t.same(events, ['add pre', 'add w', 'update w {"v":"2"}', 'delete pre']);
  t.same(inf.store.keys(), [`${ns}/w`]);
  t.equal(inf.store.getByName(ns, 'w')?.data?.v, '2');
  t.same(errors, []);
  t.equal(inf.stats.lists, 1);
});

t.test('watch() from a list RV yields only later changes, as JSON lines', async (t) => {
  const list = await client.list<V1ConfigMap>(cms);
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const ev of watch<V1ConfigMap>(client, cms, { resourceVersion: list.metadata.resourceVersion, signal: ac.signal })) {
      seen.push(`${ev.type} ${(ev.object as V1ConfigMap).metadata?.name}`);
      if (seen.length === 2) break;
    }
  })();
  await client.create(cms, cm('watched', {}));
  await client.delete({ ...cms, name: 'watched' });
  await done;
  t.same(seen, ['ADDED watched', 'DELETED watched']);
});

t.test('two electors on one Lease: one leads; on release the other takes over', async (t) => {
  const logs: Record<string, string[]> = { a: [], b: [] };
  const make = (id: 'a' | 'b') => {
    const abort = new AbortController();
    const elector = new LeaderElector({
      client, namespace: ns, name: 'election', identity: id,
      leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 200, releaseOnCancel: true,
      onStartedLeading: () => { logs[id]!.push('started'); },
      onStoppedLeading: () => { logs[id]!.push('stopped'); },
      onError: (e) => { logs[id]!.push(`error ${(e as Error).message}`); },
    });
    return { elector, abort, done: elector.run(abort.signal) };
  };
  const a = make('a');
  await until('a leads', () => a.elector.isLeader(), 30_000);
  const b = make('b');
  t.teardown(async () => {
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });
  await until('b observes a', () => b.elector.getLeader() === 'a', 30_000);
  t.notOk(b.elector.isLeader());
  const lease = await client.get<V1Lease>({ ...resources.leases, namespace: ns, name: 'election' });
  t.equal(lease.spec?.holderIdentity, 'a');
  t.equal(lease.spec?.leaseDurationSeconds, 3);

  a.abort.abort();
  await a.done;
  t.same(logs.a, ['started', 'stopped']);
  await until('b takes over', () => b.elector.isLeader(), 30_000);
  const taken = await client.get<V1Lease>({ ...resources.leases, namespace: ns, name: 'election' });
  t.equal(taken.spec?.holderIdentity, 'b');
  t.equal(taken.spec?.leaseTransitions, 1);
  t.same(logs.b, ['started']);
});

t.test('EventRecorder creates an Event and bumps its count on a repeat', async (t) => {
  const errors: unknown[] = [];
  const rec = new EventRecorder(client, { component: 'client-it', onError: (e) => errors.push(e) });
  const target = await client.create<V1ConfigMap>(cms, cm('evented', {}));
  rec.event(target, 'Normal', 'Tested', 'it works');
  rec.event(target, 'Normal', 'Tested', 'it works');
  await rec.flush();
  t.same(errors, []);
  const evs = (await client.list<CoreV1Event>({ ...resources.events, namespace: ns })).items.filter((e) => e.reason === 'Tested');
  t.equal(evs.length, 1);
  t.equal(evs[0]!.count, 2);
  t.equal(evs[0]!.involvedObject.uid, target.metadata?.uid);
});
